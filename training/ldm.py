"""``sideman train ldm``: the EDM latent diffusion teacher.

Windows from the latent cache (:mod:`.windows`), conditioning over the whole (hop, w) grid
with the beat grid dropped at random (:mod:`.masks`), the EDM loss (Karras et al. 2022) on
the frames to generate only, ``sigma_data`` from the training latents' RMS; the loop of
:mod:`.loop` (AdamW, warmup + cosine, clipping, EMA, checkpoints, validation, plots).
The EMA weights are what gets exported (``OUT/model``, ``OUT/models/step-N``).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from sideman.models.base import GeneratorError
from sideman.models.checkpoint import build_denoiser, load_denoiser, save_pretrained
from sideman.models.codecs import build_codec
from sideman.models.conditioning import Conditioning
from sideman.models.config import ConfigError, ModelConfig, default_unet, tiny_unet
from sideman.models.denoiser import Denoiser, edm_loss, with_mixture_onset
from sideman.models.geometry import Geometry
from sideman.models.samplers import Inpaint, ItemNoise, karras_sigmas, ode_sigma_floor, sample_heun

from .datasets import STEMS
from .loop import GeneratorState, LoopOptions, Trainer, latest_checkpoint, process_state
from .probe import PROBE_LOG_SIGMAS, conditioning_probe, summary_numbers
from .stage import (
    Batch,
    DataOptions,
    fixed_noise,
    jsonable,
    load_latents,
    mean_over,
    stage_data,
    validation_sample,
    window_options,
    write_run,
)

log = logging.getLogger(__name__)


def wide_unet() -> dict[str, Any]:
    """The wider variant measured in docs/MODELS.md: (8, 16, 32, 96, 192), 5.8 M params."""
    return {**default_unet(), "block_out_channels": [8, 16, 32, 96, 192]}


UNETS = {"default": default_unet, "wide": wide_unet, "tiny": tiny_unet}


def unet_config(spec: str) -> dict[str, Any]:
    """``default``, ``wide``, ``tiny`` or a JSON file of ``UNet2DModel`` arguments."""
    if spec in UNETS:
        return UNETS[spec]()
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"--unet must be one of {', '.join(UNETS)} or a JSON file, got {spec!r}")
    return json.loads(path.read_text())


@dataclass(frozen=True)
class LdmOptions:
    """The teacher's model and objective (the data side is :class:`~.stage.DataOptions`)."""

    name: str = "sideman-ldm"
    window_frames: int = 256
    hop_frames: tuple[int, ...] = (32, 64)
    unet: str = "default"
    uses_beat_grid: bool = True
    #: beat-grid planes the network reads: "sincos" (unambiguous phase) or "cos" (as the
    #: embedded default was trained)
    beat_phase: str = "sincos"
    #: width of the conditioning pyramid (the planes added at every U-Net level; 0: none)
    cond_width: int = 0
    #: c_noise = noise_scale·ln σ (EDM: 0.25)
    noise_scale: float = 0.25
    #: the history shown clean in the target planes (False: only through the noisy input)
    history_planes: bool = True
    #: the mixture's onset plane (conditioning.mixture_onset) among the inputs; with ``init``
    #: a model without it gains it (its new input weights start at zero)
    mixture_onset: bool = False
    #: onset-weighted loss: each frame weighs 1 + onset_weight·(its flux / the window's mean)
    onset_weight: float = 0.0
    #: weight of the loss on the estimate's spectral rise per frame (denoiser.edm_loss)
    rise_weight: float = 0.0
    #: mean of ln σ in training; ``None``: EDM's -1.2 for σ_data = 0.5, moved by
    #: ln(σ_data / 0.5) so the noise levels scale with the data
    p_mean: float | None = None
    p_std: float = 1.2
    default_steps: int = 8
    max_steps: int = 32
    #: warm start: a teacher directory whose weights and config (architecture, σ_data,
    #: trained grid) the run starts from; ``None``: random weights
    init: Path | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rise_weight) and self.rise_weight >= 0):
            raise ValueError(f"--rise-weight {self.rise_weight} is out of range; allowed "
                             f">= 0 (0: no rise term)")
        if not (math.isfinite(self.onset_weight) and self.onset_weight >= 0):
            raise ValueError(f"--onset-weight {self.onset_weight} is out of range; allowed "
                             f">= 0 (0: the plain EDM loss)")


