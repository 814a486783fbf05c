"""The conditioning probe: does the denoiser's estimate depend on what it hears?

The listening control of the evaluation (``sideman eval sweep``) judges whole streamed songs;
this asks the network directly, on one set of validation windows, in a second. For each noise
level σ the clean target is noised (fixed seeds) and denoised with the window's own
conditioning, then again with one part of the conditioning changed:

* ``mixture_swapped``: another window's mixture (same masks): another song's music;
* ``mixture_removed``: no mixture at all (every frame unknown);
* ``beat_removed``: no beat-grid planes (models with the beat-grid input only);
* ``history_removed``: no generated history (no known target frames);
* ``noise``: the same conditioning with other noise: the seed-to-seed change.

Each figure is the RMS change of the estimate over the frames to generate, in units of
σ_data; ``targets_swapped`` is the RMS difference between the windows' true targets and the
swapped windows' targets: how different the right answers for the two mixtures are. A model
that ignores the mixture has ``mixture_swapped`` 0 at every σ. At high σ the noisy input says
almost nothing, so a model that listens must move its estimate with the mixture there most
of all, while the noise change of an ideal denoiser goes to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from sideman.models.conditioning import Conditioning
from sideman.models.denoiser import Denoiser

#: Noise levels of the probe as multiples of σ_data.
PROBE_SIGMAS: tuple[float, ...] = (0.1, 0.5, 2.0, 10.0, 50.0)
#: The two levels a training run logs at each validation (``probe_mix_lo``/``_hi``).
PROBE_LOG_SIGMAS: tuple[float, ...] = (0.5, 10.0)
#: The changes the probe makes, in report order.
VARIANTS: tuple[str, ...] = ("mixture_swapped", "mixture_removed", "beat_removed",
                             "history_removed", "noise")


def _variants(cond: Conditioning, uses_beat_grid: bool) -> dict[str, Conditioning]:
    out = {
        "mixture_swapped": replace(cond, mixture=torch.roll(cond.mixture, 1, dims=0)),
        "mixture_removed": replace(cond, mixture_known=torch.zeros_like(cond.mixture_known)),
        "history_removed": replace(cond, target_known=torch.zeros_like(cond.target_known)),
    }
    if uses_beat_grid and cond.beat is not None:
        out["beat_removed"] = replace(cond, beat=torch.zeros_like(cond.beat))
    return out


@torch.no_grad()
def conditioning_probe(denoiser: Denoiser, batches: Sequence[Any],
                       sigmas: Sequence[float] | None = None, *, seed: int = 0,
                       history: bool = True) -> dict[str, dict[str, float]]:
    """``{variant: {"σ/σ_data": change}}`` over ``batches`` (objects with ``target (B, C, F)``
    and ``cond``), plus ``targets_swapped`` (one number per σ, the same for every σ).

    Changes are RMS over the frames to generate (not ``cond.target_known``), pooled over the
    batches, in units of σ_data. Batches of one window cannot swap mixtures: they are skipped
    for ``mixture_swapped`` (and ``targets_swapped``). ``history=False`` probes every window
    without its generated history (as a model trained without history sees it; the frames to
    generate are then the whole window's unknown ones, measured over the same region).
    """
    levels = PROBE_SIGMAS if sigmas is None else tuple(sigmas)
    sd = denoiser.sigma_data
    device = next(denoiser.parameters()).device
    sums: dict[str, dict[float, float]] = {v: dict.fromkeys(levels, 0.0) for v in VARIANTS}
    counts: dict[str, dict[float, float]] = {v: dict.fromkeys(levels, 0.0) for v in VARIANTS}
    target_sum = target_count = 0.0
    gen = torch.Generator().manual_seed(seed)
    was_training = denoiser.training
    denoiser.eval()
    try:
        for batch in batches:
            target = batch.target.to(device)
            cond = batch.cond.to(device)
            b = target.shape[0]
            region = (~cond.target_known).to(target.dtype)[:, None, None, :]
            if not history:
                cond = replace(cond, target_known=torch.zeros_like(cond.target_known))
            weight = float(region.sum()) * target.shape[1]
            variants = _variants(cond, denoiser.uses_beat_grid)
            if b < 2:
                variants.pop("mixture_swapped")
            else:
                diff = (target - torch.roll(target, 1, dims=0))[:, None] * region
                target_sum += float((diff ** 2).sum())
                target_count += weight
            planes = {k: denoiser.planes(c) for k, c in variants.items()}
            own = denoiser.planes(cond)
            for level in levels:
                sigma = torch.full((b,), level * sd, device=device)
                noises = [torch.randn(target[:, None].shape, generator=gen).to(device)
                          for _ in range(2)]
                x = target[:, None] + sigma.reshape(-1, 1, 1, 1) * noises[0]
                base = denoiser(x, sigma, own, cond.stem)
                other_x = target[:, None] + sigma.reshape(-1, 1, 1, 1) * noises[1]
                changed = {k: denoiser(x, sigma, p, cond.stem) for k, p in planes.items()}
                changed["noise"] = denoiser(other_x, sigma, own, cond.stem)
                for key, estimate in changed.items():
                    sums[key][level] += float((((estimate - base) * region) ** 2).sum())
                    counts[key][level] += weight
    finally:
        denoiser.train(was_training)
    report = {v: {f"{level:g}": (sums[v][level] / counts[v][level]) ** 0.5 / sd
                  for level in levels if counts[v][level]} for v in VARIANTS}
    report = {v: values for v, values in report.items() if values}
    if target_count:
        value = (target_sum / target_count) ** 0.5 / sd
        report["targets_swapped"] = {f"{level:g}": value for level in levels}
    return report


def summary_numbers(report: dict[str, dict[str, float]]) -> dict[str, float]:
    """The probe in two numbers for a training log: the mixture-swap change at the lowest
    and the highest probed σ (``probe_mix_lo``, ``probe_mix_hi``)."""
    swapped = report.get("mixture_swapped", {})
    if not swapped:
        return {}
    keys = sorted(swapped, key=float)
    return {"probe_mix_lo": swapped[keys[0]], "probe_mix_hi": swapped[keys[-1]]}


def probe_table(report: dict[str, dict[str, float]]) -> str:
    """A markdown table: one row per variant, one column per σ / σ_data."""
    levels = sorted({k for values in report.values() for k in values}, key=float)
    lines = ["| change (RMS, σ_data units) | " + " | ".join(f"σ = {k}·σ_data" for k in levels)
             + " |", "|---|" + "---|" * len(levels)]
    for variant, values in report.items():
        lines.append(f"| {variant} | " + " | ".join(
            f"{values[k]:.3f}" if k in values else "–" for k in levels) + " |")
    return "\n".join(lines)


def run_probe(model: str, data: str, *, cache: str | None = None, windows: int = 64,
              sigmas: Sequence[float] | None = None, codec_weights: str | None = None,
              progress: bool = True, history: bool = True) -> dict[str, dict[str, float]]:
    """:func:`conditioning_probe` of a model directory (or ``"default"``) on ``windows``
    validation windows of ``data`` at the live setting (w = 1, the smallest trained hop),
    drawn as training draws its fixed validation set (``training.stage``)."""
    from pathlib import Path

    from sideman.models.pipeline import load_pipeline

    from .stage import DataOptions, load_latents, stage_data
    from .windows import WindowOptions

    pipe = load_pipeline(model, codec_weights=codec_weights)
    options = DataOptions(data=Path(data), cache=None if cache is None else Path(cache),
                          codec=pipe.config.codec, valid_windows=windows, progress=progress)
    latents = load_latents(options, pipe.codec)
    sd = stage_data(latents, pipe.config, pipe.codec, options,
                    window=WindowOptions(window_frames=pipe.config.window_frames),
                    batch_size=16, seed=0)
    return conditioning_probe(pipe.denoiser, sd.valid_w1, sigmas, history=history)
