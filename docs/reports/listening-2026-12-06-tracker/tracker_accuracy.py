"""How good is the grid the server tracks when the host sends none, and what goes wrong?

For each of the first 20 songs of a data set, for the mix without drums and without bass,
streams the mix hop by hop (r = 0.125 of a 256-frame window at 22 050 Hz) through the
server's ``GridTracker`` with the chosen envelope (``learned``, ``onsets`` or a directory of
learned weights); every fourth step from step 10 on, scores the grid extended over the
region a w = 1 step generates against the song's true beats there (mir_eval F-measure,
±70 ms), and sorts the grid's tempo against the true local tempo (right within 6 %, or the
nearest simple ratio) and, where the tempo is right, its phase error in beats.

    python tracker_accuracy.py DATA [learned|onsets|DIR]
"""

import argparse
from collections import Counter

import mir_eval
import numpy as np

from sideman.models.tempo import GridTracker, envelope_for
from sideman.training.datasets import mix_without, open_dataset

SR, WINDOW, HOP = 22050, 256 * 512, 32 * 512
RATIOS = (0.5, 2 / 3, 0.75, 4 / 3, 1.5, 2.0)


def grid_beats(grid, start: int, end: int) -> np.ndarray:
    """The grid's beats in ``[start, end)`` samples, in seconds."""
    positions = np.arange(start, end)
    phase = np.floor(grid.beat_phase(positions, SR))
    return positions[np.diff(phase, prepend=phase[0]) > 0] / SR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("tracker", nargs="?", default="learned")
    args = parser.parse_args()
    envelope, name = envelope_for(args.tracker, SR)
    scores: list[float] = []
    tempo: Counter[str] = Counter()
    phase: list[float] = []
    for song in open_dataset(args.data)[:20]:
        beats = np.asarray(song.beats)
        for stem in ("drums", "bass"):
            mix = mix_without(song, stem, sr=SR)
            tracker = GridTracker(SR, envelope=envelope)
            for step in range(1, len(mix) // HOP - 3):
                pos = step * HOP
                window = np.zeros(WINDOW, np.float32)
                lo = max(0, pos - WINDOW)
                window[lo - (pos - WINDOW):] = mix[lo:pos]
                grid = tracker.update(window, known=WINDOW, start=pos - WINDOW)
                if step < 10 or step % 4:
                    continue
                start, end = pos + HOP, pos + 2 * HOP
                ref = beats[(beats >= start / SR - 0.1) & (beats < end / SR + 0.1)]
                if not len(ref):
                    continue
                scores.append(0.0 if grid is None else
                              mir_eval.beat.f_measure(ref, grid_beats(grid, start, end)))
                if grid is None:
                    tempo["no grid"] += 1
                    continue
                i = int(np.searchsorted(beats, ref[0]))
                period = float(np.median(np.diff(beats[max(0, i - 4):i + 4])))
                ratio = (60.0 / grid.bpm) / period  # the grid's period over the true one
                if abs(ratio - 1.0) <= 0.06:
                    tempo["right"] += 1
                    p = float(grid.beat_phase(np.array([round(ref[0] * SR)]), SR)[0] % 1.0)
                    phase.append(p if p < 0.5 else p - 1.0)
                else:
                    nearest = min(RATIOS, key=lambda q: abs(np.log(ratio / q)))
                    tempo[f"period x{nearest:.2f}"] += 1
    print(f"{name}: beat F1 of the tracked grid over the region {np.mean(scores):.3f} "
          f"({len(scores)} steps)")
    total = sum(tempo.values())
    print("tempo: " + ", ".join(f"{k} {v / total:.0%}" for k, v in tempo.most_common()))
    err = np.abs(phase)
    print(f"phase error where the tempo is right (beats): median {np.median(err):.3f}, "
          f"within 0.1 beat {np.mean(err <= 0.1):.0%}")


if __name__ == "__main__":
    main()
