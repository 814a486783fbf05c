"""What the two training stages share: data from the latent cache, windows, conditioning,
a fixed validation set, and the run's bookkeeping.

Both :mod:`.ldm` (the EDM teacher) and :mod:`.cd` (consistency distillation) train on the
same windows with the same conditioning; only the objective differs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from sideman.models.conditioning import Conditioning, TrainingGrid, TrainingMasks
from sideman.models.config import ModelConfig

from .cache import LatentCache, build_cache, cache_dir, open_cache
from .loader import BatchLoader, StepBatches, check_workers
from .loop import Sample, process_state
from .masks import GridOptions, draw_conditioning
from .windows import WindowOptions, Windows, WindowSampler, check_grid_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataOptions:
    """Where the songs come from and how training windows and masks are drawn."""

    data: Path
    cache: Path | None = None
    codec: str = "mel"
    #: music2latent weights (None: the package's own location); the mel codec has none
    codec_weights: Path | None = None
    #: probability of each stem (bass, drums, guitar, piano)
    stem_weights: tuple[float, ...] = (0.2, 0.4, 0.2, 0.2)
    keep_silent: float = 0.15
    p_drop_beat: float = 0.5
    #: mixture dropped (every frame unknown), so mixture guidance has a trained "no mix"
    p_drop_mixture: float = 0.0
    #: no known history at all (the model must take the part from the mix and the grid)
    p_no_history: float = 0.05
    #: known history corrupted (noise up to ``history_noise``, blur or dropped frames)
    p_corrupt_history: float = 0.0
    history_noise: float = 1.0
    #: known history moved by up to ``history_shift`` frames (timing from the mix, not it)
    p_shift_history: float = 0.0
    history_shift: int = 24
    #: grid misplaced as a live tracker's can be (:class:`~.windows.WindowOptions`)
    p_wrong_grid: float = 0.0
    grid_octave: float = 0.5
    grid_phase_error: float = 0.1
    grid_tempo_error: float = 0.02
    focus_lookaheads: tuple[int, ...] = (1,)
    focus_prob: float = 0.25
    valid_windows: int = 64
    progress: bool = True
    #: processes drawing the next training batches ahead (0: inline; :mod:`.loader`)
    loader_workers: int = 0

    def __post_init__(self) -> None:
        check_workers(self.loader_workers)
        check_grid_error(self.p_wrong_grid, self.grid_octave, self.grid_phase_error,
                         self.grid_tempo_error)

    @property
    def cache_root(self) -> Path:
        return self.cache if self.cache is not None else Path(self.data) / "latents"


def load_latents(options: DataOptions, codec: Any) -> LatentCache:
    """The latent cache of ``options.data`` for ``codec``, built first where missing."""
    directory = cache_dir(options.cache_root, codec)
    if not (directory / "cache.json").is_file():
        log.info("building the latent cache in %s", directory)
    # one process builds a missing cache, the others wait and read it (under accelerate
    # launch they would otherwise all write the same files)
    with process_state().main_process_first():
        directory = build_cache(options.data, options.cache_root, codec,
                                progress=options.progress)
    return open_cache(directory, codec, splits=("train", "valid"))


def window_options(config: ModelConfig, options: DataOptions) -> WindowOptions:
    """How a stage draws its training windows for ``config``'s window."""
    return WindowOptions(window_frames=config.window_frames, stem_weights=options.stem_weights,
                         keep_silent=options.keep_silent,
                         silence_frames=min(64, config.window_frames),
                         p_wrong_grid=options.p_wrong_grid, grid_octave=options.grid_octave,
                         grid_phase_error=options.grid_phase_error,
                         grid_tempo_error=options.grid_tempo_error)


def grid_options(config: ModelConfig, options: DataOptions) -> GridOptions:
    return GridOptions.full(config.window_frames, config.trained_hop_frames,
                            focus_lookaheads=options.focus_lookaheads,
                            focus_prob=options.focus_prob, p_drop_beat=options.p_drop_beat,
                            p_drop_mixture=options.p_drop_mixture,
                            p_no_history=options.p_no_history,
                            p_corrupt_history=options.p_corrupt_history,
                            history_noise=options.history_noise,
                            p_shift_history=options.p_shift_history,
                            history_shift=options.history_shift)


@dataclass
class Batch:
    """One batch ready for a loss: clean target latents and their conditioning."""

    target: torch.Tensor  # (B, C, F)
    cond: Conditioning
    hops: torch.Tensor  # (B,)

    def to(self, device: torch.device) -> Batch:
        return Batch(self.target.to(device), self.cond.to(device), self.hops.to(device))


@dataclass
class StageData:
    """Everything a stage draws its batches from (built once per run)."""

    cache: LatentCache
    config: ModelConfig
    grid: GridOptions
    train: WindowSampler
    context_frames: tuple[int, int]
    #: the loss's generator (σ, noise); each batch has its own (:mod:`.loader`)
    generator: torch.Generator
    seed: int = 0
    process_index: int = 0
    valid: list[Batch] = field(default_factory=list)
    valid_w1: list[Batch] = field(default_factory=list)

    def loader(self, batch_size: int, workers: int = 0) -> BatchLoader:
        """The training batch of each step, seeded by (seed, process, step), drawn inline
        or ahead by ``workers`` processes (:mod:`.loader`)."""
        return BatchLoader(StepBatches(self, batch_size), workers)

    def condition(self, windows: Windows, grid: GridOptions, generator: torch.Generator
                  ) -> Batch:
        cond, hops = draw_conditioning(
            windows.target, windows.mixture, windows.stem, windows.beat, options=grid,
            context_frames=self.context_frames, generator=generator,
            uses_beat_grid=self.config.uses_beat_grid)
        return Batch(windows.target, cond, hops)


