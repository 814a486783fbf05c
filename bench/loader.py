"""How fast training batches are drawn, inline and with worker processes (``sideman measure
loader``).

The batches are those ``train ldm`` draws (:mod:`sideman.training.loader`) from a latent
cache, with the recipe's conditioning (history corruption, mixture and beat dropout) and
window. For each worker count in turn, in one run: the time to the first batch (start-up,
workers forked) and then the rate of the next ``batches``, the training process doing nothing
else, or sleeping ``step_ms`` per batch as if a GPU step ran (sleep, not CPU: a GPU step leaves
the cores to the workers). Numbers are ratios on the machine measured, not absolute claims:
the report records its cores and load.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoaderRun:
    """What :func:`measure_loader` times."""

    data: Path
    batch_size: int = 128
    workers: tuple[int, ...] = (0, 2)
    #: batches timed per worker count (after the first)
    batches: int = 20
    #: a simulated GPU step per batch, in ms (0: take batches as fast as they come)
    step_ms: float = 0.0
    window_frames: int = 256
    hops: tuple[int, ...] = (32, 64)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.batches < 1 or not self.workers:
            raise ValueError("--batch-size and --batches must be >= 1, --workers not empty")
        if min(self.workers) < 0:
            raise ValueError(f"--workers must be >= 0, got {list(self.workers)}")
        if self.step_ms < 0:
            raise ValueError(f"--step-ms must be >= 0, got {self.step_ms:g}")


def _digest(batch: Any) -> str:
    """A hash of a batch's tensors (the same batches must come out of every worker count)."""
    h = hashlib.sha256()
    c = batch.cond
    for t in (batch.target, batch.hops, c.mixture, c.mixture_known, c.target, c.target_known,
              c.stem, c.beat):
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def measure_loader(run: LoaderRun) -> dict[str, Any]:
    """Per worker count: start-up seconds, batches and windows per second, the speed-up
    over the first count; the inline time split between windows and conditioning."""
    import torch

    from sideman.models.codecs import build_codec
    from sideman.training.ldm import LdmOptions, model_config
    from sideman.training.recipe import MODEL, cores
    from sideman.training.stage import DataOptions, load_latents, stage_data
    from sideman.training.windows import WindowOptions

    data = DataOptions(data=run.data, p_drop_beat=MODEL.beat_dropout,
                       p_drop_mixture=MODEL.mixture_dropout,
                       p_corrupt_history=MODEL.history_corruption, valid_windows=1,
                       progress=False)
    codec = build_codec("mel")
    cache = load_latents(data, codec)
    config = model_config(LdmOptions(window_frames=run.window_frames, hop_frames=run.hops,
                                     beat_phase=MODEL.beat_phase, unet="tiny"),
                          codec, cache.sigma_data)
    window = WindowOptions(window_frames=run.window_frames, stem_weights=data.stem_weights,
                           keep_silent=data.keep_silent,
                           silence_frames=min(64, run.window_frames))
    sd = stage_data(cache, config, codec, data, window=window, batch_size=run.batch_size,
                    seed=run.seed)
    split = _inline_split(sd, run)
    rows: list[dict[str, Any]] = []
    for workers in run.workers:
        with sd.loader(run.batch_size, workers) as loader:
            t0 = time.perf_counter()
            digest = _digest(loader.batch(0))
            t1 = time.perf_counter()
            for step in range(1, run.batches + 1):
                loader.batch(step)
                if run.step_ms:
                    time.sleep(run.step_ms / 1000)
            seconds = time.perf_counter() - t1
        rows.append({"workers": workers, "startup_s": round(t1 - t0, 3),
                     "seconds": round(seconds, 3),
                     "batches_per_s": round(run.batches / seconds, 2),
                     "windows_per_s": round(run.batches * run.batch_size / seconds, 1),
                     "first_batch": digest})
    for row in rows:
        row["speedup"] = round(row["batches_per_s"] / rows[0]["batches_per_s"], 2)
    return {
        "data": str(run.data), "songs": len(cache.split("train")),
        "batch_size": run.batch_size, "batches": run.batches, "step_ms": run.step_ms,
        "window_frames": run.window_frames, "hops": list(run.hops),
        "machine": {"cores": cores(), "cpu_count": os.cpu_count(),
                    "loadavg": [round(x, 2) for x in os.getloadavg()],
                    "torch_threads": torch.get_num_threads()},
        "inline_ms": split, "runs": rows,
        "same_batches": len({row["first_batch"] for row in rows}) == 1,
    }


def _inline_split(sd: Any, run: LoaderRun, batches: int = 5) -> dict[str, float]:
    """Mean ms per batch of drawing the windows and of conditioning them, inline."""
    from sideman.training.loader import batch_generators
    from sideman.training.masks import draw_conditioning

    windows_s = conditioning_s = 0.0
    for step in range(batches):
        rng, generator = batch_generators(run.seed, 0, step)
        t0 = time.perf_counter()
        w = sd.train.draw(run.batch_size, rng=rng)
        t1 = time.perf_counter()
        draw_conditioning(w.target, w.mixture, w.stem, w.beat, options=sd.grid,
                          context_frames=sd.context_frames, generator=generator,
                          uses_beat_grid=sd.config.uses_beat_grid)
        t2 = time.perf_counter()
        windows_s += t1 - t0
        conditioning_s += t2 - t1
    return {"windows": round(1000 * windows_s / batches, 1),
            "conditioning": round(1000 * conditioning_s / batches, 1),
            "total": round(1000 * (windows_s + conditioning_s) / batches, 1)}
