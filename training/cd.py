"""``sideman train cd``: consistency distillation of the EDM teacher (Song et al., "Consistency
Models", ICML 2023, Algorithm 2).

Per item: a clean window ``x`` with its conditioning (the teacher's own masks, over the same
grid), an index ``n`` of the ``N``-level Karras discretisation ``σ_min = t_1 < … < t_N =
σ_max``, ``x_{n+1} = x + t_{n+1}·z``. The frozen teacher takes one Heun step of the
probability-flow ODE from ``t_{n+1}`` to ``t_n`` (:func:`~sideman.models.samplers.heun_step`),
the student maps ``x_{n+1}`` and an EMA *target* network maps the teacher's ``x̂_n``; the loss
is the distance between the two on the frames to generate. Known frames stay known: before
every network call they are the clean latent noised with the item's own ``z`` at the current
σ (the inpainting rule of the samplers), so the known region never drifts.

Distance: pseudo-Huber ``sqrt(|a - b|²/d + c²) - c`` per item (Song & Dhariwal 2023,
"Improved Techniques for Training Consistency Models"; normalised by the dimension ``d`` so
hops of different sizes weigh alike), or mean squared error. The student starts from the
teacher (:func:`~sideman.models.denoiser.consistency_student`); its slow EMA is exported as a
``kind="consistency"`` checkpoint sampled in ``default_steps`` (2) network calls.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sideman.models.checkpoint import load_denoiser, save_pretrained
from sideman.models.codecs import build_codec
from sideman.models.config import ModelConfig
from sideman.models.denoiser import Denoiser, consistency_student
from sideman.models.samplers import (
    Inpaint,
    ItemNoise,
    consistency_sigmas,
    heun_step,
    karras_sigmas,
    sample_consistency,
)

from .loop import GeneratorState, LoopOptions, Trainer, latest_checkpoint, process_state
from .probe import PROBE_LOG_SIGMAS, conditioning_probe, summary_numbers
from .stage import (
    Batch,
    DataOptions,
    jsonable,
    load_latents,
    stage_data,
    validation_sample,
    window_options,
    write_run,
)

log = logging.getLogger(__name__)

#: Pseudo-Huber constant per element (iCT's 0.00054·sqrt(d) with the distance divided by
#: sqrt(d)).
HUBER_C = 0.00054


@dataclass(frozen=True)
class CdOptions:
    """Distillation settings (the data side is :class:`~.stage.DataOptions`)."""

    teacher: Path
    name: str | None = None
    #: N, the number of Karras noise levels
    scales: int = 18
    #: μ, EMA decay of the target network
    target_decay: float = 0.95
    distance: str = "huber"
    huber_c: float | None = None
    default_steps: int = 2
    max_steps: int = 8

    def __post_init__(self) -> None:
        if self.scales < 2:
            raise ValueError(f"--scales must be >= 2, got {self.scales}")
        if not 0.0 <= self.target_decay < 1.0:
            raise ValueError(f"--target-decay must be in [0, 1), got {self.target_decay}")
        if self.distance not in ("huber", "l2"):
            raise ValueError(f"--distance must be huber or l2, got {self.distance!r}")
        if not 1 <= self.default_steps <= self.max_steps:
            raise ValueError(f"sampling steps must be in [1, {self.max_steps}]")


def student_config(teacher: ModelConfig, options: CdOptions) -> ModelConfig:
    return dataclasses.replace(teacher, name=options.name or f"{teacher.name}-cd",
                               kind="consistency", sampler="consistency",
                               default_steps=options.default_steps,
                               max_steps=options.max_steps)


def scale_levels(config: ModelConfig, scales: int) -> torch.Tensor:
    """``(N,)`` ascending: ``t_1 = σ_min < … < t_N = σ_max`` (Karras et al. 2022, Eq. 5)."""
    return karras_sigmas(scales, config.sigma_min, config.sigma_max, config.rho)[:-1].flip(0)


def distance(a: torch.Tensor, b: torch.Tensor, frames: torch.Tensor, kind: str,
             huber_c: float) -> torch.Tensor:
    """Per-item distance over ``frames (B, F)`` (True = counts) of ``(B, 1, C, F)`` latents."""
    weight = frames.to(a.dtype)[:, None, None, :]
    d = (weight.sum(dim=(1, 2, 3)) * a.shape[2]).clamp(min=1.0)
    mse = ((a - b) ** 2 * weight).sum(dim=(1, 2, 3)) / d
    if kind == "l2":
        return mse
    return (mse + huber_c**2).sqrt() - huber_c


class _Inpainted:
    """``denoise(x, σ)`` of a denoiser whose known frames are ``x0 + σ·z`` at every call."""

    def __init__(self, model: Any, planes: torch.Tensor, stem: torch.Tensor,
                 x0: torch.Tensor, z: torch.Tensor, known: torch.Tensor) -> None:
        self.model, self.planes, self.stem = model, planes, stem
        self.x0, self.z, self.where = x0, z, known[:, None, None, :]

    def fill(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        s = sigma.to(x.dtype).reshape(-1, 1, 1, 1)
        return torch.where(self.where, self.x0 + s * self.z, x)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.model(self.fill(x, sigma), sigma, self.planes, self.stem)


def cd_loss(student: Any, target: Denoiser, teacher: Denoiser, batch: Batch,
            levels: torch.Tensor, *, generator: torch.Generator, kind: str = "huber",
            huber_c: float = HUBER_C, index: torch.Tensor | None = None,
            noise: torch.Tensor | None = None) -> torch.Tensor:
    """One consistency-distillation loss (module docstring); ``student`` may be wrapped."""
    x0 = batch.target[:, None]
    b, dev = x0.shape[0], x0.device
    if index is None:
        index = torch.randint(len(levels) - 1, (b,), generator=generator)
    if noise is None:
        noise = torch.randn(x0.shape, generator=generator)
    t_next, t_now = levels[index + 1].to(dev), levels[index].to(dev)
    z = noise.to(dev)
    known = batch.cond.target_known
    planes = teacher.planes(batch.cond)
    x_next = x0 + t_next.reshape(-1, 1, 1, 1) * z
    with torch.no_grad():
        teach = _Inpainted(teacher, planes, batch.cond.stem, x0, z, known)
        x_now = teach.fill(heun_step(teach, x_next, t_next, t_now), t_now)
        goal = _Inpainted(target, planes, batch.cond.stem, x0, z, known)(x_now, t_now)
    pred = _Inpainted(student, planes, batch.cond.stem, x0, z, known)(x_next, t_next)
    return distance(pred, goal, ~known, kind, huber_c).mean()


def train_cd(options: CdOptions, data: DataOptions, loop: LoopOptions, *,
             resume: bool | Path = False) -> Path:
    """Distil ``options.teacher`` (or resume); returns the final exported model directory."""
    teacher, teacher_config = load_denoiser(options.teacher)
    teacher.requires_grad_(False)
    config = student_config(teacher_config, options)
    codec = build_codec(teacher_config.codec, teacher_config.codec_params,
                        weights=data.codec_weights)
    cache = load_latents(dataclasses.replace(data, codec=teacher_config.codec), codec)
    student = consistency_student(teacher).requires_grad_(True)
    target = consistency_student(teacher).requires_grad_(False)
    window = window_options(config, data)
    process = process_state().process_index
    sd = stage_data(cache, config, codec, data, window=window, batch_size=loop.batch_size,
                    seed=loop.seed, process_index=process)
    recorded = {"cd": jsonable(options), "data": jsonable(data), "loop": jsonable(loop)}
    loader = sd.loader(loop.batch_size, data.loader_workers)
    # "windows" keeps its checkpoint slot (an older checkpoint holds the sampler's generator)
    trainer = Trainer(student, loop, state={"windows": loader,
                                            "generator": GeneratorState(sd.generator),
                                            "target": target}, hparams=recorded)
    teacher.to(trainer.device).eval()
    target.to(trainer.device).eval()
    if trainer.is_main:
        write_run(loop.out, "cd", recorded, config, cache,
                  processes=trainer.accelerator.num_processes)
    if resume:
        checkpoint = latest_checkpoint(loop.out) if resume is True else Path(resume)
        if checkpoint is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {loop.out / 'checkpoints'}")
        trainer.resume(checkpoint)
    levels = scale_levels(config, options.scales)
    huber_c = HUBER_C if options.huber_c is None else options.huber_c
    inner = trainer.unwrapped

    def loss(model: nn.Module) -> torch.Tensor:
        batch = loader.batch(trainer.counter.step).to(trainer.device)
        return cd_loss(_Wrapped(model, inner), target, teacher, batch, levels,
                       generator=sd.generator, kind=options.distance, huber_c=huber_c)

    def after_step() -> None:
        with torch.no_grad():
            for t, s in zip(target.parameters(), inner.parameters(), strict=True):
                t.lerp_(s.detach(), 1.0 - options.target_decay)

    fixed = torch.Generator().manual_seed(99)
    valid_index = [torch.randint(len(levels) - 1, (b.target.shape[0],), generator=fixed)
                   for b in sd.valid]
    valid_noise = [torch.randn((b.target.shape[0], 1, *b.target.shape[1:]), generator=fixed)
                   for b in sd.valid]

    def validate(model: nn.Module) -> dict[str, float]:
        assert isinstance(model, Denoiser)
        dev = trainer.device
        total, count, err, err_n = 0.0, 0, 0.0, 0
        for i, b in enumerate(sd.valid):
            b = b.to(dev)
            value = cd_loss(model, model, teacher, b, levels, generator=fixed,
                            kind=options.distance, huber_c=huber_c, index=valid_index[i],
                            noise=valid_noise[i])
            total += float(value) * b.target.shape[0]
            count += b.target.shape[0]
        for i, b in enumerate(sd.valid_w1):
            b = b.to(dev)
            sample = sample_steps(model, config, b, options.default_steps, seed=1000 * i)
            region = ~b.cond.target_known
            err += float(((sample[:, 0] - b.target) ** 2 * region[:, None, :]).sum()
                         / (region.sum() * b.target.shape[1]))
            err_n += 1
        return {"valid": total / max(count, 1), "valid_w1_sample_mse": err / max(err_n, 1),
                **summary_numbers(conditioning_probe(model, sd.valid_w1, PROBE_LOG_SIGMAS))}

    def export(directory: Path, model: nn.Module) -> None:
        assert isinstance(model, Denoiser)
        save_pretrained(directory, model, config)

    def sample(model: nn.Module) -> Any:
        assert isinstance(model, Denoiser)
        batch = sd.valid_w1[0].to(trainer.device)
        return validation_sample(codec, batch, sample_steps(model, config, batch,
                                                            options.default_steps, seed=0))

    with loader:  # its workers stop at the end of the run, or on an error
        trainer.run(loss, validate, export, after_step=after_step, sample=sample)
    return loop.out / "model"


class _Wrapped:
    """Forward through the prepared (maybe distributed) student, attributes from inside."""

    def __init__(self, model: nn.Module, inner: nn.Module) -> None:
        self.model, self.inner = model, inner

    def __call__(self, *args: Any) -> torch.Tensor:
        return self.model(*args)


def sample_steps(model: Denoiser, config: ModelConfig, batch: Batch, steps: int, *,
                 seed: int) -> torch.Tensor:
    """The consistency sampler of the pipeline on a batch's conditioning → ``(B, 1, C, F)``."""
    b, c, f = batch.target.shape
    dev = batch.target.device
    noise = ItemNoise([seed + i for i in range(b)], (1, c, f), device=dev)
    planes = model.planes(batch.cond)

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return model(x, sigma, planes, batch.cond.stem)

    sigmas = consistency_sigmas(steps, config.sigma_min, config.sigma_max, config.rho).to(dev)
    x = noise() * config.sigma_max
    return sample_consistency(denoise, x, sigmas, noise=noise, sigma_min=config.sigma_min,
                              inpaint=Inpaint(batch.cond.target[:, None],
                                              batch.cond.target_known))