class LossModel:
    """What :func:`~sideman.models.denoiser.edm_loss` needs, around a prepared model.

    The forward call goes through the (possibly distributed) wrapper so gradients are
    synchronised; the attributes come from the denoiser inside.
    """

    def __init__(self, model: nn.Module, inner: Denoiser) -> None:
        self.model = model
        self.sigma_data = inner.sigma_data
        self.inner = inner

    def planes(self, cond: Conditioning) -> torch.Tensor:
        return self.inner.planes(cond)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, planes: torch.Tensor,
                 stem: torch.Tensor) -> torch.Tensor:
        return self.model(x, sigma, planes, stem)


def edm_p_mean(sigma_data: float) -> float:
    """EDM's P_mean (-1.2 at σ_data = 0.5) shifted so σ / σ_data is distributed alike."""
    return -1.2 + math.log(sigma_data / 0.5)


def model_config(options: LdmOptions, codec: Any, sigma_data: float) -> ModelConfig:
    top = Geometry.max_lookahead(options.window_frames, min(options.hop_frames))
    return ModelConfig.for_codec(
        codec, name=options.name, window_frames=options.window_frames,
        trained_hop_frames=tuple(options.hop_frames), trained_lookaheads=tuple(range(-1, top + 1)),
        stems=STEMS, uses_beat_grid=options.uses_beat_grid, beat_phase=options.beat_phase,
        cond_width=options.cond_width, noise_scale=options.noise_scale,
        history_planes=options.history_planes, mixture_onset=options.mixture_onset,
        unet=unet_config(options.unet),
        sigma_data=round(float(sigma_data), 4), kind="teacher", sampler="heun",
        default_steps=options.default_steps, max_steps=options.max_steps)


def warm_start(directory: Path, codec: Any, *, mixture_onset: bool = False
               ) -> tuple[Denoiser, ModelConfig]:
    """A teacher's denoiser and config to continue training from (its architecture, σ_data
    and trained grid are kept); refuses a distilled model or another codec.

    ``mixture_onset``: a teacher without the mixture's onset plane gains it, with zero input
    weights (the same function until trained); one that has it keeps it either way."""
    try:
        denoiser, config = load_denoiser(directory)
    except GeneratorError as exc:  # a missing or unreadable checkpoint, a bad config
        raise ValueError(f"--init {directory}: {exc}") from None
    if config.kind != "teacher":
        raise ValueError(f"--init {directory}: a {config.kind} model; warm starts take a "
                         f"teacher (EDM) model")
    try:
        config.check_codec(codec)
    except ConfigError as exc:
        raise ValueError(f"--init {directory}: {exc}") from None
    if mixture_onset and not config.mixture_onset:
        denoiser = with_mixture_onset(denoiser)
        config = replace(config, mixture_onset=True)
    denoiser.train()
    return denoiser, config


