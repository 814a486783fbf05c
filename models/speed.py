"""Measure a whole pipeline step (encode + sample + decode) with randomly initialised weights.

Speed does not depend on the weights' values, so an architecture can be sized before it is
trained. Steps run on a real stream (state, masks, decode of the needed frames) with live
look-ahead w = 1 and a 512-sample crossfade.

    python -m sideman.models.speed --threads 2 --json out/speed.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import STEMS, StepRequest
from .codecs import build_codec
from .config import ModelConfig, default_unet
from .pipeline import StreamingPipeline
from .samplers import model_calls


def default_candidate(**overrides: Any) -> ModelConfig:
    """The embedded default's proposed config (mel codec, 256-frame window, 2-step CM)."""
    codec = build_codec("mel")
    kwargs: dict[str, Any] = dict(
        name="default-candidate", window_frames=256, trained_hop_frames=(32, 64),
        trained_lookaheads=(-1, 0, 1, 2), unet=default_unet(), kind="consistency",
        sampler="consistency", default_steps=2, max_steps=8,
    )
    kwargs.update(overrides)
    return ModelConfig.for_codec(codec, **kwargs)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--unet", type=json.loads, default=None,
                        help="UNet2DModel architecture as JSON (default: the proposal)")
    parser.add_argument("--steps", type=int, default=8, help="measured steps per setting")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    config = default_candidate(**({"unet": args.unet} if args.unet else {}))
    results = [measure(config, threads=t, steps=args.steps,
                       channels_last=not args.no_channels_last) for t in args.threads]
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
