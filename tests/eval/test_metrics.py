"""Evaluation metrics on constructed signals whose answers are known."""

from __future__ import annotations

import math
import sys
import types
import warnings

import numpy as np
import pytest
from scipy import linalg

from sideman.eval import metrics as M

SR = 22050


def click_train(times: np.ndarray, duration: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Short decaying noise bursts (10 ms) starting at ``times``."""
    rng = np.random.default_rng(seed)
    out = np.zeros(round(duration * sr), np.float32)
    n = sr // 100
    burst = (rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 7))).astype(np.float32)
    for t in times:
        i = round(t * sr)
        if 0 <= i < out.size:
            out[i:i + n] += burst[: out.size - i]
    return out


def grid(bpm: float, duration: float, offset: float = 0.25) -> np.ndarray:
    return np.arange(offset, duration - 0.05, 60.0 / bpm)


def tone(midi: list[int], duration: float, sr: int = SR) -> np.ndarray:
    t = np.arange(round(duration * sr)) / sr
    out = sum(np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in midi)
    return (0.3 * out / len(midi)).astype(np.float32)


# -- beats ---------------------------------------------------------------------------------

# Edge cases of librosa's tracker alone (see DspBeatTracker.track): at 90 and 75 bpm over 12 s
# the last beat moved ~100 ms off the grid; at 160 bpm the first beat came 75 ms late.
# 44.1 kHz checks the resampling path.
@pytest.mark.parametrize(("bpm", "duration", "sr"), [(90, 12.0, SR), (120, 12.0, SR),
                                                     (160, 10.0, SR), (75, 12.0, 44100)])
def test_dsp_tracker_finds_every_click_of_a_click_track(bpm: int, duration: float,
                                                        sr: int) -> None:
    beats_true = grid(bpm, duration)
    audio = click_train(beats_true, duration, sr)
    tracked = M.track_beats(audio, sr)
    assert tracked.size == beats_true.size
    assert np.max(np.abs(tracked - beats_true)) < M.BEAT_WINDOW
    assert M.beat_f1(tracked, beats_true) == 1.0
    # 200 ms off the grid is outside the ±70 ms window for every beat.
    assert M.beat_f1(tracked, beats_true + 0.2) == 0.0
    shifted = M.track_beats(click_train(beats_true + 0.2, duration, sr), sr)
    assert M.beat_f1(shifted, beats_true) == 0.0


def test_silence_has_no_beats_and_scores_zero_without_warnings() -> None:
    beats_true = grid(120, 10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mir_eval and librosa warn on empty input
        for silent in (np.zeros(10 * SR, np.float32),
                       (np.random.default_rng(1).standard_normal(10 * SR) * 1e-5).astype(
                           np.float32)):  # -100 dBFS noise: still silence
            assert M.track_beats(silent, SR).size == 0
            assert M.detect_onsets(silent, SR).size == 0
        assert M.beat_f1(np.zeros(0), beats_true) == 0.0


def test_beats_in_a_silent_stretch_are_dropped() -> None:
    beats_true = grid(120, 15.0)
    audio = click_train(beats_true, 15.0)
    audio[: 6 * SR] = 0.0
    audio[12 * SR:] = 0.0
    tracked = M.track_beats(audio, SR)
    audible = beats_true[(beats_true >= 6.0) & (beats_true < 12.0)]
    assert tracked.size == audible.size
    assert M.beat_f1(tracked, audible) == 1.0


def test_beat_f1_follows_mir_eval_window_and_edge_cases() -> None:
    ref = np.arange(1.0, 11.0, 0.5)
    assert M.beat_f1(ref + 0.06, ref) == 1.0
    assert M.beat_f1(ref + 0.08, ref) == 0.0
    assert M.beat_f1(ref[::2], ref) == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert math.isnan(M.beat_f1(ref, np.zeros(0)))  # undefined: nothing to agree with
    # skip_seconds trims both sequences (mir_eval.beat.trim_beats)
    est = np.concatenate([ref[ref < 5.0] + 0.25, ref[ref >= 5.0]])
    assert M.beat_f1(est, ref) < 1.0
    assert M.beat_f1(est, ref, skip_seconds=5.0) == 1.0


# -- onsets --------------------------------------------------------------------------------

def test_onset_train_against_itself_and_shifted() -> None:
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(0.3, 0.6, size=20)) + 0.2  # every gap > 0.2 s + 50 ms
    duration = float(times[-1] + 0.5)
    audio = click_train(times, duration)
    detected = M.detect_onsets(audio, SR)
    assert M.onset_f_measure(detected, times) == 1.0
    assert M.onset_f_measure(times + 0.2, times) == 0.0
    shifted = click_train(times + 0.2, duration + 0.2)
    assert M.onset_f1(audio, audio, SR) == 1.0
    assert M.onset_f1(shifted, audio, SR) == 0.0
    assert M.onset_f1(np.zeros_like(audio), audio, SR) == 0.0
    assert math.isnan(M.onset_f1(audio, np.zeros_like(audio), SR))


# -- chroma --------------------------------------------------------------------------------

def test_chroma_agreement_same_chord_high_different_chord_low() -> None:
    c_major = tone([60, 64, 67], 3.0)
    c_major_voiced = tone([48, 64, 67, 72], 3.0)  # other octaves and voicing
    a_minor = tone([57, 60, 64], 3.0)  # shares C and E
    f_sharp = tone([54, 58, 61], 3.0)  # no shared pitch class
    same = M.chroma_agreement(c_major_voiced, c_major, SR)
    related = M.chroma_agreement(a_minor, c_major, SR)
    other = M.chroma_agreement(f_sharp, c_major, SR)
    assert same > 0.9
    assert other < 0.3
    assert same > related > other
    assert M.chroma_agreement(c_major, c_major, SR) == pytest.approx(1.0, abs=1e-5)
    assert M.chroma_agreement(np.zeros_like(c_major), c_major, SR) == 0.0
    assert math.isnan(M.chroma_agreement(c_major, np.zeros_like(c_major), SR))
    chroma_c, chroma_fs = M.chroma(c_major, SR), M.chroma(f_sharp, SR)
    assert M.chroma_profile_cosine(chroma_c, chroma_c) == pytest.approx(1.0, abs=1e-5)
    assert M.chroma_profile_cosine(chroma_fs, chroma_c) < 0.3


def test_chroma_counts_a_dropout_as_disagreement() -> None:
    c_major = tone([60, 64, 67], 4.0)
    half = c_major.copy()
    half[2 * SR:] = 0.0
    value = M.chroma_agreement(half, c_major, SR)
    assert 0.4 < value < 0.6  # agreement on the first half, zero on the silent half


# -- Fréchet distance ----------------------------------------------------------------------

def _frechet_sqrtm(a: np.ndarray, b: np.ndarray) -> float:
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(ca @ cb).real
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * np.trace(root))


def test_frechet_distance_identity_symmetry_and_textbook_formula() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((400, 6))
    b = rng.standard_normal((300, 6)) * 2.0 + 1.5
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    ab, ba = M.frechet_distance(a, b), M.frechet_distance(b, a)
    assert ab > 5.0
    assert ab == pytest.approx(ba, rel=1e-9)
    assert ab == pytest.approx(_frechet_sqrtm(a, b), rel=1e-6)
    # singular covariances (fewer rows than dimensions, a constant set) stay finite
    few = rng.standard_normal((4, 6))
    const = np.ones((5, 6))
    assert math.isfinite(M.frechet_distance(few, const))
    assert M.frechet_distance(const, const) == 0.0


def test_frechet_distance_rejects_bad_shapes() -> None:
    with pytest.raises(M.MetricError, match="equal dim"):
        M.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(M.MetricError, match=">= 2 embeddings"):
        M.frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))


def test_embedding_windows_shape_and_silence() -> None:
    audio = click_train(grid(120, 5.5), 5.5)
    emb = M.embed(audio, SR)
    assert emb.shape == (5, M.EMBED_DIM)  # five whole 1 s windows; the half second is dropped
    assert np.all(np.isfinite(emb))
    silent = M.embed(np.zeros(3 * SR, np.float32), SR)
    assert silent.shape == (3, M.EMBED_DIM) and np.all(np.isfinite(silent))
    assert M.embed(np.zeros(SR // 2, np.float32), SR).shape == (0, M.EMBED_DIM)
    # the same audio embeds to (nearly) the same point; clicks and chords to different ones
    chords = M.embed(tone([60, 64, 67], 5.5), SR)
    assert M.frechet_distance(emb, emb) == pytest.approx(0.0, abs=1e-9)
    assert M.frechet_distance(emb, chords) > 100 * M.frechet_distance(emb[:3], emb[2:]) + 1.0


# -- evaluate_stem -------------------------------------------------------------------------

def _song(duration: float = 12.0, bpm: float = 120.0):
    beats = grid(bpm, duration)
    stem = click_train(beats, duration, seed=1)
    # the context: other instruments on the same grid (a chord stab on each beat)
    stab = tone([60, 64, 67], 0.15)
    stab *= np.exp(-np.arange(stab.size) / (0.04 * SR)).astype(np.float32)
    context = np.zeros_like(stem)
    for t in beats:
        i = round(t * SR)
        context[i:i + stab.size] += stab[: context.size - i]
    return beats, stem, context


def test_evaluate_stem_references_behave() -> None:
    beats, stem, context = _song()
    other = click_train(grid(97, 9.0, offset=0.4), 9.0, seed=2)  # shorter: zero-padded
    result = M.evaluate_stem(stem, stem, context, SR, gt_beats=beats, other_song_stem=other,
                             other_generated=other)
    assert set(result) == {"span", "tracker", "skip_seconds", "metrics", "events"}
    assert list(result["metrics"]) == list(M.ENTRIES)
    for entry in M.ENTRIES:
        assert list(result["metrics"][entry]) == list(M.METRICS)
    # the listening control is scored against this song like the generated stem
    assert result["metrics"]["other_generated"] == result["metrics"]["other_song"]
    assert "other_generated" not in M.evaluate_stem(stem, stem, context, SR)["metrics"]
    truth, silence = result["metrics"]["ground_truth"], result["metrics"]["silence"]
    assert truth["beat_f1_context"] == 1.0 and truth["beat_f1_annotated"] == 1.0
    assert truth["onset_f1_stem"] == 1.0
    assert truth["chroma_stem"] == pytest.approx(1.0, abs=1e-5)
    assert truth["chroma_profile_stem"] == pytest.approx(1.0, abs=1e-5)
    assert all(v == 0.0 for v in silence.values())
    assert result["metrics"]["generated"] == truth  # generated == ground truth here
    assert result["metrics"]["other_song"]["beat_f1_annotated"] < 0.5
    assert result["events"]["beats"]["annotated"] == beats.size
    assert result["events"]["beats"]["silence"] == 0


def test_evaluate_stem_scores_a_shifted_stem_zero_and_only_inside_the_span() -> None:
    beats, stem, context = _song()
    late = click_train(beats + 0.2, 12.0, seed=1)
    result = M.evaluate_stem(late, stem, context, SR, gt_beats=beats)
    gen = result["metrics"]["generated"]
    assert gen["beat_f1_context"] == 0.0 and gen["beat_f1_annotated"] == 0.0
    assert gen["onset_f1_stem"] == 0.0
    assert "other_song" not in result["metrics"]
    # right for the first 6 s, silent after: the span decides what is scored
    half = stem.copy()
    half[6 * SR:] = 0.0
    first = M.evaluate_stem(half, stem, context, SR, span=(0.0, 6.0), gt_beats=beats)
    second = M.evaluate_stem(half, stem, context, SR, span=(6.0, 12.0), gt_beats=beats)
    assert first["metrics"]["generated"]["beat_f1_annotated"] == 1.0
    assert second["metrics"]["generated"]["beat_f1_annotated"] == 0.0
    assert second["span"] == [6.0, 12.0]


def test_undefined_scores_are_none() -> None:
    _, stem, _ = _song(6.0)
    silent_context = np.zeros_like(stem)
    result = M.evaluate_stem(stem, stem, silent_context, SR)
    gen = result["metrics"]["generated"]
    assert gen["beat_f1_context"] is None and gen["onset_f1_context"] is None
    assert gen["chroma_context"] is None
    assert gen["beat_f1_annotated"] is None  # no annotated beats given
    assert result["events"]["beats"]["annotated"] is None


def test_precomputed_analyses_give_the_same_scores() -> None:
    beats, stem, context = _song(8.0)
    late = click_train(beats + 0.03, 8.0, seed=4)
    direct = M.evaluate_stem(late, stem, context, SR, span=(2.0, 8.0), gt_beats=beats)
    cached = M.evaluate_stem(late, M.analyze(stem, SR), M.analyze(context, SR), SR,
                             span=(2.0, 8.0), gt_beats=beats)
    assert cached == direct


def test_bad_inputs_are_named() -> None:
    _, stem, context = _song(4.0)
    with pytest.raises(M.MetricError, match="mono"):
        M.evaluate_stem(np.stack([stem, stem]), stem, context, SR)
    with pytest.raises(M.MetricError, match="float"):
        M.track_beats(np.zeros(SR, np.int16), SR)
    bad = stem.copy()
    bad[10] = np.nan
    with pytest.raises(M.MetricError, match="NaN"):
        M.detect_onsets(bad, SR)
    with pytest.raises(M.MetricError, match="same song timeline"):
        M.evaluate_stem(stem, stem[:-1], context, SR)
    with pytest.raises(M.MetricError, match="same song"):
        M.evaluate_stem(stem, M.analyze(stem[: 2 * SR], SR), context, SR)
    with pytest.raises(M.MetricError, match="past the audio's end"):
        M.evaluate_stem(stem, stem, context, SR, span=(1.0, 5.0))
    with pytest.raises(M.MetricError, match="0 <= start < end"):
        M.crop(stem, SR, 3.0, 2.0)
    with pytest.raises(M.MetricError, match="leaves nothing"):
        M.evaluate_stem(stem, stem, context, SR, span=(1.0, 3.0), skip_seconds=2.0)
    with pytest.raises(M.MetricError, match="unknown beat tracker"):
        M.track_beats(stem, SR, tracker="madmom")
    with pytest.raises(M.MetricError, match="sr must be"):
        M.track_beats(stem, 0)


def test_crop_and_fit_length() -> None:
    x = np.arange(10 * SR, dtype=np.float32)
    part = M.crop(x, SR, 1.0, 2.5)
    assert part.size == round(1.5 * SR) and part[0] == SR
    assert M.fit_length(x[:5], 8).tolist() == [0, 1, 2, 3, 4, 0, 0, 0]
    assert M.fit_length(x, 3).tolist() == [0, 1, 2]


def test_embed_entries_cover_every_entry_over_the_span() -> None:
    _, stem, _ = _song(8.0)
    emb = M.embed_entries(stem, stem, SR, span=(2.0, 8.0), other_song_stem=stem[: 5 * SR])
    assert set(emb) == {"generated", "ground_truth", "silence", "other_song"}
    assert all(e.shape == (6, M.EMBED_DIM) for e in emb.values())
    np.testing.assert_array_equal(emb["generated"], emb["ground_truth"])


# -- Beat This (optional) ------------------------------------------------------------------

def test_beat_this_unavailable_is_a_clear_error_and_falls_back(tmp_path, monkeypatch) -> None:
    with pytest.raises(M.TrackerUnavailable, match="local checkpoint"):
        M.make_tracker("beat_this")
    with pytest.raises(M.TrackerUnavailable, match="would download"):
        M.make_tracker("beat_this", "final0")
    checkpoint = tmp_path / "final0.ckpt"
    checkpoint.write_bytes(b"not really")
    monkeypatch.setitem(sys.modules, "beat_this", None)  # import fails like a missing package
    with pytest.raises(M.TrackerUnavailable, match="beat_this"):
        M.make_tracker("beat_this", checkpoint)
    tracker, note = M.resolve_tracker("auto", checkpoint)
    assert tracker.name == "dsp" and "Beat This unavailable" in note
    monkeypatch.delenv(M.BEAT_THIS_ENV, raising=False)
    assert M.resolve_tracker("auto")[1] is None  # no checkpoint: DSP, nothing to note
    # A checkpoint named by the environment is tried like one given directly.
    monkeypatch.setenv(M.BEAT_THIS_ENV, str(tmp_path / "elsewhere.ckpt"))
    tracker, note = M.resolve_tracker("auto")
    assert tracker.name == "dsp" and "elsewhere.ckpt" in note
    assert M.resolve_tracker("dsp", checkpoint)[0].name == "dsp"


def test_beat_this_wrapper_uses_the_local_checkpoint(tmp_path, monkeypatch) -> None:
    calls: dict[str, object] = {}

    class FakeAudio2Beats:
        def __init__(self, checkpoint_path: str, device: str, dbn: bool) -> None:
            calls.update(checkpoint_path=checkpoint_path, device=device, dbn=dbn)

        def __call__(self, signal: np.ndarray, sr: int):
            calls["sr"] = sr
            beats = np.arange(0.5, signal.size / sr, 0.5)
            return beats, beats[::4]

    package = types.ModuleType("beat_this")
    inference = types.ModuleType("beat_this.inference")
    inference.Audio2Beats = FakeAudio2Beats
    monkeypatch.setitem(sys.modules, "beat_this", package)
    monkeypatch.setitem(sys.modules, "beat_this.inference", inference)
    checkpoint = tmp_path / "final0.ckpt"
    checkpoint.write_bytes(b"weights")
    monkeypatch.setenv(M.BEAT_THIS_ENV, str(checkpoint))
    tracker, note = M.resolve_tracker("auto")  # found through the environment
    assert note is None and tracker.name == "beat_this"
    tracker, note = M.resolve_tracker("beat_this", checkpoint)
    assert note is None and tracker.name == "beat_this"
    assert calls == {"checkpoint_path": str(checkpoint), "device": "cpu", "dbn": False}
    beats_true = grid(120, 6.0, offset=0.5)
    audio = click_train(beats_true, 6.0)
    audio[3 * SR:] = 0.0  # the fake places beats in this silence: they are dropped
    tracked = M.track_beats(audio, SR, tracker)
    assert calls["sr"] == SR
    assert tracked.tolist() == pytest.approx(beats_true[beats_true < 3.0].tolist())
    analysis = M.analyze(audio, SR, tracker)
    assert analysis.tracker == "beat_this"
    with pytest.raises(M.MetricError, match="tracker"):
        M.evaluate_stem(audio, analysis, audio, SR)  # analysed with another tracker


def test_dsp_tracker_on_rendered_instrument_stems() -> None:
    """Bass, drums and guitar rendered with pretty_midi's General MIDI soundfont, 120 bpm."""
    import io
    from pathlib import Path

    import midirenderer
    import pretty_midi
    import soundfile as sf

    bpm, bars, start = 120.0, 6, 0.5
    beat = 60.0 / bpm
    font = (Path(pretty_midi.__file__).parent / "TimGM6mb.sf2").read_bytes()
    chords = [[48, 52, 55], [45, 48, 52], [41, 45, 48], [43, 47, 50]]
    stems = {}
    for stem, program in (("bass", 33), ("drums", 0), ("guitar", 25)):
        midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
        inst = pretty_midi.Instrument(program=program, is_drum=stem == "drums")
        for k in range(bars * 4):
            t, chord = start + k * beat, chords[(k // 4) % 4]
            if stem == "bass":
                inst.notes.append(pretty_midi.Note(100, chord[0] - 12, t, t + 0.9 * beat))
            elif stem == "drums":
                inst.notes.append(pretty_midi.Note(110, 36 if k % 2 == 0 else 38, t, t + 0.1))
                inst.notes.append(pretty_midi.Note(70, 42, t + beat / 2, t + beat / 2 + 0.05))
            else:
                inst.notes += [pretty_midi.Note(85, m + 12, t + 0.01 * i, t + 0.45 * beat)
                               for i, m in enumerate(chord)]
        midi.instruments.append(inst)
        buf = io.BytesIO()
        midi.write(buf)
        audio, sr = sf.read(io.BytesIO(midirenderer.render_wave_from(font, buf.getvalue())),
                            dtype="float32", always_2d=True)
        stems[stem] = audio.mean(axis=1)
    length = min(x.size for x in stems.values())
    beats_true = start + beat * np.arange(bars * 4)
    for stem, audio in stems.items():
        tracked = M.track_beats(audio[:length], sr)
        assert M.beat_f1(tracked, beats_true) >= 0.95, stem
    context = sum(x[:length] for x in stems.values()) - stems["bass"][:length]
    assert M.beat_f1(M.track_beats(context, sr), beats_true) >= 0.95


def test_conditioning_sensitivity_sets_input_change_against_seed_change() -> None:
    beats, stem, _context = _song()
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal(stem.size).astype(np.float32)
    assert M.mel_change_db(stem, stem, SR) == 0.0
    shifted = click_train(beats + 0.25, 12.0, seed=1)
    assert M.mel_change_db(stem, shifted, SR) > 1.0
    # a deaf model: the same output for another input, something else for another seed
    deaf = M.conditioning_sensitivity(stem, stem, stem + noise, SR)
    assert deaf["context_change_db"] == 0.0 and deaf["sensitivity"] == 0.0
    assert deaf["seed_change_db"] > 0
    # a listener: the input moves the output more than the seed does
    ear = M.conditioning_sensitivity(stem, shifted, stem + 0.01 * noise, SR, span=(2.0, 12.0))
    assert ear["sensitivity"] > 1.0
    # no reseeded run, or a seed that changes nothing: no ratio
    assert M.conditioning_sensitivity(stem, shifted, None, SR)["sensitivity"] is None
    assert M.conditioning_sensitivity(stem, shifted, stem, SR)["sensitivity"] is None
    with pytest.raises(M.MetricError, match="past the audio"):
        M.mel_change_db(stem, stem, SR, span=(0.0, 100.0))
