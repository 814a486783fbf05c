"""One song-record API over synthetic songs and a tiny fake Slakh2100 tree; data commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
import yaml

from sideman.cli.main import main
from sideman.training.datasets import (
    STEMS,
    DatasetError,
    load_audio,
    mix_without,
    open_dataset,
    stem_is_silent,
    summarize,
)
from sideman.training.synth.dataset import SynthOptions, synthesize

SR = 44100


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "synth"
    synthesize(out, SynthOptions(seed=2, songs=2, seconds=3.0, sample_rate=SR,
                                 split_fractions=(0.5, 0.0, 0.5)), progress=False)
    return out


# ---- synthetic ---------------------------------------------------------------------------
def test_open_synthetic_dataset(synth_dir: Path) -> None:
    songs = open_dataset(synth_dir)
    assert [s.id for s in songs] == ["Track00000", "Track00001"]
    for song in songs:
        meta = json.loads((song.root / "metadata.json").read_text())
        assert song.source == "synth" and song.sample_rate == SR and song.duration == 3.0
        assert song.mix == song.root / "mix.wav"
        assert {s: p[0].name for s, p in song.stems.items()} == {s: f"{s}.wav" for s in STEMS}
        np.testing.assert_array_equal(song.beats, meta["beats"])
        np.testing.assert_array_equal(song.downbeats, meta["downbeats"])
        assert song.tempo == meta["tempo"] and song.meter == meta["meter"]
        assert song.chords[0][2] == meta["chords"][0][2] and song.split in ("train", "test")
    by_split = {s: [x.id for x in open_dataset(synth_dir, split=s)] for s in ("train", "test")}
    assert sorted(by_split["train"] + by_split["test"]) == ["Track00000", "Track00001"]
    assert open_dataset(synth_dir, split="valid") == []


def test_load_audio_ranges_and_resampling(synth_dir: Path) -> None:
    song = open_dataset(synth_dir)[0]
    full = load_audio(song, "mix")
    assert full.dtype == np.float32 and full.shape == (song.num_samples,)
    ref, _ = sf.read(song.mix, dtype="float32")
    np.testing.assert_array_equal(full, ref)
    part = load_audio(song, "mix", start=1.0, end=2.0)
    np.testing.assert_array_equal(part, full[SR: 2 * SR])
    # Outside the song reads as zeros, so windows before the start need no special case.
    edge = load_audio(song, "mix", start=-0.5, end=0.5)
    assert edge.shape == (SR,) and not np.any(edge[: SR // 2])
    np.testing.assert_array_equal(edge[SR // 2:], full[: SR // 2])
    tail = load_audio(song, "mix", start=2.5, end=4.0)
    assert tail.shape == (round(1.5 * SR),) and not np.any(tail[SR // 2:])
    down = load_audio(song, "mix", sr=16000, start=0.0, end=1.0)
    assert down.shape == (16000,) and down.dtype == np.float32
    assert load_audio(song, "drums", sr=48000).shape == (round(3.0 * 48000),)


def test_mix_without_is_the_sum_of_the_other_stems(synth_dir: Path) -> None:
    for song in open_dataset(synth_dir):
        mix = load_audio(song, "mix")
        for stem in STEMS:
            context = mix_without(song, stem)
            others = sum(load_audio(song, s) for s in STEMS if s != stem)
            np.testing.assert_array_equal(context, others)
            # Stems are 16-bit integers summed exactly: no rounding anywhere.
            np.testing.assert_array_equal(context + load_audio(song, stem), mix)
        win = mix_without(song, "drums", sr=22050, start=0.5, end=1.5)
        assert win.shape == (22050,)


def test_bad_requests_are_refused(synth_dir: Path, tmp_path: Path) -> None:
    song = open_dataset(synth_dir)[0]
    with pytest.raises(ValueError, match="unknown stem 'vocals'"):
        load_audio(song, "vocals")
    with pytest.raises(ValueError, match="unknown stem 'mix'"):
        mix_without(song, "mix")
    with pytest.raises(ValueError, match="start <= end"):
        load_audio(song, "bass", start=2.0, end=1.0)
    with pytest.raises(ValueError, match="unknown split"):
        open_dataset(synth_dir, split="validation-set")
    with pytest.raises(DatasetError, match="no data set found"):
        open_dataset(tmp_path)
    with pytest.raises(DatasetError, match="not a directory"):
        open_dataset(tmp_path / "nope")


# ---- Slakh2100 -----------------------------------------------------------------------------
def _tone(freq: float, seconds: float, amp: float) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _write_track(track: Path, stems: dict[str, dict], audio: dict[str, np.ndarray],
                 tempo: float, meter: tuple[int, int]) -> None:
    (track / "stems").mkdir(parents=True)
    (track / "MIDI").mkdir()
    for sid, x in audio.items():
        sf.write(track / "stems" / f"{sid}.flac", x, SR, subtype="PCM_16")
    mix = sum(audio.values())
    sf.write(track / "mix.flac", mix / max(1.0, np.abs(mix).max()), SR, subtype="PCM_16")
    meta = {"UUID": "fake", "audio_dir": "stems", "midi_dir": "MIDI", "stems": stems}
    (track / "metadata.yaml").write_text(yaml.safe_dump(meta))
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(meter[0], meter[1], 0.0))
    inst = pretty_midi.Instrument(program=33)
    inst.notes = [pretty_midi.Note(velocity=90, pitch=40, start=t, end=t + 0.2)
                  for t in np.arange(0, 4.0, 0.5)]
    pm.instruments.append(inst)
    pm.write(str(track / "all_src.mid"))


@pytest.fixture(scope="module")
def slakh_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slakh") / "slakh2100_flac_redux"

    def entry(cls: str, program: int, drum: bool = False, rendered: bool = True) -> dict:
        return {"inst_class": cls, "program_num": program, "is_drum": drum,
                "audio_rendered": rendered, "midi_saved": True, "plugin_name": "x.nkm"}

    stems = {
        "S00": entry("Piano", 0), "S01": entry("Bass", 33), "S02": entry("Drums", 0, True),
        "S03": entry("Guitar", 25), "S04": entry("Strings", 48), "S05": entry("Guitar", 29),
        "S06": entry("Guitar", 27, rendered=False), "S07": entry("Piano", 4),
    }
    audio = {"S00": _tone(440, 4, 0.1), "S01": _tone(55, 4, 0.2),
             "S02": _tone(3000, 4, 0.05), "S03": _tone(330, 4, 0.1),
             "S04": _tone(660, 4, 0.3), "S05": _tone(220, 4, 0.1)}
    # S06 is not rendered (no file); S07 claims to be rendered but its file is gone.
    _write_track(root / "train" / "Track00001", stems, audio, tempo=120, meter=(4, 4))
    _write_track(root / "test" / "Track01876",
                 {"S00": entry("Drums", 0, True), "S01": entry("Organ", 16)},
                 {"S00": _tone(2000, 4, 0.05), "S01": _tone(262, 4, 0.2)},
                 tempo=90, meter=(3, 4))
    return root


def test_slakh_groups_stems_into_the_four_classes(slakh_root: Path) -> None:
    songs = open_dataset(slakh_root)
    assert [(s.id, s.split) for s in songs] == [("Track00001", "train"), ("Track01876", "test")]
    song = songs[0]
    assert song.source == "slakh" and song.sample_rate == SR and song.duration == 4.0
    assert {s: [p.name for p in ps] for s, ps in song.stems.items()} == {
        "bass": ["S01.flac"], "drums": ["S02.flac"], "guitar": ["S03.flac", "S05.flac"],
        "piano": ["S00.flac"]}
    assert song.mix is None  # the mix is the sum of the four stems, strings left out
    assert [d["id"] for d in song.info["left_out"]] == ["S04"]
    assert {d["id"]: d["reason"].split(" ")[0] for d in song.info["skipped"]} == {
        "S06": "audio_rendered", "S07": "no"}

    def read(sid: str) -> np.ndarray:
        return sf.read(slakh_root / "train" / "Track00001" / "stems" / f"{sid}.flac",
                       dtype="float32")[0]

    guitar = load_audio(song, "guitar")
    np.testing.assert_array_equal(guitar, read("S03") + read("S05"))
    mix = load_audio(song, "mix")
    np.testing.assert_allclose(mix, read("S00") + read("S01") + read("S02") + read("S03")
                               + read("S05"), atol=1e-6)
    np.testing.assert_allclose(mix_without(song, "drums") + load_audio(song, "drums"), mix,
                               atol=1e-6)
    assert load_audio(song, "bass", start=1.0, end=1.5).shape == (SR // 2,)


def test_slakh_beats_come_from_the_midi(slakh_root: Path) -> None:
    song, other = open_dataset(slakh_root)
    np.testing.assert_allclose(song.beats, np.arange(0, 4.0, 0.5), atol=1e-9)
    np.testing.assert_allclose(song.downbeats, np.arange(0, 4.0, 2.0), atol=1e-9)
    assert song.tempo == pytest.approx(120.0) and song.meter == "4/4" and song.chords is None
    assert other.meter == "3/4" and other.tempo == pytest.approx(90.0, rel=1e-4)
    np.testing.assert_allclose(np.diff(other.downbeats), 2.0, atol=1e-5)
    # A class with no source reads as silence; an organ is not piano.
    assert other.stems["piano"] == () and stem_is_silent(other, "piano")
    assert not np.any(load_audio(other, "piano")) and not stem_is_silent(other, "drums")
    fast = open_dataset(slakh_root, annotations=False)
    assert fast[0].beats is None and fast[0].stems == song.stems


def test_slakh_split_folders_and_single_track(slakh_root: Path) -> None:
    assert [s.id for s in open_dataset(slakh_root, split="test")] == ["Track01876"]
    assert [s.id for s in open_dataset(slakh_root / "train")] == ["Track00001"]
    one = open_dataset(slakh_root / "train" / "Track00001")
    assert [(s.id, s.split) for s in one] == [("Track00001", "train")]
    summary = summarize(open_dataset(slakh_root))
    assert summary["songs"] == 2 and summary["meters"] == {"4/4": 1, "3/4": 1}
    assert summary["silent"]["piano"]["songs_without"] == 1
    assert summary["silent"]["guitar"]["songs_without"] == 1


def test_slakh_bad_metadata_is_reported(tmp_path: Path) -> None:
    track = tmp_path / "Track00009"
    track.mkdir()
    (track / "metadata.yaml").write_text("just a string\n")
    with pytest.raises(DatasetError, match="no 'stems' mapping"):
        open_dataset(tmp_path)


# ---- commands --------------------------------------------------------------------------------
def test_data_commands_end_to_end(tmp_path: Path, synth_dir: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli"
    assert main(["data", "synth", "--out", str(out), "--songs", "1", "--seed", "2",
                 "--seconds", "3", "--no-progress"]) == 0
    assert (out / "Track00000" / "stems" / "drums.wav").is_file()
    assert main(["data", "synth", "--out", str(out), "--songs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sideman data synth: error: ") and "cannot be extended" in err
    assert "seed 2 there, 0 here" in err and "--overwrite" in err
    assert main(["data", "synth", "--out", str(out), "--songs", "1",
                 "--split-fractions", "0.5,0.5", "--overwrite", "--no-progress"]) == 2
    assert "three numbers" in capsys.readouterr().err
    png = tmp_path / "song.png"
    summary = tmp_path / "summary.json"
    assert main(["data", "info", str(synth_dir), "--plot", str(png), "--song", "Track00001",
                 "--json", str(summary)]) == 0
    assert png.stat().st_size > 10_000
    assert json.loads(summary.read_text())["songs"] == 2
    report = tmp_path / "check.json"
    assert main(["data", "check", str(synth_dir), "--limit", "1", "--json", str(report)]) == 0
    result = json.loads(report.read_text())
    song = result["songs"][0]
    assert song["id"] == "Track00000" and set(song["rms_dbfs"]) == {*STEMS, "mix"}
    if song["drum_onset_offset_ms"]:
        assert abs(song["drum_onset_offset_ms"]["median"]) < 10.0
