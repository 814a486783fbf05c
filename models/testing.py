"""Tiny, fast, randomly initialised models for tests and smoke runs (no weights needed).

Other parts' tests can drive a real :class:`~.pipeline.StreamingPipeline` with these:
a whole step takes milliseconds on one CPU core.
"""

from __future__ import annotations

from typing import Any

from .codecs.mel import MelCodec
from .config import ModelConfig, tiny_unet
from .pipeline import StreamingPipeline


def tiny_mel_codec(**overrides: Any) -> MelCodec:
    """8 kHz, 128 samples per frame, 16 mel channels, 4 Griffin-Lim iterations."""
    params: dict[str, Any] = dict(sample_rate=8000, hop_length=128, n_fft=512, n_mels=16,
                                  gl_iters=4, decode_context_frames=2)
    params.update(overrides)
    return MelCodec(**params)


def tiny_config(codec: MelCodec | None = None, **overrides: Any) -> ModelConfig:
    """A 32-frame window (0.512 s at 8 kHz), hops of 4 and 8 frames, every valid w."""
    codec = codec or tiny_mel_codec()
    kwargs: dict[str, Any] = dict(
        name="tiny", window_frames=32, trained_hop_frames=(4, 8),
        trained_lookaheads=(-1, 0, 1, 2), unet=tiny_unet(), kind="consistency",
        sampler="consistency", default_steps=2, max_steps=4,
    )
    kwargs.update(overrides)
    return ModelConfig.for_codec(codec, **kwargs)


def tiny_pipeline(seed: int = 0, **overrides: Any) -> StreamingPipeline:
    """A randomly initialised tiny pipeline (``overrides`` go to :func:`tiny_config`)."""
    codec = tiny_mel_codec()
    return StreamingPipeline.random(tiny_config(codec, **overrides), codec, seed=seed)
