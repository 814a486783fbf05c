"""The beat grid the server tracks in the performer's audio when the host sends none."""

import numpy as np
import pytest

from sideman.models.tempo import MIN_SECONDS, pulse, track_transport

SR = 22050


def clicks(bpm: float, first: float, seconds: float) -> np.ndarray:
    return pulse(SR, seconds, bpm=bpm, first=first)


@pytest.mark.parametrize("bpm,first", [(96.0, 0.13), (123.0, 0.41), (141.0, 0.02)])
def test_a_steady_pulse_gives_its_tempo_and_the_beats_still_to_come(bpm, first) -> None:
    """The grid extended past the heard audio (the region a w = 1 step generates, up to
    1.5 s later) falls on the pulse's next beats to within 40 ms (the metric allows 70)."""
    start = 5 * SR  # the window's first sample is absolute position 5 s
    audio = clicks(bpm, first, 6.0)
    grid = track_transport(audio, SR, known=audio.size, start=start)
    assert grid is not None
    assert grid.bpm == pytest.approx(bpm, rel=0.015)
    period = 60.0 / bpm
    future = first + period * np.arange(int(6.0 / period) + 1, int(7.5 / period) + 1)
    phase = grid.beat_phase((start + future * SR), SR)
    error = np.abs(phase - np.round(phase)) * period
    assert error.max() < 0.040, error


def test_what_was_not_heard_is_not_read() -> None:
    """Only the first ``known`` samples count: loud noise after them changes nothing."""
    audio = clicks(110.0, 0.2, 6.0)
    known = int(4.5 * SR)
    spoiled = audio.copy()
    spoiled[known:] = np.random.default_rng(1).standard_normal(audio.size - known)
    assert track_transport(audio, SR, known=known, start=0) == \
        track_transport(spoiled, SR, known=known, start=0)


def test_silence_and_too_little_audio_give_no_grid() -> None:
    assert track_transport(np.zeros(6 * SR, np.float32), SR, known=6 * SR, start=0) is None
    audio = clicks(120.0, 0.1, 6.0)
    short = int((MIN_SECONDS - 0.1) * SR)
    assert track_transport(audio, SR, known=short, start=0) is None
    assert track_transport(audio, SR, known=int((MIN_SECONDS + 0.5) * SR), start=0) is not None
