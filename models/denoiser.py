"""The denoiser: a diffusers ``UNet2DModel`` inside EDM-style preconditioning.

The network ``F_θ`` sees one image per item: the noisy target latent scaled by ``c_in`` as
channel 0 and the conditioning planes of :func:`~.conditioning.condition_planes` after it,
``(B, 1 + K, C, F)`` with ``C`` latent channels on the image's height and ``F`` latent frames
on its width; the stem label goes to the U-Net's class embedding, ``c_noise`` to its time
embedding. The denoiser returns the clean-latent estimate

    D(x; σ) = c_skip(σ)·x + c_out(σ)·F_θ(c_in(σ)·x, c_noise(σ), cond)

with ``(B, 1, C, F)`` in and out. With ``cond_width > 0`` a :class:`ConditionPyramid` also
encodes the conditioning planes and adds them at the input of every level of the U-Net (and
its mid block), so the mixture and the beat grid reach each resolution directly instead of
only through the first convolution; its output convolutions start at zero, so a fresh
pyramid leaves the U-Net's function unchanged. ``c_noise = noise_scale·ln σ`` (EDM: 0.25):
the U-Net's positional embedding has only four frequencies at this width, and a larger scale
spreads the trained σ range over them. Two parameterisations (k-diffusion style, network and
preconditioning kept apart):

* ``edm`` (teacher): Karras et al., "Elucidating the Design Space of Diffusion-Based
  Generative Models", NeurIPS 2022, Table 1;
* ``consistency`` (distilled student): Song et al., "Consistency Models", ICML 2023,
  Appendix C: ``c_skip(σ_min) = 1, c_out(σ_min) = 0`` (the boundary condition).

:func:`edm_loss` is the EDM training objective (log-normal σ, weight λ(σ)).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol, cast

import torch
from diffusers import UNet2DModel
from torch import nn
from torch.nn import functional

from .conditioning import (
    ONSET_PLANES,
    Conditioning,
    condition_planes,
    num_condition_planes,
    spectral_rise,
)

PARAMETERIZATIONS = ("edm", "consistency")

#: UNet2DModel arguments the denoiser sets itself (from the codec, stems and conditioning).
RESERVED_UNET_KEYS = ("in_channels", "out_channels", "num_class_embeds", "sample_size",
                      "class_embed_type", "time_embedding_type")


#: EDM's ``c_noise = 0.25·ln σ`` (the shipped models and every config without ``noise_scale``).
EDM_NOISE_SCALE = 0.25


def edm_scalings(sigma: torch.Tensor, sigma_data: float, noise_scale: float = EDM_NOISE_SCALE
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``c_skip, c_out, c_in, c_noise`` of EDM (Karras et al. 2022, Table 1)."""
    s2, d2 = sigma**2, sigma_data**2
    return d2 / (s2 + d2), sigma * sigma_data / (s2 + d2).sqrt(), 1 / (s2 + d2).sqrt(), \
        noise_scale * sigma.log()