def stage_data(cache: LatentCache, config: ModelConfig, codec: Any, options: DataOptions, *,
               window: WindowOptions, batch_size: int, seed: int, process_index: int = 0
               ) -> StageData:
    """Samplers for training (seeded per process) and a fixed validation set.

    Validation: ``options.valid_windows`` windows of the valid split (the train split if the
    data has no valid songs), conditioned once over the whole grid (``valid``) and once
    with the live look-ahead w = 1 at the smallest trained hop (``valid_w1``).
    """
    silence = codec.silence_latent().float().numpy()
    train_songs = cache.split("train")
    if not train_songs:
        raise ValueError(f"{cache.path} has no 'train' songs")
    valid_songs = cache.split("valid")
    if not valid_songs:
        log.warning("no 'valid' songs in %s: validating on training songs", cache.path)
        valid_songs = train_songs
    kwargs = dict(silence=silence, hop_length=codec.hop_length, sample_rate=codec.sample_rate)
    train = WindowSampler(train_songs, window, seed=seed * 1000 + process_index, **kwargs)
    grid = grid_options(config, options)
    data = StageData(cache=cache, config=config, grid=grid, train=train,
                     context_frames=tuple(codec.context_frames),
                     generator=torch.Generator().manual_seed(seed * 1000 + process_index + 1),
                     seed=seed, process_index=process_index)
    # validation sees the true grid, so its loss compares across runs with and without errors
    valid_sampler = WindowSampler(valid_songs, replace(window, p_wrong_grid=0.0), seed=12345,
                                  **kwargs)
    valid_gen = torch.Generator().manual_seed(54321)
    hop = min(config.trained_hop_frames)
    w1 = GridOptions(grid=TrainingGrid(config.window_frames, (hop,), (1,)),
                     masks=TrainingMasks(p_drop_beat=options.p_drop_beat, p_no_history=0.0,
                                         p_history_gap=0.0))
    left = options.valid_windows
    while left > 0:
        n = min(batch_size, left)
        windows = valid_sampler.draw(n)
        data.valid.append(data.condition(windows, grid, valid_gen))
        data.valid_w1.append(data.condition(windows, w1, valid_gen))
        left -= n
    return data


def fixed_noise(batches: Sequence[Batch], seed: int, p_mean: float, p_std: float
                ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per validation batch a fixed ``(sigma (B,), noise (B, 1, C, F))``."""
    from sideman.models.denoiser import sample_training_sigmas

    gen = torch.Generator().manual_seed(seed)
    out = []
    for b in batches:
        n = b.target.shape[0]
        sigma = sample_training_sigmas(n, generator=gen, p_mean=p_mean, p_std=p_std)
        out.append((sigma, torch.randn((n, 1, *b.target.shape[1:]), generator=gen)))
    return out


def mean_over(batches: Sequence[Batch], fn: Callable[[Batch, int], torch.Tensor],
              device: torch.device) -> float:
    """Item-weighted mean of ``fn(batch, index)`` over fixed validation batches."""
    total, count = 0.0, 0
    for i, b in enumerate(batches):
        n = b.target.shape[0]
        total += float(fn(b.to(device), i)) * n
        count += n
    return total / max(count, 1)


def validation_sample(codec: Any, batch: Batch, generated: torch.Tensor) -> Sample:
    """Item 0 of a validation batch and its generated latent ``(B, 1, C, F)``, decoded."""
    real = batch.target[:1].detach().float().cpu()
    made = generated[:1, 0].detach().float().cpu()
    audio = codec.decode(torch.cat([real, made]), seeds=[0, 0]).numpy()
    frames = torch.nonzero(~batch.cond.target_known[0].cpu()).flatten()
    seconds = codec.hop_length / codec.sample_rate
    region = ((float(frames.min()) * seconds, float(frames.max() + 1) * seconds)
              if len(frames) else (0.0, 0.0))
    return Sample(real=audio[0], generated=audio[1], sample_rate=codec.sample_rate,
                  region=region)


def write_run(out: Path, stage: str, options: dict[str, Any], config: ModelConfig,
              cache: LatentCache, processes: int = 1) -> None:
    """``OUT/run.json``: what this run was started with (kept from the first start)."""
    path = out / "run.json"
    record = {"stage": stage, "options": options, "config": config.to_dict(),
              "cache": str(cache.path), "cache_stats": cache.index.get("stats_train"),
              "processes": processes}
    if path.is_file():
        earlier = json.loads(path.read_text())
        if earlier.get("config") != record["config"]:
            raise ValueError(f"{path} was written for another model config; resume with the "
                             f"same options or use another --out")
        record["resumed_with"] = [*earlier.get("resumed_with", []), options]
        record["options"] = earlier["options"]
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")


def jsonable(obj: Any) -> Any:
    """Dataclass options as JSON-ready values (paths as strings)."""
    data = asdict(obj) if hasattr(obj, "__dataclass_fields__") else dict(obj)
    return json.loads(json.dumps(data, default=str))


def parse_stem_weights(text: str) -> tuple[float, ...]:
    """``"bass=0.2,drums=0.4,guitar=0.2,piano=0.2"`` (or four numbers) → weights."""
    from .datasets import STEMS

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if all("=" in p for p in parts):
        given = {}
        for p in parts:
            k, v = p.split("=", 1)
            if k.strip() not in STEMS:
                raise ValueError(f"unknown stem {k!r} in stem weights; stems: {STEMS}")
            given[k.strip()] = float(v)
        return tuple(given.get(s, 0.0) for s in STEMS)
    values = tuple(float(p) for p in parts)
    if len(values) != len(STEMS):
        raise ValueError(f"stem weights need {len(STEMS)} numbers ({', '.join(STEMS)}) or "
                         f"stem=weight pairs, got {text!r}")
    return values
