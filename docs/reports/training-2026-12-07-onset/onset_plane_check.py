"""Is the mixture's onset plane right, and does it say where the target's hits are?

    python onset_plane_check.py MODEL_WITH_ONSET_PLANE DATA_DIR

On the model's fixed validation windows (w = 1, as training draws them): checks that the
plane the denoiser builds equals ``conditioning.mixture_onset``, then prints, per stem, the
mean per-window correlation between the plane and the target's spectral rise over the frames
where the mix is known, and the share of frames where the mix is known at all.
"""

import sys
from pathlib import Path

import numpy as np
import torch

from sideman.models.conditioning import mixture_onset, spectral_rise
from sideman.models.pipeline import load_pipeline
from sideman.training.stage import DataOptions, load_latents, stage_data
from sideman.training.windows import WindowOptions

torch.set_num_threads(1)
pipe = load_pipeline(sys.argv[1])
options = DataOptions(data=Path(sys.argv[2]), codec=pipe.config.codec, valid_windows=64,
                      progress=False)
latents = load_latents(options, pipe.codec)
staged = stage_data(latents, pipe.config, pipe.codec, options,
                    window=WindowOptions(window_frames=pipe.config.window_frames),
                    batch_size=16, seed=0)
corr: dict[int, list[float]] = {}
known = []
for batch in staged.valid:
    plane = pipe.denoiser.planes(batch.cond)[:, -1, 0, :]
    assert torch.allclose(plane, mixture_onset(batch.cond.mixture, batch.cond.mixture_known))
    rise = torch.cat([torch.zeros(plane.shape[0], 1), spectral_rise(batch.target)], dim=1)
    for i, mask in enumerate(batch.cond.mixture_known):
        a, b = plane[i][mask].numpy(), rise[i][mask].numpy()
        if a.std() > 0 and b.std() > 0:
            corr.setdefault(int(batch.cond.stem[i]), []).append(float(np.corrcoef(a, b)[0, 1]))
    known.append(batch.cond.mixture_known.float().mean(dim=1))
print(f"mix known on {float(torch.cat(known).mean()):.0%} of the frames")
for stem, values in sorted(corr.items()):
    print(f"{pipe.config.stems[stem]}: {np.mean(values):.2f} over {len(values)} windows")
