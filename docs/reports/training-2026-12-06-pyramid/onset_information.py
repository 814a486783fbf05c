"""Does the mix (the song without a stem) say where the stem's onsets are?

Per song and stem of a latent cache (``sideman data cache``): the frame-by-frame correlation
of the stem's onset flux (mean positive rise over latent channels, standardised) with the
flux of its own song's mix, and, as the control, with the next song's mix.

    python onset_information.py DATA/latents/mel-<hash>
"""

import argparse
from pathlib import Path

import numpy as np

STEMS = ("bass", "drums", "guitar", "piano")


def flux(latent: np.ndarray) -> np.ndarray:
    rise = np.clip(np.diff(latent, axis=1), 0, None).mean(0)
    rise = np.concatenate([[0.0], rise])
    return (rise - rise.mean()) / (rise.std() + 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="a latent cache folder (Track*.npz)")
    songs = [np.load(f) for f in sorted(parser.parse_args().cache.glob("*.npz"))]
    for s, stem in enumerate(STEMS):
        own, other = [], []
        for i, song in enumerate(songs):
            target = song["target"][s]
            if target.std() < 1e-3:
                continue
            nxt = songs[(i + 1) % len(songs)]["context"][s]
            n = min(target.shape[1], nxt.shape[1])
            own.append(np.corrcoef(flux(target), flux(song["context"][s]))[0, 1])
            other.append(np.corrcoef(flux(target)[:n], flux(nxt)[:n])[0, 1])
        print(f"{stem}: own mix {np.nanmean(own):.3f}, other song's mix "
              f"{np.nanmean(other):.3f} ({len(own)} songs)")


if __name__ == "__main__":
    main()
