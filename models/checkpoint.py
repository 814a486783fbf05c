"""Checkpoints: ``config.json`` + ``model.safetensors`` in one directory (the diffusers pattern).

``config.json`` is a :class:`~.config.ModelConfig`; ``model.safetensors`` holds the U-Net's
state dict only (safetensors, never pickle), in float32 or, to keep shipped weights small,
float16 (loaded back as float32). A directory may also hold a ``MODEL_CARD.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ConfigError, ModelConfig
from .denoiser import Denoiser, build_unet

log = logging.getLogger(__name__)

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(ConfigError):
    """A checkpoint directory is missing, incomplete or does not fit."""


def build_denoiser(config: ModelConfig, *, channels_last: bool = False) -> Denoiser:
    """A randomly initialised denoiser with ``config``'s architecture (training starts here)."""
    try:
        net = build_unet(config.unet, latent_channels=config.latent_channels,
                         window_frames=config.window_frames, num_stems=len(config.stems),
                         uses_beat_grid=config.uses_beat_grid, beat_phase=config.beat_phase,
                         cond_width=config.cond_width, mixture_onset=config.mixture_onset)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad unet config {dict(config.unet)}: {exc}") from exc
    return Denoiser(net, sigma_data=config.sigma_data, sigma_min=config.sigma_min,
                    parameterization=config.parameterization,
                    uses_beat_grid=config.uses_beat_grid, channels_last=channels_last,
                    beat_phase=config.beat_phase, noise_scale=config.noise_scale,
                    history_planes=config.history_planes,
                    mixture_onset=config.mixture_onset)


def save_pretrained(directory: str | Path, denoiser: Denoiser, config: ModelConfig, *,
                    dtype: torch.dtype = torch.float32) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created)."""
    if dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype}")
    if denoiser.parameterization != config.parameterization:
        raise ConfigError(f"denoiser is {denoiser.parameterization!r}, config says kind="
                          f"{config.kind!r}")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype).contiguous()
             for k, v in denoiser.net.state_dict().items()}
    save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "sideman-ldm",
                                                         "dtype": str(dtype)})
    (out / CONFIG_NAME).write_text(config.to_json())
    return out


def load_config(directory: str | Path) -> ModelConfig:
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{path} not found: a checkpoint directory holds {CONFIG_NAME} "
                              f"and {WEIGHTS_NAME} (written by save_pretrained)")
    return ModelConfig.from_json(path.read_text(), source=str(path))


def load_denoiser(directory: str | Path, *, device: str | torch.device = "cpu",
                  channels_last: bool = False) -> tuple[Denoiser, ModelConfig]:
    """Rebuild the denoiser saved in ``directory`` (float32, eval mode, on ``device``)."""
    config = load_config(directory)
    path = Path(directory) / WEIGHTS_NAME
    if not path.is_file():
        raise CheckpointError(f"{path} not found next to {CONFIG_NAME}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc
    denoiser = build_denoiser(config, channels_last=channels_last)
    expected = denoiser.net.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or extra or wrong:
        raise CheckpointError(
            f"{path} does not fit the architecture in {CONFIG_NAME}: missing {missing[:3]}"
            f"{'...' if len(missing) > 3 else ''}, unexpected {extra[:3]}, "
            f"other shape {wrong[:3]}"
        )
    denoiser.net.load_state_dict({k: v.float() for k, v in state.items()})
    return denoiser.to(device).eval(), config
