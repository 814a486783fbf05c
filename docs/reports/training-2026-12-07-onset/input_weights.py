"""RMS of a model's first-convolution weights per input plane: which planes it reads.

    python input_weights.py MODEL_DIR_OR_CHECKPOINT_FILE [CONFIG_JSON]

A plane whose weights stay near zero (as a newly added plane starts) is one the training
loss gave no reason to read. Weights scale with their plane's values: the latent planes are
in latent units (σ_data ≈ 1.3), the masks and beat planes in [-1, 1], the onset plane ≈ 1 on
average and up to 8 at onsets.
"""

import json
import sys
from pathlib import Path

from safetensors.torch import load_file

path = Path(sys.argv[1])
weights = load_file(str(path / "model.safetensors" if path.is_dir() else path))
config_path = Path(sys.argv[2]) if len(sys.argv) > 2 else (
    path / "config.json" if path.is_dir() else None)
key = next(k for k in weights if k.endswith("conv_in.weight"))
rms = weights[key].float().pow(2).mean(dim=(0, 2, 3)).sqrt().tolist()
names = ["noisy target", "mixture", "mixture known", "history", "history known"]
if config_path is not None:
    config = json.loads(config_path.read_text())
    if config.get("uses_beat_grid"):
        phases = ["cos beat", "cos bar", "sin beat", "sin bar"]
        names += phases[:4 if config.get("beat_phase") == "sincos" else 2]
    if config.get("mixture_onset"):
        names.append("mixture onset")
names += [f"plane {i}" for i in range(len(names), len(rms))]
for name, value in zip(names, rms, strict=False):
    print(f"| {name} | {value:.4f} |")
