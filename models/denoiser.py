"""The denoiser: a diffusers ``UNet2DModel`` inside EDM-style preconditioning.

The network ``F_θ`` sees one image per item: the noisy target latent scaled by ``c_in`` as
channel 0 and the conditioning planes of :func:`~.conditioning.condition_planes` after it,
``(B, 1 + K, C, F)`` with ``C`` latent channels on the image's height and ``F`` latent frames
on its width; the stem label goes to the U-Net's class embedding, ``c_noise`` to its time
embedding. The denoiser returns the clean-latent estimate

    D(x; σ) = c_skip(σ)·x + c_out(σ)·F_θ(c_in(σ)·x, c_noise(σ), cond)

with ``(B, 1, C, F)`` in and out. Two parameterisations (k-diffusion style, network and
preconditioning kept apart):

* ``edm`` (teacher): Karras et al., "Elucidating the Design Space of Diffusion-Based
  Generative Models", NeurIPS 2022, Table 1;
* ``consistency`` (distilled student): Song et al., "Consistency Models", ICML 2023,
  Appendix C: ``c_skip(σ_min) = 1, c_out(σ_min) = 0`` (the boundary condition).

:func:`edm_loss` is the EDM training objective (log-normal σ, weight λ(σ)).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from diffusers import UNet2DModel
from torch import nn

from .conditioning import Conditioning, condition_planes, num_condition_planes

PARAMETERIZATIONS = ("edm", "consistency")

#: UNet2DModel arguments the denoiser sets itself (from the codec, stems and conditioning).
RESERVED_UNET_KEYS = ("in_channels", "out_channels", "num_class_embeds", "sample_size",
                      "class_embed_type", "time_embedding_type")


def edm_scalings(sigma: torch.Tensor, sigma_data: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``c_skip, c_out, c_in, c_noise`` of EDM (Karras et al. 2022, Table 1)."""
    s2, d2 = sigma**2, sigma_data**2
    return d2 / (s2 + d2), sigma * sigma_data / (s2 + d2).sqrt(), 1 / (s2 + d2).sqrt(), \
        0.25 * sigma.log()


