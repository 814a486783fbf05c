"""Synthetic songs: exact ground truth, sample-accurate rendering, determinism, variety."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from dataclasses import replace
from pathlib import Path

import mido
import mir_eval
import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from sideman.training.synth.compose import PPQ, compose_song, plan_song
from sideman.training.synth.dataset import SynthOptions, soundfont_of, split_of, synthesize
from sideman.training.synth.render import (
    RENDER_RATE,
    mix_down,
    render_midi,
    resample,
    soundfont_path,
)
from sideman.training.synth.styles import METERS, STEMS, STYLES

SEED = 3
SECONDS = 4.0
SR = 44100
METADATA_KEYS = {
    "format", "version", "id", "index", "seed", "split", "sample_rate", "duration",
    "num_samples", "style", "meter", "beats_per_bar", "swing", "tempo", "tempo_curve",
    "beat_bpm", "key", "mode", "programs", "program_names", "midi_channels", "sections",
    "silent", "silent_stems", "note_counts", "beats", "downbeats", "chords", "midi", "render",
    "files", "gains", "levels_dbfs", "peak_dbfs",
}


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    synthesize(out, SynthOptions(seed=SEED, songs=2, seconds=SECONDS, sample_rate=SR),
               jobs=2, progress=False)
    return out


# ---- rendering is sample-accurate ----------------------------------------------------------
def _one_note_midi(note_seconds: float,
                   tempo_change_at: float | None = None) -> tuple[bytes, float]:
    """A drum hit (side stick) at ``note_seconds``, optionally after a tempo change."""
    mid = mido.MidiFile(ticks_per_beat=PPQ)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    tick, t = 0, 0.0
    if tempo_change_at is not None:
        change = round(tempo_change_at / 0.5 * PPQ)
        track.append(mido.MetaMessage("set_tempo", tempo=400000, time=change))
        tick, t = change, change * 0.5 / PPQ
        per_tick = 0.4 / PPQ
    else:
        per_tick = 0.5 / PPQ
    note_tick = tick + round((note_seconds - t) / per_tick)
    track.append(mido.Message("note_on", channel=9, note=37, velocity=110,
                              time=note_tick - tick))
    track.append(mido.Message("note_off", channel=9, note=37, velocity=0, time=PPQ // 4))
    buf = io.BytesIO()
    mid.save(file=buf)
    exact = pretty_midi.PrettyMIDI(io.BytesIO(buf.getvalue())).instruments[0].notes[0].start
    return buf.getvalue(), exact


@pytest.mark.parametrize(("at", "change"), [(1.0, None), (1.2345, None), (2.4321, 2.0)])
def test_rendered_onset_lands_on_the_midi_time(at: float, change: float | None) -> None:
    midi, exact = _one_note_midi(at, change)
    sf2 = soundfont_path().read_bytes()
    audio48 = render_midi(midi, sf2, round(4.0 * RENDER_RATE))
    audio = resample(audio48, RENDER_RATE, SR, round(4.0 * SR))
    for signal, rate in ((audio48, RENDER_RATE), (audio, SR)):
        env = np.abs(signal)
        onset = int(np.argmax(env > env.max() * 0.01)) / rate
        # The renderer quantises events to 64-sample blocks (±0.67 ms after compensation);
        # the side stick's attack adds well under a millisecond.
        assert abs(onset - exact) < 0.002, (rate, onset, exact)
    # Nothing before the note but the resampler's pre-ringing far below hearing (-120 dB).
    assert np.abs(audio[: round((exact - 0.005) * SR)]).max() < 1e-6


def test_mix_down_is_exact_sum_and_never_clips() -> None:
    rng = np.random.default_rng(0)
    n = SR
    stems = {s: rng.normal(0, 0.3, n).astype(np.float32) for s in STEMS}
    stems["guitar"][:] = 0.0
    res = mix_down(stems, SR, np.random.default_rng(1))
    total = sum(res.stems[s].astype(np.int32) for s in STEMS)
    assert np.array_equal(total, res.mix.astype(np.int32))
    assert np.abs(res.mix).max() < 32767 and res.peak_db is not None and res.peak_db <= -1.0
    assert not np.any(res.stems["guitar"]) and res.levels_db["guitar"] is None
    assert all(res.stems[s].dtype == np.int16 for s in STEMS)


# ---- determinism and layout ----------------------------------------------------------------
def test_same_seed_gives_bit_identical_files_whatever_jobs_or_count(dataset: Path,
                                                                    tmp_path: Path) -> None:
    again = tmp_path / "again"
    synthesize(again, SynthOptions(seed=SEED, songs=2, seconds=SECONDS, sample_rate=SR),
               jobs=1, progress=False)
    assert _hashes(again) == _hashes(dataset)
    first_only = tmp_path / "one"
    synthesize(first_only, SynthOptions(seed=SEED, songs=1, seconds=SECONDS, sample_rate=SR),
               jobs=1, progress=False)
    assert _hashes(first_only / "Track00000") == _hashes(dataset / "Track00000")
    other = compose_song(SEED + 1, 0, SECONDS)
    assert other.midi_bytes() != (dataset / "Track00000" / "song.mid").read_bytes()


def test_a_set_is_extended_with_the_same_options(dataset: Path, tmp_path: Path) -> None:
    grown = tmp_path / "grown"
    options = SynthOptions(seed=SEED, songs=1, seconds=SECONDS, sample_rate=SR)
    synthesize(grown, options, progress=False)
    (grown / "latents").mkdir()  # what `data cache` puts there is kept
    (grown / "latents" / "cache.json").write_text("{}")
    index = synthesize(grown, replace(options, songs=2), jobs=2, progress=False)
    assert [e["id"] for e in index["songs"]] == ["Track00000", "Track00001"]
    assert (grown / "latents" / "cache.json").read_text() == "{}"
    for song in ("Track00000", "Track00001"):
        assert _hashes(grown / song) == _hashes(dataset / song)
    assert (grown / "index.json").read_bytes() == (dataset / "index.json").read_bytes()
    assert synthesize(grown, replace(options, songs=2), progress=False) == index  # nothing new
    with pytest.raises(FileExistsError, match=r"cannot be extended .*seed"):
        synthesize(grown, replace(options, seed=SEED + 1, songs=3), progress=False)
    with pytest.raises(FileExistsError, match="it has 2 songs, more than 1"):
        synthesize(grown, options, progress=False)


def test_layout_and_metadata_schema(dataset: Path) -> None:
    index = json.loads((dataset / "index.json").read_text())
    assert index["format"] == "sideman-synth" and index["stems"] == list(STEMS)
    assert index["params"] == {"seed": SEED, "songs": 2, "seconds": SECONDS, "sample_rate": SR,
                               "split_fractions": [0.8, 0.1, 0.1], "style": None,
                               "soundfonts": []}
    assert [e["id"] for e in index["songs"]] == ["Track00000", "Track00001"]
    for entry in index["songs"]:
        track = dataset / entry["id"]
        meta = json.loads((track / "metadata.json").read_text())
        assert set(meta) == METADATA_KEYS
        assert meta["split"] == entry["split"] == split_of(SEED, entry["index"], (0.8, 0.1, 0.1))
        n = round(SECONDS * SR)
        assert meta["num_samples"] == n
        ints = {}
        for name in ["mix", *(f"stems/{s}" for s in STEMS)]:
            info = sf.info(str(track / f"{name}.wav"))
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (
                SR, 1, n, "PCM_16")
            ints[name] = sf.read(track / f"{name}.wav", dtype="int16")[0].astype(np.int32)
        # The mix is exactly the sum of the stems, so mix - stem is the other stems' sum.
        assert np.array_equal(ints["mix"], sum(ints[f"stems/{s}"] for s in STEMS))
        for stem in STEMS:
            has_audio = bool(np.any(ints[f"stems/{stem}"]))
            assert has_audio == (stem not in meta["silent_stems"]), stem
            assert (meta["note_counts"][stem] == 0) == (stem in meta["silent_stems"])
        # Sections tile the music, chords tile the music and carry MIREX labels.
        secs = meta["sections"]
        assert secs[0]["start"] == 0.0
        assert all(a["end"] == b["start"] for a, b in itertools.pairwise(secs))
        chords = meta["chords"]
        assert chords[0][0] == 0.0
        assert all(a[1] == b[0] for a, b in itertools.pairwise(chords))

        for _, _, label in chords:
            mir_eval.chord.encode(label)  # raises on a malformed label


def test_metadata_beats_are_the_midi_beats(dataset: Path) -> None:
    for track in sorted(dataset.glob("Track*")):
        meta = json.loads((track / "metadata.json").read_text())
        pm = pretty_midi.PrettyMIDI(str(track / "song.mid"))
        beats, downbeats = np.asarray(meta["beats"]), np.asarray(meta["downbeats"])
        pm_beats, pm_down = pm.get_beats(), pm.get_downbeats()
        n = min(len(beats), len(pm_beats))
        assert n >= len(beats) - meta["beats_per_bar"]
        np.testing.assert_allclose(beats[:n], pm_beats[:n], atol=1e-6, rtol=0)
        m = min(len(downbeats), len(pm_down))
        np.testing.assert_allclose(downbeats[:m], pm_down[:m], atol=1e-6, rtol=0)
        assert np.allclose(beats[:: meta["beats_per_bar"]], downbeats, atol=1e-9)
        assert pm.time_signature_changes[0].numerator == METERS[meta["meter"]].numerator
        np.testing.assert_allclose(60.0 / np.diff(beats).mean(), meta["tempo"], rtol=0.05)


# ---- composition: coherence and variety (no rendering) -------------------------------------
@pytest.fixture(scope="module")
def songs():
    return [compose_song(11, i, 30.0) for i in range(30)]


def test_composition_has_real_variety(songs) -> None:
    plans = [c.plan for c in songs]
    tempi = [p.bpm for p in plans]
    assert min(tempi) < 80 and max(tempi) > 145, tempi
    assert {p.meter.name for p in plans} == set(METERS)
    assert any(p.swing != 0.5 for p in plans) and any(p.swing == 0.5 for p in plans)
    assert len({p.mode for p in plans}) >= 3 and len({p.tonic for p in plans}) >= 6
    assert len({p.style.name for p in plans}) >= 8
    for stem in ("bass", "guitar", "piano"):
        assert len({p.programs[stem] for p in plans}) >= 4, stem
    assert len({p.programs["drums"] for p in plans}) >= 3
    assert any(p.tempo_curve == "drift" for p in plans)
    # Arrangement: stems drop out for sections, some songs lack a stem, fills happen.
    assert any(len(s.active) < 4 for p in plans for s in p.sections)
    assert any(c.silent_stems() for c in songs)
    assert sum(s.fill for p in plans for s in p.sections) > 20
    assert all(len(p.sections) >= 3 for p in plans)
    names = {s.name for p in plans for s in p.sections}
    assert {"intro", "verse", "chorus", "bridge", "outro"} <= names
    # Humanised: onsets are not all on the tick grid of sixteenth notes, velocities vary.
    notes = [n for c in songs for n in c.parts["drums"]]
    assert len({n.velocity for n in notes}) > 40
    assert np.mean([n.start % (PPQ // 4) != 0 for n in notes]) > 0.5


def test_beats_match_pretty_midi_for_every_meter_and_tempo_curve(songs) -> None:
    kinds = set()
    for comp in songs:
        plan = comp.plan
        pm = comp.pretty_midi()
        ours, theirs = plan.beat_times(), pm.get_beats()
        n = min(len(ours), len(theirs))
        assert n >= len(ours) - plan.beats_per_bar
        np.testing.assert_allclose(ours[:n], theirs[:n], atol=1e-9, rtol=0)
        down, pm_down = plan.downbeat_times(), pm.get_downbeats()
        m = min(len(down), len(pm_down))
        np.testing.assert_allclose(down[:m], pm_down[:m], atol=1e-9, rtol=0)
        # Music fills whole bars that fit in the song; the rest is the final ring-out.
        end = plan.tick_to_seconds(plan.n_bars * plan.ticks_per_bar)
        assert end <= plan.seconds + 1e-9
        kinds.add((plan.meter.name, plan.tempo_curve))
    assert {("4/4", "drift"), ("4/4", "constant"), ("6/8", "constant"),
            ("3/4", "constant")} <= kinds


def test_drums_mark_the_beats_and_bass_plays_the_roots(songs) -> None:
    for comp in songs:
        plan = comp.plan
        beats = plan.beat_times()
        bpb = plan.beats_per_bar
        drum_onsets = comp.note_onsets("drums")
        if len(drum_onsets):
            ending = plan.n_bars - 1 if plan.sections[-1].name == "outro" else plan.n_bars
            with_drums = [b for i, b in enumerate(beats) if "drums" in _section_at(
                plan, i // bpb).active and not _in_fill(plan, i) and i // bpb < ending]
            near = [np.min(np.abs(drum_onsets - b)) < 0.03 for b in with_drums]
            assert np.mean(near) > 0.9, (plan.style.name, np.mean(near))
        bass = sorted(comp.parts["bass"], key=lambda n: n.start)
        hits = total = 0
        for span in plan.chords:
            if "bass" not in _section_at(plan, int(span.start // bpb)).active:
                continue
            t0 = span.start * plan.ticks_per_beat - plan.ticks_per_second(0) * 0.03
            first = next((n for n in bass if n.start >= t0), None)
            if first is None or first.start > (span.end * plan.ticks_per_beat):
                continue
            total += 1
            hits += first.pitch % 12 == span.chord.root
        assert total == 0 or hits / total > 0.9, (plan.style.name, hits, total)


def test_chord_instruments_play_chord_tones(songs) -> None:
    inside = total = 0
    for comp in songs:
        plan = comp.plan
        for stem in ("guitar", "piano"):
            for n in comp.parts[stem]:
                beat = n.start / plan.ticks_per_beat
                total += 1
                inside += n.pitch % 12 in plan.chord_at(beat + 0.05).chord.pitch_classes
    assert inside / total > 0.85, inside / total


def _section_at(plan, bar: int):
    return next(s for s in plan.sections if s.start_bar <= bar < s.end_bar)


def _in_fill(plan, beat_index: int) -> bool:
    bar = beat_index // plan.beats_per_bar
    sec = _section_at(plan, bar)
    return sec.fill and bar == sec.end_bar - 1


# ---- options and errors --------------------------------------------------------------------
def test_splits_depend_only_on_seed_and_index() -> None:
    splits = [split_of(5, i, (0.8, 0.1, 0.1)) for i in range(200)]
    assert splits[:50] == [split_of(5, i, (0.8, 0.1, 0.1)) for i in range(50)]
    counts = {s: splits.count(s) for s in ("train", "valid", "test")}
    assert 150 <= counts["train"] <= 170 and 12 <= counts["valid"] <= 28
    assert splits != [split_of(6, i, (0.8, 0.1, 0.1)) for i in range(200)]
    assert set(split_of(5, i, (1.0, 0.0, 0.0)) for i in range(50)) == {"train"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seed": -1}, "seed"), ({"songs": 0}, "songs"), ({"seconds": 0.5}, "seconds"),
    ({"sample_rate": 100}, "sample_rate"), ({"split_fractions": (0.5, 0.2, 0.2)}, "fractions"),
])
def test_bad_options_are_refused(kwargs: dict, message: str) -> None:
    args = {"seed": 0, "songs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        SynthOptions(**args)


def test_unknown_style_and_nonempty_output_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown style"):
        plan_song(0, 0, 10.0, style="polka")
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        synthesize(tmp_path, SynthOptions(seed=0, songs=1, seconds=2.0), progress=False)
    with pytest.raises(FileExistsError, match="not a synthetic data set"):
        synthesize(tmp_path, SynthOptions(seed=0, songs=1, seconds=2.0), overwrite=True,
                   progress=False)
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_composes_in_its_meter(style: str) -> None:
    comp = compose_song(2, 0, 20.0, style=style)
    assert comp.plan.meter.name == STYLES[style].meter
    lo, hi = STYLES[style].bpm
    assert lo - 0.5 <= comp.plan.bpm <= hi + 0.5
    assert sum(len(v) for v in comp.parts.values()) > 0
    pm = comp.pretty_midi()
    assert {i.name for i in pm.instruments} <= set(STEMS)
    assert all(i.is_drum == (i.name == "drums") for i in pm.instruments)


def test_several_soundfonts_are_picked_per_song_and_recorded(dataset: Path,
                                                             tmp_path: Path) -> None:
    """Each song takes one of the given soundfonts by (seed, index); the audio is what that
    soundfont renders (here copies of TimGM6mb: the default's bytes), and it is recorded."""
    fonts = []
    for name in ("alpha.sf2", "beta.sf2"):
        path = tmp_path / name
        path.write_bytes(soundfont_path().read_bytes())
        fonts.append(str(path))
    options = SynthOptions(seed=SEED, songs=2, seconds=SECONDS, sample_rate=SR,
                           soundfonts=tuple(fonts))
    picks = [soundfont_of(options, i).name for i in range(40)]
    assert set(picks) == {"alpha.sf2", "beta.sf2"}  # both in use
    assert picks == [soundfont_of(options, i).name for i in range(40)]  # by (seed, index)
    out = tmp_path / "ds"
    index = synthesize(out, options, progress=False)
    assert index["params"]["soundfonts"] == ["alpha.sf2", "beta.sf2"]
    for entry in index["songs"]:
        meta = json.loads((out / entry["id"] / "metadata.json").read_text())
        assert meta["render"]["soundfont"] == entry["soundfont"] == picks[entry["index"]]
        for name in ["mix.wav", *(f"stems/{s}.wav" for s in STEMS)]:
            assert (out / entry["id"] / name).read_bytes() == \
                (dataset / entry["id"] / name).read_bytes()
    assert soundfont_of(SynthOptions(seed=SEED, songs=1), 0) == soundfont_path()
    with pytest.raises(ValueError, match=r"soundfont .* is not a file"):
        SynthOptions(seed=SEED, songs=1, soundfonts=(str(tmp_path / "none.sf2"),))
    # the bundled one by its bare name (as the recipes write it) is pretty_midi's copy
    named = SynthOptions(seed=SEED, songs=1, soundfonts=("TimGM6mb.sf2", fonts[0]))
    assert named.soundfonts == (str(soundfont_path()), fonts[0])


def test_a_soundfont_3_or_a_non_soundfont_is_refused_before_rendering(tmp_path: Path) -> None:
    """The renderer cannot read SoundFont 3 (Ogg samples; Debian's musescore-general-soundfont
    is one) and failed with a traceback inside a worker: the options now refuse it, and any
    file that is not a RIFF sfbk, in one line that names the file and what is allowed."""
    def riff(major: int) -> bytes:
        ifil = b"ifil" + (4).to_bytes(4, "little") + major.to_bytes(2, "little") + b"\0\0"
        info = b"INFO" + ifil
        body = b"sfbk" + b"LIST" + len(info).to_bytes(4, "little") + info
        return b"RIFF" + len(body).to_bytes(4, "little") + body

    sf3, junk, sf2 = tmp_path / "ms.sf3", tmp_path / "junk.sf2", tmp_path / "ok.sf2"
    sf3.write_bytes(riff(3))
    junk.write_bytes(b"not a soundfont at all, just text" * 4)
    sf2.write_bytes(riff(2))
    with pytest.raises(ValueError, match=r"ms\.sf3 is SoundFont 3.*give SoundFont 2 \(\.sf2\)"):
        SynthOptions(seed=SEED, songs=1, soundfonts=(str(sf3),))
    with pytest.raises(ValueError, match=r"junk\.sf2 is not a SoundFont"):
        SynthOptions(seed=SEED, songs=1, soundfonts=(str(junk),))
    SynthOptions(seed=SEED, songs=1, soundfonts=(str(sf2),))  # the header is all it checks
    assert SynthOptions(seed=SEED, songs=1,
                        soundfonts=(str(soundfont_path()),)).soundfonts  # the real one passes
