"""Does the embedded default model listen? Its drums follow the beat grid it is given, and
without a host grid, the beat the server tracks in what it hears.

The listening control of docs/EVAL.md in small: the demo song (its drums taken out) streams
through the server's own code (fast mode, default settings, so the model's own grid
guidance) twice, once with its true beat grid as a host transport, once with a grid of the
same tempo half a beat off (what a model given another song's grid plays). Both generated
drum parts are scored against the song's true beats. A model that ignores the grid scores
the same for both: listening 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sideman.client import ClientSettings, read_mono, transport_updates
from sideman.eval.metrics import beat_f1, track_beats
from sideman.eval.simulate import SimClient, Simulation

DEMO = Path(__file__).resolve().parents[2] / "max_patches" / "media" / "demo_input.wav"
SECONDS = 14.0
#: scored from here (the first hop plus a window of context: nothing is generated before)
SCORE_FROM = 4.0


def _beats() -> tuple[np.ndarray, list[float]]:
    rows = [line.split() for line in DEMO.with_suffix(".beats.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    times = np.array([float(r[0]) for r in rows])
    return times, [float(r[0]) for r in rows if int(r[1]) == 1]


def _drums(model, audio: np.ndarray, rate: int, beats: np.ndarray | None,
           downbeats: list[float] | None) -> np.ndarray:
    """The drums made for ``audio``: with ``beats`` as the host's transport, or (``None``)
    with the grid the server tracks in the audio."""
    settings = ClientSettings(stems=("drums",), r=0.25, w=1, seed=3, realtime=False)
    transport = (() if beats is None else
                 transport_updates(list(beats), rate, downbeats=downbeats))
    client = SimClient(audio=audio, rate=rate, settings=settings, name="listening",
                       transport=transport)
    core = Simulation(model).run([client])[0]
    return core.writers["drums"].buffer[:audio.size]


def test_the_default_drums_follow_the_beat_grid_they_are_given(default_model) -> None:
    audio, rate = read_mono(DEMO)
    audio = audio[:int(SECONDS * rate)]
    beats, downbeats = _beats()
    beats = beats[beats < SECONDS + 1]
    half = 0.5 * float(np.median(np.diff(beats)))
    scored = (beats >= SCORE_FROM) & (beats < SECONDS)

    def score(drums: np.ndarray) -> float:
        found = track_beats(drums[int(SCORE_FROM * rate):], rate) + SCORE_FROM
        return beat_f1(found[found < SECONDS], beats[scored])

    own = score(_drums(default_model, audio, rate, beats, downbeats))
    other = score(_drums(default_model, audio, rate, beats + half,
                         [d + half for d in downbeats]))
    print(f"beat F1 against the true beats: own grid {own:.3f}, grid half a beat off "
          f"{other:.3f}")
    assert own >= 0.5, own
    assert own >= 1.5 * other, (own, other)


def test_without_a_host_grid_the_default_drums_follow_what_they_hear(default_model) -> None:
    """The same song, no transport: the server tracks the beat in the mix (the shipped
    learned tracker). The control is the same song started half a beat later, scored
    against the song's own beats: drums that follow what they hear land between them."""
    audio, rate = read_mono(DEMO)
    audio = audio[:int(SECONDS * rate)]
    beats, _ = _beats()
    half = 0.5 * float(np.median(np.diff(beats)))
    scored = (beats >= SCORE_FROM) & (beats < SECONDS)

    def score(drums: np.ndarray, shift: float = 0.0) -> float:
        start = int((SCORE_FROM + shift) * rate)
        found = track_beats(drums[start:start + int((SECONDS - SCORE_FROM) * rate)], rate)
        return beat_f1(found + SCORE_FROM, beats[scored])

    own = score(_drums(default_model, audio, rate, None, None))
    late = np.concatenate([np.zeros(round(half * rate), np.float32), audio])
    other = score(_drums(default_model, late, rate, None, None))
    print(f"tracked grid, beat F1 against the true beats: own {own:.3f}, the song half a "
          f"beat late {other:.3f}")
    assert own >= 0.5, own
    assert own >= 1.5 * other, (own, other)


def test_the_default_stops_when_the_music_stops(default_model) -> None:
    """The demo song, then silence: after ``stop`` seconds of silence heard (2 by default)
    the drums are silence from the next region on, and with ``stop 0`` they play on."""
    audio, rate = read_mono(DEMO)
    song = audio[:int(8.0 * rate)]
    x = np.concatenate([song, np.zeros(int(7.0 * rate), np.float32)])

    def drums(stop: float | None) -> np.ndarray:
        settings = ClientSettings(stems=("drums",), r=0.25, w=1, seed=3, realtime=False,
                                  stop=stop)
        client = SimClient(audio=x, rate=rate, settings=settings, name="stop")
        return Simulation(default_model).run([client])[0].writers["drums"].buffer[:x.size]

    def rms(part: np.ndarray, a: float, b: float) -> float:
        return float(np.sqrt(np.mean(part[int(a * rate):int(b * rate)] ** 2)))

    stopping, playing_on = drums(None), drums(0.0)
    # heard silence from 8 s; 2 s later the next step's region (1.5-3 s ahead) is silent
    assert rms(stopping, 4.0, 8.0) > 1e-3
    assert rms(stopping, 8.0 + 2.0 + 3.0, 15.0) == 0.0
    assert rms(playing_on, 8.0 + 2.0 + 3.0, 15.0) > 1e-3
