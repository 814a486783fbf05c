"""How wrong is the server's tracked grid over the region a live step generates?

    python tracker_error.py DATA_DIR [SONGS]

For each song and for drums and bass, every 0.743 s (one hop at r = 0.125) from 6 s to 20 s:
the server's tracker (the shipped learned envelope, as `sideman serve` runs it) is given the
last 10 s heard of the mix without that stem, and its grid is projected over the region a
step at w = 1 generates (0.79-1.53 s after the last heard sample). Printed: the grid beats'
phase error against the song's true beats (in beats: median over the region per step), and
the grid's period over the true one. These set the sizes of `--grid-error`.
"""

import json
import sys
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from sideman.models.base import DEFAULT_BEAT_TRACKER
from sideman.models.tempo import envelope_for, track_transport

SR = 22050
REGION = (0.79, 1.53)  # seconds after the last heard sample: hop 32 frames, w = 1
STEMS = ("bass", "drums", "guitar", "piano")

root = Path(sys.argv[1])
songs = sorted(root.glob("*/metadata.json"))[:int(sys.argv[2]) if len(sys.argv) > 2 else 20]
envelope, name = envelope_for(DEFAULT_BEAT_TRACKER, SR)
print(f"tracker envelope: {name}; {len(songs)} songs of {root}")
for stem in ("drums", "bass"):
    errors, ratios, none = [], [], 0
    for meta_path in songs:
        meta = json.loads(meta_path.read_text())
        beats = np.asarray(meta["beats"])
        mix = sum(sf.read(meta_path.parent / meta["files"]["stems"][s], dtype="float32",
                          always_2d=True)[0].mean(axis=1) for s in STEMS if s != stem)
        mix = librosa.resample(mix, orig_sr=meta["sample_rate"], target_sr=SR)
        for t in np.arange(6.0, 20.0, 0.743):
            known = int(t * SR)
            start = max(0, known - 10 * SR)
            grid = track_transport(mix[start:known], SR, known=known - start, start=start,
                                   envelope=envelope)
            if grid is None:
                none += 1
                continue
            lo, hi = t + REGION[0], t + REGION[1]
            true = beats[(beats >= lo) & (beats < hi)]
            period = float(np.median(np.diff(beats[(beats > t - 4) & (beats < t + 4)])))
            step = grid.samples_per_beat(SR) / SR
            k = np.arange(np.ceil((lo - grid.beat_position / SR) / step),
                          np.ceil((hi - grid.beat_position / SR) / step))
            ours = grid.beat_position / SR + k * step
            if true.size and ours.size:
                nearest = true[np.abs(ours[:, None] - true[None]).argmin(axis=1)]
                errors.append(float(np.median(ours - nearest)) / period)
                ratios.append(step / period)
    e, q = np.abs(errors), np.asarray(ratios)
    print(f"{stem}: {len(e)} steps scored, {none} without a grid; |phase error| (beats) "
          f"median {np.median(e):.3f}, 75 % {np.quantile(e, 0.75):.3f}, 90 % "
          f"{np.quantile(e, 0.9):.3f}; within 0.1 beat {np.mean(e < 0.1):.0%}; period off by "
          f"more than 10 % {np.mean(np.abs(q - 1) > 0.1):.0%} (of which half the tempo "
          f"{np.mean(np.abs(q - 2) < 0.2) / max(np.mean(np.abs(q - 1) > 0.1), 1e-9):.0%})")