def train_ldm(options: LdmOptions, data: DataOptions, loop: LoopOptions, *,
              resume: bool | Path = False) -> Path:
    """Train (or resume) a teacher; returns the directory of the final exported model."""
    codec = build_codec(data.codec, weights=data.codec_weights)
    cache = load_latents(data, codec)
    torch.manual_seed(loop.seed)
    if options.init is not None:
        denoiser, config = warm_start(options.init, codec, mixture_onset=options.mixture_onset)
        config = replace(config, name=options.name)
    else:
        config = model_config(options, codec, cache.sigma_data)
        denoiser = build_denoiser(config)
    trainer_state: dict[str, Any] = {}
    window = window_options(config, data)
    process = process_state().process_index
    sd = stage_data(cache, config, codec, data, window=window, batch_size=loop.batch_size,
                    seed=loop.seed, process_index=process)
    loader = sd.loader(loop.batch_size, data.loader_workers)
    # "windows" keeps its checkpoint slot (an older checkpoint holds the sampler's generator)
    trainer_state = {"windows": loader, "generator": GeneratorState(sd.generator)}
    recorded = {"ldm": jsonable(options), "data": jsonable(data), "loop": jsonable(loop)}
    trainer = Trainer(denoiser, loop, state=trainer_state, hparams=recorded)
    if trainer.is_main:
        write_run(loop.out, "ldm", recorded, config, cache,
                  processes=trainer.accelerator.num_processes)
    if resume:
        checkpoint = latest_checkpoint(loop.out) if resume is True else Path(resume)
        if checkpoint is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {loop.out / 'checkpoints'}")
        trainer.resume(checkpoint)
    inner = cast(Denoiser, trainer.unwrapped)  # the model the trainer was given
    p_mean = edm_p_mean(config.sigma_data) if options.p_mean is None else options.p_mean
    valid_noise = fixed_noise(sd.valid, 7, p_mean, options.p_std)
    valid_noise_w1 = fixed_noise(sd.valid_w1, 8, p_mean, options.p_std)

    def loss(model: nn.Module) -> torch.Tensor:
        batch = loader.batch(trainer.counter.step).to(trainer.device)
        return edm_loss(LossModel(model, inner), batch.target, batch.cond,
                        generator=sd.generator, p_mean=p_mean, p_std=options.p_std,
                        onset_weight=options.onset_weight, rise_weight=options.rise_weight)

    def validate(model: nn.Module) -> dict[str, float]:
        assert isinstance(model, Denoiser)

        def one(noises: list) -> Any:
            def fn(b: Batch, i: int) -> torch.Tensor:
                sigma, noise = noises[i]
                return edm_loss(model, b.target, b.cond, sigma=sigma.to(b.target.device),
                                noise=noise.to(b.target.device))
            return fn

        return {"valid": mean_over(sd.valid, one(valid_noise), trainer.device),
                "valid_w1": mean_over(sd.valid_w1, one(valid_noise_w1), trainer.device),
                **summary_numbers(conditioning_probe(model, sd.valid_w1, PROBE_LOG_SIGMAS))}

    def export(directory: Path, model: nn.Module) -> None:
        assert isinstance(model, Denoiser)
        save_pretrained(directory, model, config)

    def sample(model: nn.Module) -> Any:
        assert isinstance(model, Denoiser)
        batch = sd.valid_w1[0].to(trainer.device)
        return validation_sample(codec, batch, sample_teacher(model, config, batch, codec,
                                                              config.default_steps, seed=0))

    with loader:  # its workers stop at the end of the run, or on an error
        trainer.run(loss, validate, export, sample=sample)
    return loop.out / "model"


def sample_teacher(model: Denoiser, config: ModelConfig, batch: Batch, codec: Any, steps: int,
                   *, seed: int) -> torch.Tensor:
    """The pipeline's Heun sampler (estimates clamped to the codec's bounds) on a batch's
    conditioning → ``(B, 1, C, F)``."""
    b, c, f = batch.target.shape
    dev = batch.target.device
    noise = ItemNoise([seed + i for i in range(b)], (1, c, f), device=dev)
    planes = model.planes(batch.cond)
    bounds = codec.latent_bounds()

    def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        estimate = model(x, sigma, planes, batch.cond.stem)
        return estimate if bounds is None else estimate.clamp(*bounds)

    floor = ode_sigma_floor(config.sigma_min, config.sigma_data)
    sigmas = karras_sigmas(steps, floor, config.sigma_max, config.rho).to(dev)
    return sample_heun(denoise, noise() * config.sigma_max, sigmas, noise=noise,
                       inpaint=Inpaint(batch.cond.target[:, None], batch.cond.target_known))
