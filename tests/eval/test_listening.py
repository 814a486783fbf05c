"""Does the embedded default model listen? Its drums follow the beat grid it is given.

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


def _drums(model, audio: np.ndarray, rate: int, beats: np.ndarray, downbeats: list[float]
           ) -> np.ndarray:
    settings = ClientSettings(stems=("drums",), r=0.25, w=1, seed=3, realtime=False)
    client = SimClient(audio=audio, rate=rate, settings=settings, name="listening",
                       transport=transport_updates(list(beats), rate, downbeats=downbeats))
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
