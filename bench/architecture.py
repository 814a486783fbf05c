"""Size an architecture before it is trained: a whole pipeline step with random weights.

Speed does not depend on the weights' values, so an architecture's step time (encode +
sample + decode) can be measured before it is trained. Steps run on a real stream (state,
masks, decode of the needed frames) with live look-ahead w = 1 and a 512-sample crossfade.
This is the bench's design-time part (``sideman measure architecture``); ``sideman bench``
times trained models through the live server.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sideman.models.base import STEMS, StepRequest

if TYPE_CHECKING:  # torch and the models load in the functions: `sideman --help` stays quick
    from sideman.models.config import ModelConfig
    from sideman.models.pipeline import StreamingPipeline


@dataclass(frozen=True)
class ArchitectureRun:
    """What :func:`measure_architecture` times (``sideman measure architecture``)."""

    #: torch CPU threads; each value is measured in turn
    threads: tuple[int, ...] = (2,)
    #: measured steps per setting (after one warm-up step)
    steps: int = 8
    #: the U-Net in channels-last memory format (faster on CPUs)
    channels_last: bool = True
    #: ``UNet2DModel`` architecture (None: the proposal's, :func:`default_candidate`)
    unet: Mapping[str, Any] | None = None


def default_candidate(**overrides: Any) -> ModelConfig:
    """The embedded default's proposed config (mel codec, 256-frame window, 2-step CM): the
    bench's :func:`~.speed.default_architecture` at the hops this measures."""
    from .speed import default_architecture

    fields: dict[str, Any] = dict(name="default-candidate", trained_hop_frames=(32, 64),
                                  max_steps=8)
    fields.update(overrides)
    return default_architecture("consistency", **fields)


def measure_steps(pipe: StreamingPipeline, *, hop_frames: int, stems: int, num_steps: int,
                  steps: int = 8, xfade: int = 512, seed: int = 0) -> dict[str, Any]:
    """Median and best stage times (ms) of ``steps`` consecutive steps after one warm-up."""
    g = pipe.info.geometry(hop_frames=hop_frames, lookahead=1)
    rng = np.random.default_rng(seed)
    stream = pipe.new_stream()
    rows = []
    for k in range(steps + 1):
        mixture = (0.1 * rng.standard_normal(g.window_samples)).astype(np.float32)
        mixture[g.step_position(k) - g.window(k)[0]:] = 0.0
        request = StepRequest(stream=stream, step=k + 10, geometry=g, mixture=mixture,
                              stems=STEMS[:stems], num_steps=num_steps, xfade=xfade)
        start = time.perf_counter()
        (result,) = pipe.generate([request])
        total = time.perf_counter() - start
        if k:  # the first step pays one-off set-up costs
            rows.append({**result.timings, "total": total})
    hop_ms = 1000 * g.hop_seconds
    out: dict[str, Any] = {"hop_frames": hop_frames, "r": g.r, "hop_ms": hop_ms,
                           "stems": stems, "num_steps": num_steps}
    for key in ("encode", "sample", "decode", "total"):
        values = [1000 * row[key] for row in rows]
        out[f"{key}_ms_median"] = statistics.median(values)
        out[f"{key}_ms_min"] = min(values)
    out["total_fraction_of_hop_median"] = out["total_ms_median"] / hop_ms
    return out


def measure(config: ModelConfig, *, threads: int, stems: tuple[int, ...] = (1, 4),
            hops: tuple[int, ...] = (32, 64), steps: int = 8, channels_last: bool = True
            ) -> dict[str, Any]:
    """``config``'s size and step times (:func:`measure_steps`) for each hop and stem
    count, with random weights on ``threads`` torch threads."""
    import torch

    from sideman.models.codecs import build_codec
    from sideman.models.pipeline import StreamingPipeline
    from sideman.models.samplers import model_calls

    torch.set_num_threads(threads)
    codec = build_codec(config.codec, config.codec_params)
    pipe = StreamingPipeline.random(config, codec, channels_last=channels_last)
    params = sum(p.numel() for p in pipe.denoiser.parameters())
    rows = [measure_steps(pipe, hop_frames=h, stems=s, num_steps=config.default_steps,
                          steps=steps) for h in hops for s in stems]
    return {
        "unet": dict(config.unet), "parameters": params, "fp16_megabytes": 2 * params / 1e6,
        "sampler": config.sampler,
        "model_calls_per_step": model_calls(config.sampler, config.default_steps),
        "torch_threads": threads, "channels_last": channels_last, "steps": rows,
    }


def measure_architecture(run: ArchitectureRun) -> list[dict[str, Any]]:
    """:func:`measure` of the proposed default (or ``run.unet``) for each thread count."""
    config = default_candidate(**({"unet": dict(run.unet)} if run.unet else {}))
    return [measure(config, threads=t, steps=run.steps, channels_last=run.channels_last)
            for t in run.threads]
