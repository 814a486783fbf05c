"""Is the cached mix (the song without a stem) aligned with the stem to the frame?

Cross-correlates the stem's onset flux (mean positive rise over latent channels,
standardised) with its mix's at lags of -8..8 frames, over the first 60 songs of a latent
cache's validation split (``sideman data cache``); a peak at lag 0 means aligned.

    python mixture_alignment.py DATA/latents/mel-<hash>
"""

import argparse
from pathlib import Path

import numpy as np

from sideman.models.codecs import build_codec
from sideman.training.cache import open_cache

LAGS = range(-8, 9)


def flux(latent: np.ndarray) -> np.ndarray:
    rise = np.concatenate([[0.0], np.clip(np.diff(latent, axis=1), 0, None).mean(0)])
    return (rise - rise.mean()) / (rise.std() + 1e-9)


def correlation(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    """Mean of a[t]·b[t - lag] over the frames where both exist."""
    n = len(a)
    return float(np.mean(a[max(0, lag):n + min(0, lag)] * b[max(0, -lag):n + min(0, -lag)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="a latent cache folder")
    cache = open_cache(parser.parse_args().cache, build_codec("mel"), splits=("valid",))
    songs = cache.songs[:60]
    for index, name in [(1, "drums"), (0, "bass")]:
        means = [np.mean([correlation(flux(s.target[index]), flux(s.context[index]), lag)
                          for s in songs]) for lag in LAGS]
        print(name, " ".join(f"{lag}:{m:.2f}" for lag, m in zip(LAGS, means, strict=True)))


if __name__ == "__main__":
    main()
