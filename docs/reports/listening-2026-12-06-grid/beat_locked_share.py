"""How much of a stem's latent is locked to the beat? (What a model given the grid can gain.)

Per song and stem of a latent cache: the RMS deviation of the stem's latent frames from the
song's mean (within-song variation) and the RMS of the per-song mean latent at each of 16
beat-phase bins (the part a denoiser that knows the grid can predict), in σ_data units.

    python beat_locked_share.py DATA/latents/mel-<hash>
"""

import argparse
from pathlib import Path

import numpy as np

HOP, SR, SIGMA_DATA = 512, 22050, 1.248
STEMS = ("bass", "drums", "guitar", "piano")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    files = sorted(parser.parse_args().cache.glob("*.npz"))
    for s, name in enumerate(STEMS):
        total, locked = [], []
        for f in files:
            z = np.load(f)
            beats = z["beats"]
            if beats.size < 4:
                continue
            latent, active = z["target"][s], z["active"][s]
            t = (np.arange(latent.shape[1]) + 0.5) * HOP / SR
            i = np.clip(np.searchsorted(beats, t, side="right") - 1, 0, beats.size - 2)
            phase = (t - beats[i]) / (beats[i + 1] - beats[i])
            ok = (t >= beats[0]) & (t < beats[-1]) & active
            if ok.sum() < 100:
                continue
            bins = np.clip((phase[ok] * 16).astype(int), 0, 15)
            x = latent[:, ok]
            mean = x.mean(1, keepdims=True)
            per_bin = np.stack([x[:, bins == k].mean(1) if (bins == k).any() else mean[:, 0]
                                for k in range(16)], 1)
            total.append(((x - mean) ** 2).mean())
            locked.append(((per_bin[:, bins] - mean) ** 2).mean())
        print(f"{name}: within-song deviation {np.sqrt(np.mean(total)) / SIGMA_DATA:.3f}, "
              f"beat-locked part {np.sqrt(np.mean(locked)) / SIGMA_DATA:.3f} (σ_data units)")


if __name__ == "__main__":
    main()
