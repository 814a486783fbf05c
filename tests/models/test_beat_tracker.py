"""The learned beat tracker: its weights on disk, its training data, a training run that
learns, the bar from its downbeats, and the shipped tracker on the demo song."""

from __future__ import annotations

import json
from pathlib import Path

import mir_eval
import numpy as np
import pytest
import soundfile as sf
import torch

from sideman.cli.main import main as cli_main
from sideman.models.beatnet import BeatNet, BeatNetConfig, BeatNetError, load_beat_net
from sideman.models.tempo import GridTracker, envelope_for, onset_envelope, pulse
from sideman.training.beat_tracker import SongFeatures, beat_targets, draw_batch

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = BeatNetConfig(n_mels=16, channels=8, dilations=(1, 2, 4), dropout=0.0)
SR = 22050
DEMO = Path(__file__).resolve().parents[2] / "max_patches" / "media" / "demo_input.wav"


def test_weights_round_trip_and_bad_directories_are_named(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = BeatNet(TINY)
    net.save(tmp_path / "net")
    again = load_beat_net(tmp_path / "net")
    audio = pulse(SR, 3.0, bpm=100)
    assert again.config == TINY
    np.testing.assert_allclose(again.activation(audio), net.activation(audio), atol=1e-6)
    assert again.activation(audio).shape == (2, audio.size // TINY.hop + 1)

    with pytest.raises(BeatNetError, match=r"model\.safetensors missing"):
        (tmp_path / "half").mkdir()
        (tmp_path / "half" / "config.json").write_text(json.dumps({"n_mels": 16}))
        load_beat_net(tmp_path / "half")
    with pytest.raises(BeatNetError, match="unknown beat tracker config keys"):
        (tmp_path / "net" / "config.json").write_text(json.dumps({"layers": 3}))
        load_beat_net(tmp_path / "net")
    (tmp_path / "net" / "config.json").write_text(json.dumps({"channels": 16}))
    with pytest.raises(BeatNetError, match=r"do not fit its config\.json"):
        load_beat_net(tmp_path / "net")


def test_envelope_choices() -> None:
    env, name = envelope_for("onsets", SR)
    assert (env, name) == (onset_envelope, "onsets")
    env, name = envelope_for("learned", SR)
    assert name == "learned" and env(pulse(SR, 3.0), SR).shape == (2, 3 * SR // 512 + 1)
    env, name = envelope_for("learned", 44100)  # the shipped net is for 22 050 Hz
    assert env is onset_envelope and name.startswith("onsets (the learned tracker is for")
    with pytest.raises(BeatNetError, match="no beat tracker in"):
        envelope_for("/nonexistent/tracker", SR)


def test_targets_mark_each_beat_and_its_neighbours() -> None:
    config = BeatNetConfig()
    frame = config.hop / config.sample_rate
    target = beat_targets([10 * frame, 20.2 * frame, 99 * frame], [10 * frame], 50, config)
    assert target.shape == (2, 50)
    assert np.flatnonzero(target[0] == 1.0).tolist() == [10, 20]
    assert np.flatnonzero(target[0] == 0.5).tolist() == [9, 11, 19, 21]
    assert np.flatnonzero(target[1] == 1.0).tolist() == [10]
    assert target[1].sum() == 2.0


def test_batches_mix_stems_and_lead_silence_has_no_beats() -> None:
    rng = np.random.default_rng(0)
    power = rng.random((4, 16, 300)).astype(np.float32)
    target = np.zeros((2, 300), np.float32)
    target[0, ::20] = 1.0
    song = SongFeatures("s", power, target)
    mels, targets = draw_batch([song], 64, 128, np.random.default_rng(1))
    assert mels.shape == (64, 16, 128) and targets.shape == (64, 2, 128)
    silent_lead = (mels[:, :, 0] == 0).all(dim=1)
    assert 0 < int(silent_lead.sum()) < 64  # some crops start with silence, not all
    assert (targets[silent_lead][:, :, 0] == 0).all()
    assert torch.isfinite(mels).all() and mels.max() > 0


def _click_set(root: Path, bpms: list[float], seconds: float = 8.0) -> Path:
    """Songs whose every stem clicks on each beat (tempo per song), beats annotated."""
    for index, bpm in enumerate(bpms):
        track = root / f"Track{index:05d}"
        (track / "stems").mkdir(parents=True)
        first = 0.1 + 0.05 * index
        click = pulse(SR, seconds, bpm=bpm, first=first)
        stems = {name: click for name in ("bass", "drums", "guitar", "piano")}
        for name, audio in stems.items():
            sf.write(track / "stems" / f"{name}.wav", audio, SR, subtype="FLOAT")
        sf.write(track / "mix.wav", sum(stems.values()), SR, subtype="FLOAT")
        beats = list(np.arange(first, seconds, 60.0 / bpm))
        meta = {"id": track.name, "index": index,
                "split": "valid" if index == len(bpms) - 1 else "train", "sample_rate": SR,
                "duration": seconds, "beats": beats, "downbeats": beats[::4],
                "tempo": bpm, "meter": "4/4", "beats_per_bar": 4, "chords": [],
                "files": {"mix": "mix.wav", "stems": {s: f"stems/{s}.wav" for s in stems}}}
        (track / "metadata.json").write_text(json.dumps(meta))
    (root / "index.json").write_text(json.dumps({
        "format": "sideman-synth", "songs": [{"id": f"Track{i:05d}"} for i in range(len(bpms))]}))
    return root


def test_train_beats_learns_where_the_beats_are(tmp_path: Path, capsys) -> None:
    data = _click_set(tmp_path / "data", [90.0, 110.0, 130.0, 150.0, 100.0])
    out = tmp_path / "run"
    code = cli_main(["train", "beats", "--data", str(data), "--out", str(out), "--steps", "150",
                     "--batch-size", "8", "--frames", "128", "--lr", "3e-3", "--warmup", "10",
                     "--valid-every", "150", "--checkpoint-every", "150", "--ema-decay", "0.9",
                     "--valid-songs", "1", "--tracker", "none", "--no-progress"])
    assert code == 0, capsys.readouterr()
    assert (out / "model" / "model.safetensors").is_file() and (out / "loss.png").is_file()
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    valid = [r for r in records if "valid_beat_f1" in r][-1]
    assert valid["valid_beat_f1"] > 0.9, valid

    # a tempo and phase it never saw: the activation peaks on the clicks, not between them
    net = load_beat_net(out / "model")
    clicks = pulse(SR, 6.0, bpm=120.0, first=0.27)
    beat = net.activation(clicks)[0]
    on = np.round((0.27 + np.arange(12) * 0.5) * SR / 512).astype(int)
    between = on[:-1] + round(0.25 * SR / 512)
    assert beat[on[1:-1]].mean() > 3 * beat[between[1:]].mean()


def test_bad_training_input_is_one_line(tmp_path: Path, capsys) -> None:
    code = cli_main(["train", "beats", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                     "--steps", "2"])
    err = capsys.readouterr().err
    assert code != 0 and "no data set found" in err and "Traceback" not in err


def _grid_f1(tracker: GridTracker, audio: np.ndarray, beats: np.ndarray) -> float:
    """Mean beat F1 of the tracked grid over the region a live w = 1 step at r = 0.125
    generates (0.74–1.49 s past the last sample heard), every second step from 6 s on."""
    window, hop = 256 * 512, 32 * 512
    scores = []
    for pos in range(window, audio.size - 2 * hop, hop):
        grid = tracker.update(audio[pos - window:pos], known=window, start=pos - window)
        if pos < 6 * SR or (pos // hop) % 2:
            continue
        start, end = pos + hop, pos + 2 * hop
        ref = beats[(beats >= start / SR) & (beats < end / SR)]
        if grid is None or not len(ref):
            scores.append(0.0)
            continue
        phase = np.floor(grid.beat_phase(np.arange(start, end), SR))
        found = (start + np.flatnonzero(np.diff(phase) > 0) + 1) / SR
        scores.append(mir_eval.beat.f_measure(ref, found))
    return float(np.mean(scores))


def test_the_shipped_tracker_finds_the_demo_songs_beat() -> None:
    import soxr

    from sideman.client import read_mono

    audio, rate = read_mono(DEMO)
    audio = soxr.resample(audio, rate, SR).astype(np.float32)
    rows = [line.split() for line in DEMO.with_suffix(".beats.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    beats = np.array([float(r[0]) for r in rows])
    learned = _grid_f1(GridTracker(SR, envelope=envelope_for("learned", SR)[0]), audio, beats)
    onsets = _grid_f1(GridTracker(SR), audio, beats)
    print(f"grid beat F1 over the region: learned {learned:.3f}, onsets {onsets:.3f}")
    assert learned >= 0.8 and learned >= onsets


def test_the_default_model_tracks_with_the_learned_tracker(default_model, tmp_path: Path
                                                           ) -> None:
    from sideman.models.base import GeneratorError
    from sideman.models.pipeline import load_pipeline

    assert default_model.beat_tracker == "learned"
    assert load_pipeline("default", beat_tracker="onsets").beat_tracker == "onsets"
    with pytest.raises(GeneratorError, match=r"beat_tracker .*no beat tracker in"):
        load_pipeline("default", beat_tracker=str(tmp_path))


@pytest.mark.parametrize(("meter", "offset"), [(4, 0), (4, 3), (3, 1), (2, 1)])
def test_the_bar_comes_from_the_downbeat_activation(meter: int, offset: int) -> None:
    from sideman.models.tempo import bar_of

    period, anchor = 20.0, 300.0  # a beat every 20 frames, the last at frame 300
    downbeat = np.full(320, 0.05, np.float32)
    lines = np.arange(0, -16, -1)
    downbeat[(anchor + lines[(-lines) % meter == offset] * period).astype(int)] = 0.9
    assert bar_of(downbeat, anchor, period) == (meter, offset)
    # the last beat is the offset-th of its bar: the grid says so
    assert bar_of(np.full(320, 0.05, np.float32), anchor, period) is None  # nothing to tell
    assert bar_of(downbeat[:150], 120.0, period) is None  # under two bars of 4


def test_a_tracked_grid_carries_the_bar_a_learned_envelope_marks() -> None:
    from sideman.models.tempo import grid_from_envelope

    frames, period = 400, 20
    envelope = np.zeros((2, frames), np.float32)
    envelope[0, 5::period] = 1.0
    envelope[1, 5 + period::3 * period] = 1.0  # bars of 3, the second beat starts one
    grid = grid_from_envelope(envelope, SR, start=0)
    assert grid is not None and abs(grid.bpm - 60 * SR / (period * 512)) < 1.0
    beat = (grid.beat_position / 512 - 5) / period  # the anchor's beat number
    assert abs(beat - round(beat)) < 0.05
    assert (grid.beats_per_bar, grid.beat_in_bar) == (3, (round(beat) - 1) % 3)
    only_beats = grid_from_envelope(envelope[0], SR, start=0, beats_per_bar=4)
    assert only_beats is not None and (only_beats.beats_per_bar, only_beats.beat_in_bar) == (4, 0)