def consistency_scalings(sigma: torch.Tensor, sigma_data: float, sigma_min: float
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``c_skip, c_out, c_in, c_noise`` of a consistency model (Song et al. 2023, App. C)."""
    s2, d2 = sigma**2, sigma_data**2
    c_skip = d2 / ((sigma - sigma_min) ** 2 + d2)
    c_out = (sigma - sigma_min) * sigma_data / (s2 + d2).sqrt()
    return c_skip, c_out, 1 / (s2 + d2).sqrt(), 0.25 * sigma.log()


def build_unet(unet_config: Mapping[str, Any], *, latent_channels: int, window_frames: int,
               num_stems: int, uses_beat_grid: bool, beat_phase: str = "cos") -> UNet2DModel:
    """A randomly initialised ``UNet2DModel`` for this latent shape, stems and conditioning.

    ``unet_config`` holds the architecture (``block_out_channels``, ``layers_per_block``,
    ``down_block_types``, ``up_block_types``, ``norm_num_groups``, ...); the keys in
    :data:`RESERVED_UNET_KEYS` are derived here and may not be given.
    """
    clash = sorted(set(unet_config) & set(RESERVED_UNET_KEYS))
    if clash:
        raise ValueError(f"unet config may not set {clash}: they follow from the codec, the "
                         f"stems and the conditioning")
    return UNet2DModel(
        **dict(unet_config),
        sample_size=(latent_channels, window_frames),
        in_channels=1 + num_condition_planes(uses_beat_grid, beat_phase),
        out_channels=1,
        num_class_embeds=num_stems,
        time_embedding_type="positional",
    )


class Denoiser(nn.Module):
    """Preconditioned denoiser ``D(x; σ, cond)`` around a ``UNet2DModel`` (module docstring)."""

    def __init__(self, net: UNet2DModel, *, sigma_data: float, sigma_min: float,
                 parameterization: str = "edm", uses_beat_grid: bool = False,
                 channels_last: bool = False, beat_phase: str = "cos") -> None:
        super().__init__()
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}, "
                             f"got {parameterization!r}")
        expected = 1 + num_condition_planes(uses_beat_grid, beat_phase)
        if net.config.in_channels != expected or net.config.out_channels != 1:
            raise ValueError(
                f"the U-Net takes {net.config.in_channels} channels in and "
                f"{net.config.out_channels} out; this conditioning needs {expected} in, 1 out"
            )
        self.net = net
        self.sigma_data = float(sigma_data)
        self.sigma_min = float(sigma_min)
        self.parameterization = parameterization
        self.uses_beat_grid = uses_beat_grid
        self.beat_phase = beat_phase
        # Channels-last convolutions are markedly faster on CPU (measured, docs/MODELS.md).
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)

    def scalings(self, sigma: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.parameterization == "consistency":
            return consistency_scalings(sigma, self.sigma_data, self.sigma_min)
        return edm_scalings(sigma, self.sigma_data)

    def planes(self, cond: Conditioning) -> torch.Tensor:
        """The conditioning image for this model (compute once per sampling run)."""
        return condition_planes(cond, uses_beat_grid=self.uses_beat_grid,
                                beat_phase=self.beat_phase)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, planes: torch.Tensor,
                stem: torch.Tensor) -> torch.Tensor:
        """Noisy ``x (B, 1, C, F)`` at noise level ``sigma (B,)`` → denoised ``(B, 1, C, F)``.

        ``planes``: ``(B, K, C, F)`` from :meth:`planes`; ``stem``: ``(B,)`` labels.
        """
        sigma = sigma.to(x.dtype).reshape(-1)
        c_skip, c_out, c_in, c_noise = (c.reshape(-1, 1, 1, 1) for c in self.scalings(sigma))
        image = torch.cat([c_in * x, planes.to(x.dtype)], dim=1)
        if self.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        out = self.net(image, c_noise.reshape(-1), class_labels=stem, return_dict=False)[0]
        return c_skip * x + c_out * out.contiguous()


def consistency_student(teacher: Denoiser) -> Denoiser:
    """A consistency-parameterised copy of a teacher (Song et al. 2023: distillation starts
    from the teacher's weights); the teacher is left untouched."""
    return Denoiser(copy.deepcopy(teacher.net), sigma_data=teacher.sigma_data,
                    sigma_min=teacher.sigma_min, parameterization="consistency",
                    uses_beat_grid=teacher.uses_beat_grid, channels_last=teacher.channels_last,
                    beat_phase=teacher.beat_phase)


def sample_training_sigmas(batch: int, *, generator: torch.Generator | None = None,
                           p_mean: float = -1.2, p_std: float = 1.2) -> torch.Tensor:
    """EDM's log-normal training noise levels ``ln σ ~ N(p_mean, p_std²)`` (Karras 2022, §5)."""
    return (torch.randn(batch, generator=generator) * p_std + p_mean).exp()


def edm_loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """λ(σ) = (σ² + σ_d²) / (σ·σ_d)² (Karras et al. 2022, Table 1)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def edm_loss(denoiser: Denoiser, target: torch.Tensor, cond: Conditioning, *,
             sigma: torch.Tensor | None = None, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None, loss_frames: torch.Tensor | None = None,
             p_mean: float = -1.2, p_std: float = 1.2) -> torch.Tensor:
    """EDM denoising loss for clean target latents ``target (B, C, F)`` given ``cond``.

    ``loss_frames (B, F)`` bool chooses the frames that count (default: those not in
    ``cond.target_known``: what the model must generate). The noisy input covers the whole
    window, including the known frames, exactly as the inpainting samplers feed it: their
    known frames are the history the conditioning holds (``cond.target``, which training may
    have corrupted), the rest the clean target.
    """
    x0 = target[:, None]
    seen = torch.where(cond.target_known[:, None, None, :], cond.target[:, None], x0)
    b = x0.shape[0]
    if sigma is None:
        sigma = sample_training_sigmas(b, generator=generator, p_mean=p_mean,
                                       p_std=p_std).to(x0.device)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    denoised = denoiser(seen + sigma.reshape(-1, 1, 1, 1) * noise, sigma,
                        denoiser.planes(cond), cond.stem)
    frames = ~cond.target_known if loss_frames is None else loss_frames
    weight = frames.to(x0.dtype)[:, None, None, :]
    per_item = ((denoised - x0) ** 2 * weight).sum(dim=(1, 2, 3)) / (
        weight.sum(dim=(1, 2, 3)) * x0.shape[2]).clamp(min=1.0)
    return (edm_loss_weight(sigma, denoiser.sigma_data) * per_item).mean()