def consistency_scalings(sigma: torch.Tensor, sigma_data: float, sigma_min: float,
                         noise_scale: float = EDM_NOISE_SCALE
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``c_skip, c_out, c_in, c_noise`` of a consistency model (Song et al. 2023, App. C)."""
    s2, d2 = sigma**2, sigma_data**2
    c_skip = d2 / ((sigma - sigma_min) ** 2 + d2)
    c_out = (sigma - sigma_min) * sigma_data / (s2 + d2).sqrt()
    return c_skip, c_out, 1 / (s2 + d2).sqrt(), noise_scale * sigma.log()


def _zero(conv: nn.Conv2d) -> nn.Conv2d:
    assert conv.bias is not None, "a zero-initialised projection has a bias"
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class ConditionPyramid(nn.Module):
    """The conditioning planes encoded at every resolution of a ``UNet2DModel`` and added to
    the input of each down block and of the mid block (see the module docstring).

    It lives inside the U-Net (``net.cond_pyramid``), so its weights are saved and loaded with
    the U-Net's; :meth:`attach` registers the hooks that feed it: the U-Net's input image
    (channel 0 the noisy latent, the planes after it) is encoded once per forward, and each
    block adds its level's features to its input. Diffusers' down blocks keep even sizes
    exact; odd sizes are matched by interpolation.
    """

    def __init__(self, planes: int, block_out_channels: Sequence[int], width: int) -> None:
        super().__init__()
        levels = len(block_out_channels)
        # down block i reads conv_in's channels (i = 0) or the block before's
        inputs = [block_out_channels[0], *block_out_channels[:-1]]
        self.stem = nn.Sequential(nn.Conv2d(planes, width, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.SiLU())
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), nn.SiLU())
            for _ in range(levels - 1))
        self.out = nn.ModuleList(_zero(nn.Conv2d(width, c, 1)) for c in inputs)
        self.out_mid = _zero(nn.Conv2d(width, block_out_channels[-1], 1))
        self._features: list[torch.Tensor] = []

    def encode(self, planes: torch.Tensor) -> list[torch.Tensor]:
        """Per level the features to add (down blocks in order, then the mid block)."""
        h = self.stem(planes)
        out = [self.out[0](h)]
        for down, proj in zip(self.down, self.out[1:], strict=True):
            h = down(h)
            out.append(proj(h))
        return [*out, self.out_mid(h)]

    @staticmethod
    def attach(net: UNet2DModel, pyramid: ConditionPyramid) -> None:
        net.cond_pyramid = pyramid
        net.register_forward_pre_hook(pyramid._encode_hook, with_kwargs=True)
        net.register_forward_hook(pyramid._clear_hook)
        for level, block in enumerate(net.down_blocks):
            block.register_forward_pre_hook(functools.partial(pyramid._add_hook, level),
                                            with_kwargs=True)
        if net.mid_block is not None:
            net.mid_block.register_forward_pre_hook(
                functools.partial(pyramid._add_hook, len(net.down_blocks)), with_kwargs=True)

    # hooks (bound to this module, so a deep copy of the U-Net feeds its own copy)
    def _encode_hook(self, _net: nn.Module, args: tuple, kwargs: dict) -> None:
        image = args[0] if args else kwargs["sample"]
        self._features = self.encode(image[:, 1:])

    def _clear_hook(self, _net: nn.Module, _args: tuple, _out: Any) -> None:
        self._features = []

    def _add_hook(self, level: int, _block: nn.Module, args: tuple, kwargs: dict
                  ) -> tuple[tuple, dict]:
        feature = self._features[level]
        if args:
            hidden, rest = args[0], args[1:]
        else:
            hidden, rest = kwargs.pop("hidden_states"), ()
        if feature.shape[-2:] != hidden.shape[-2:]:
            feature = functional.interpolate(feature, size=hidden.shape[-2:])
        hidden = hidden + feature.to(hidden.dtype)
        if args:
            return (hidden, *rest), kwargs
        return args, {**kwargs, "hidden_states": hidden}


def build_unet(unet_config: Mapping[str, Any], *, latent_channels: int, window_frames: int,
               num_stems: int, uses_beat_grid: bool, beat_phase: str = "cos",
               cond_width: int = 0, mixture_onset: bool = False) -> UNet2DModel:
    """A randomly initialised ``UNet2DModel`` for this latent shape, stems and conditioning.

    ``unet_config`` holds the architecture (``block_out_channels``, ``layers_per_block``,
    ``down_block_types``, ``up_block_types``, ``norm_num_groups``, ...); the keys in
    :data:`RESERVED_UNET_KEYS` are derived here and may not be given. ``cond_width > 0``
    adds a :class:`ConditionPyramid` of that width.
    """
    clash = sorted(set(unet_config) & set(RESERVED_UNET_KEYS))
    if clash:
        raise ValueError(f"unet config may not set {clash}: they follow from the codec, the "
                         f"stems and the conditioning")
    planes = num_condition_planes(uses_beat_grid, beat_phase, mixture_onset)
    net = UNet2DModel(
        **dict(unet_config),
        sample_size=(latent_channels, window_frames),
        in_channels=1 + planes,
        out_channels=1,
        num_class_embeds=num_stems,
        time_embedding_type="positional",
    )
    if cond_width > 0:
        ConditionPyramid.attach(net, ConditionPyramid(planes, net.config.block_out_channels,
                                                      cond_width))
    return net


class Denoiser(nn.Module):
    """Preconditioned denoiser ``D(x; σ, cond)`` around a ``UNet2DModel`` (module docstring)."""

    def __init__(self, net: UNet2DModel, *, sigma_data: float, sigma_min: float,
                 parameterization: str = "edm", uses_beat_grid: bool = False,
                 channels_last: bool = False, beat_phase: str = "cos",
                 noise_scale: float = EDM_NOISE_SCALE, history_planes: bool = True,
                 mixture_onset: bool = False) -> None:
        super().__init__()
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}, "
                             f"got {parameterization!r}")
        expected = 1 + num_condition_planes(uses_beat_grid, beat_phase, mixture_onset)
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
        self.noise_scale = float(noise_scale)
        self.history_planes = history_planes
        self.mixture_onset = mixture_onset
        # Channels-last convolutions are markedly faster on CPU (measured, docs/MODELS.md).
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)

    def scalings(self, sigma: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.parameterization == "consistency":
            return consistency_scalings(sigma, self.sigma_data, self.sigma_min,
                                        self.noise_scale)
        return edm_scalings(sigma, self.sigma_data, self.noise_scale)

    def planes(self, cond: Conditioning) -> torch.Tensor:
        """The conditioning image for this model (compute once per sampling run).

        Without ``history_planes`` the generated history is not shown clean: the target
        planes are zero, and the history reaches the network only through the noisy input,
        where the inpainting samplers (and the loss) put it noised to the current σ.
        """
        if not self.history_planes:
            cond = replace(cond, target_known=torch.zeros_like(cond.target_known))
        return condition_planes(cond, uses_beat_grid=self.uses_beat_grid,
                                beat_phase=self.beat_phase,
                                mixture_onset_plane=self.mixture_onset)

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


def _rebuilt(denoiser: Denoiser, net: UNet2DModel, **changes: Any) -> Denoiser:
    """A :class:`Denoiser` around ``net`` with ``denoiser``'s settings, except ``changes``."""
    settings: dict[str, Any] = dict(
        sigma_data=denoiser.sigma_data, sigma_min=denoiser.sigma_min,
        parameterization=denoiser.parameterization, uses_beat_grid=denoiser.uses_beat_grid,
        channels_last=denoiser.channels_last, beat_phase=denoiser.beat_phase,
        noise_scale=denoiser.noise_scale, history_planes=denoiser.history_planes,
        mixture_onset=denoiser.mixture_onset)
    return Denoiser(net, **{**settings, **changes})


def consistency_student(teacher: Denoiser) -> Denoiser:
    """A consistency-parameterised copy of a teacher (Song et al. 2023: distillation starts
    from the teacher's weights); the teacher is left untouched."""
    return _rebuilt(teacher, copy.deepcopy(teacher.net), parameterization="consistency")


def _widen(conv: nn.Conv2d, extra: int) -> nn.Conv2d:
    """``conv`` with ``extra`` more input channels at the end, their weights zero."""
    # a Conv2d's size attributes are pairs; torch types them as tuples of any length
    wider = nn.Conv2d(conv.in_channels + extra, conv.out_channels,
                      cast("tuple[int, int]", conv.kernel_size),
                      stride=cast("tuple[int, int]", conv.stride),
                      padding=cast("str | tuple[int, int]", conv.padding),
                      bias=conv.bias is not None)
    with torch.no_grad():
        wider.weight.zero_()
        wider.weight[:, :conv.in_channels] = conv.weight
        if conv.bias is not None:
            assert wider.bias is not None
            wider.bias.copy_(conv.bias)
    return wider.to(conv.weight.device, conv.weight.dtype)


def with_mixture_onset(denoiser: Denoiser) -> Denoiser:
    """A copy of ``denoiser`` that also reads the mixture's onset plane (a warm start that
    gains it). The plane comes last and its input weights start at zero, so the copy
    computes exactly the original's function until training moves them."""
    if denoiser.mixture_onset:
        raise ValueError("the model already reads the mixture's onset plane")
    net = copy.deepcopy(denoiser.net)
    net.conv_in = _widen(net.conv_in, ONSET_PLANES)
    net.register_to_config(in_channels=net.config.in_channels + ONSET_PLANES)
    pyramid = getattr(net, "cond_pyramid", None)
    if pyramid is not None:
        pyramid.stem[0] = _widen(pyramid.stem[0], ONSET_PLANES)
    return _rebuilt(denoiser, net, mixture_onset=True)


def sample_training_sigmas(batch: int, *, generator: torch.Generator | None = None,
                           p_mean: float = -1.2, p_std: float = 1.2) -> torch.Tensor:
    """EDM's log-normal training noise levels ``ln σ ~ N(p_mean, p_std²)`` (Karras 2022, §5)."""
    return (torch.randn(batch, generator=generator) * p_std + p_mean).exp()


def edm_loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """λ(σ) = (σ² + σ_d²) / (σ·σ_d)² (Karras et al. 2022, Table 1)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def onset_frame_weights(target: torch.Tensor, strength: float) -> torch.Tensor:
    """``(B, F)`` frame weights ``1 + strength·flux / mean flux`` of latents ``(B, C, F)``.

    flux: the mean over channels of the positive frame-to-frame rise (the first frame has
    none), each item normalised by its own mean, so a window of sparse hits weighs its onset
    frames up and a flat window stays at about 1 + strength everywhere. Most latent values are
    noise floor and sustained bands; a plain MSE rewards a smooth average over sharp, sparse
    hits, and these weights make a hit in the wrong frame cost more.
    """
    rise = spectral_rise(target)
    flux = torch.cat([rise.new_zeros(rise.shape[0], 1), rise], dim=1)
    return 1.0 + strength * flux / flux.mean(dim=1, keepdim=True).clamp(min=1e-6)


class LossDenoiser(Protocol):
    """What :func:`edm_loss` uses of a denoiser: a :class:`Denoiser`, or a training wrapper
    whose call goes through a distributed model (``training.ldm.LossModel``)."""

    sigma_data: float

    def planes(self, cond: Conditioning) -> torch.Tensor: ...

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, planes: torch.Tensor,
                 stem: torch.Tensor) -> torch.Tensor: ...


def edm_loss(denoiser: LossDenoiser, target: torch.Tensor, cond: Conditioning, *,
             sigma: torch.Tensor | None = None, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None, loss_frames: torch.Tensor | None = None,
             p_mean: float = -1.2, p_std: float = 1.2, onset_weight: float = 0.0,
             rise_weight: float = 0.0) -> torch.Tensor:
    """EDM denoising loss for clean target latents ``target (B, C, F)`` given ``cond``.

    ``loss_frames (B, F)`` bool chooses the frames that count (default: those not in
    ``cond.target_known``: what the model must generate). The noisy input covers the whole
    window, including the known frames, exactly as the inpainting samplers feed it: their
    known frames are the history the conditioning holds (``cond.target``, which training may
    have corrupted), the rest the clean target. ``onset_weight > 0`` weighs each frame by
    :func:`onset_frame_weights` (timing of sparse hits counts more than the sustained floor).
    ``rise_weight > 0`` adds that times the mean squared error of the estimate's
    :func:`spectral_rise` against the target's over the counted frames: a term in which
    when the hits land is the whole error, not a small part of it (most latent values are
    noise floor and sustained bands; at weight 1 the term is 4–17 % of the plain loss).
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
    if onset_weight > 0:
        weight = weight * onset_frame_weights(target, onset_weight)[:, None, None, :]
    per_item = ((denoised - x0) ** 2 * weight).sum(dim=(1, 2, 3)) / (
        weight.sum(dim=(1, 2, 3)) * x0.shape[2]).clamp(min=1.0)
    if rise_weight > 0:
        counted = (frames[:, 1:] & frames[:, :-1]).to(x0.dtype)
        error = (spectral_rise(denoised[:, 0]) - spectral_rise(target)) ** 2 * counted
        per_item = per_item + rise_weight * error.sum(dim=1) / counted.sum(dim=1).clamp(min=1.0)
    return (edm_loss_weight(sigma, denoiser.sigma_data) * per_item).mean()
