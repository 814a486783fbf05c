"""How good is the grid the server tracks when the host sends none?

For each of the first 20 songs of a data set, for the mix without drums and without bass,
streams the mix hop by hop (r = 0.125 of a 256-frame window at 22 050 Hz) through
``GridTracker`` (the server's, with its 10 s memory) and through ``track_transport`` (one
window alone); every fourth step from step 10 on, scores the grid extended over the region
a w = 1 step generates against the song's true beats there (mir_eval F-measure, ±70 ms).

    python tracker_accuracy.py DATA     # e.g. a `sideman data synth --seed 7` test set
"""

import argparse

import mir_eval
import numpy as np

from sideman.models.tempo import GridTracker, track_transport
from sideman.training.datasets import mix_without, open_dataset

SR, WINDOW, HOP = 22050, 256 * 512, 32 * 512


def grid_beats(grid, start: int, end: int) -> np.ndarray:
    """The grid's beats in ``[start, end)`` samples, in seconds."""
    positions = np.arange(start, end)
    phase = np.floor(grid.beat_phase(positions, SR))
    return positions[np.diff(phase, prepend=phase[0]) > 0] / SR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    songs = open_dataset(parser.parse_args().data)[:20]
    scores: dict[str, list[float]] = {"window alone": [], "with memory": []}
    for song in songs:
        beats = np.asarray(song.beats)
        for stem in ("drums", "bass"):
            mix = mix_without(song, stem, sr=SR)
            tracker = GridTracker(SR)
            for step in range(1, len(mix) // HOP - 3):
                pos = step * HOP
                window = np.zeros(WINDOW, np.float32)
                lo = max(0, pos - WINDOW)
                window[lo - (pos - WINDOW):] = mix[lo:pos]
                remembered = tracker.update(window, known=WINDOW, start=pos - WINDOW)
                if step < 10 or step % 4:
                    continue
                alone = track_transport(window, SR, known=WINDOW, start=pos - WINDOW)
                start, end = pos + HOP, pos + 2 * HOP
                ref = beats[(beats >= start / SR - 0.1) & (beats < end / SR + 0.1)]
                if not len(ref):
                    continue
                for name, grid in (("window alone", alone), ("with memory", remembered)):
                    scores[name].append(0.0 if grid is None else
                                        mir_eval.beat.f_measure(ref, grid_beats(grid, start, end)))
    for name, values in scores.items():
        print(f"{name}: beat F1 of the tracked grid over the region {np.mean(values):.3f} "
              f"({len(values)} steps)")


if __name__ == "__main__":
    main()
