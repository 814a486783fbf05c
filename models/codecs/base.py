"""The codec interface: audio ⇄ latent frames, with exact units.

A codec maps ``hop_length`` model-clock samples to one latent frame of ``latent_channels``
values. Frame ``j`` of an encoding that starts at sample ``s`` stands for the samples
``[s + j·hop_length, s + (j+1)·hop_length)``.

Shapes and units at this boundary (all ``torch.float32``):

* ``encode(audio)``: ``audio (B, N)`` mono samples at ``sample_rate``, ``N`` a multiple of
  ``hop_length``; samples outside ``[0, N)`` count as zero. Returns ``(B, C, N // hop_length)``.
* ``decode(latent, skip_frames=k)``: ``latent (B, C, F)``; returns the audio of frames
  ``[k, F)``: ``(B, (F - k)·hop_length)``. The ``k`` skipped frames are left context that
  makes the first returned samples as good as the rest (see ``decode_context_frames``).

``context_frames = (left, right)``: how many frames at each end of an encoding depend on
samples outside the encoded span (zero there). The pipeline treats those frames of the
mixture as unknown, so a frame marked known is exactly what a whole-song encoding gives:
training may cut windows from cached song latents and see the same conditioning.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import torch

from ..base import GeneratorError


class CodecError(GeneratorError):
    """A codec cannot be built (missing weights, bad parameters) or got bad input."""


class Codec(abc.ABC):
    """Audio ⇄ latent frames. See the module docstring for shapes and units."""

    #: Registry name recorded in checkpoints (``"mel"``, ``"music2latent"``).
    name: str
    sample_rate: int
    hop_length: int
    latent_channels: int
    #: Frames at the (left, right) end of an encoding that depend on audio outside it.
    context_frames: tuple[int, int]
    #: Latent frames of left context ``decode`` wants before the first frame it returns.
    decode_context_frames: int
    #: The keys of :meth:`params` that fix the latent space (a model trained on one latent
    #: space refuses a codec with other values); the rest are decoder/runtime settings.
    LATENT_KEYS: tuple[str, ...] = ()

    def latent_bounds(self) -> tuple[float, float] | None:
        """``(low, high)`` that every latent value of real audio lies in, or ``None`` when the
        latent space is unbounded. Samplers clamp their estimates to it: a few-step sampler
        can overshoot, and a streaming model feeds its own output back as the next window's
        known target, so one overshoot would otherwise grow step after step."""
        return None

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """JSON-serialisable constructor parameters (recorded in checkpoints)."""

    def latent_params(self) -> dict[str, Any]:
        """The part of :meth:`params` that fixes the latent space."""
        params = self.params()
        return {key: params[key] for key in self.LATENT_KEYS}

    @abc.abstractmethod
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` samples → ``(B, C, N // hop_length)`` latent frames."""

    @abc.abstractmethod
    def decode(self, latent: torch.Tensor, *, skip_frames: int = 0,
               seeds: Sequence[int] | None = None) -> torch.Tensor:
        """``(B, C, F)`` latent → ``(B, (F - skip_frames)·hop_length)`` samples.

        ``seeds`` (one per item) fix any randomness of the decoder per item, so an item
        decodes the same whether it is alone or batched.
        """

    def silence_latent(self) -> torch.Tensor:
        """``(C,)``: the latent frame of digital silence (frames before a stream starts)."""
        frames = 4 * (1 + sum(self.context_frames))
        latent = self.encode(torch.zeros(1, frames * self.hop_length))
        return latent[0, :, frames // 2]

    # -- shared argument checks ---------------------------------------------------------
    def _check_audio(self, audio: torch.Tensor) -> None:
        if audio.ndim != 2:
            raise CodecError(f"{self.name}.encode wants audio (B, N), got shape "
                             f"{tuple(audio.shape)}")
        if audio.shape[-1] % self.hop_length:
            raise CodecError(
                f"{self.name}.encode wants N a multiple of hop_length={self.hop_length}, "
                f"got N={audio.shape[-1]}"
            )

    def _check_latent(self, latent: torch.Tensor, skip_frames: int,
                      seeds: Sequence[int] | None) -> None:
        if latent.ndim != 3 or latent.shape[1] != self.latent_channels:
            raise CodecError(f"{self.name}.decode wants latent (B, {self.latent_channels}, F), "
                             f"got shape {tuple(latent.shape)}")
        if not 0 <= skip_frames < latent.shape[-1]:
            raise CodecError(f"skip_frames must be in [0, {latent.shape[-1]}), "
                             f"got {skip_frames}")
        if seeds is not None and len(seeds) != latent.shape[0]:
            raise CodecError(f"need one seed per item: {latent.shape[0]} items, "
                             f"{len(seeds)} seeds")
