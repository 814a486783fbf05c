"""The training loop both stages share: accelerate, AdamW, warmup + cosine, clipping, EMA,
validation, resumable checkpoints, a JSON log, a loss-curve PNG and a progress bar.

A stage (:mod:`.ldm`, :mod:`.cd`) supplies the model and three callables: ``loss(model)``
(one training batch through the *prepared* model), ``validate(model)`` (numbers from the
EMA weights, on the unwrapped model) and ``export(directory, model)`` (write a loadable
checkpoint from the EMA weights). Everything with state that must survive a restart (its
random generators, a target network) goes in ``state`` and is saved with the checkpoint.

Run directory::

    OUT/run.json                 options and model config of the run
    OUT/log.jsonl                one line per logged step / validation (appended across resumes)
    OUT/loss.png                 train and validation loss curves (rewritten at checkpoints)
    OUT/checkpoints/step-NNNNNNN/  accelerate state: model, optimizer, scheduler, EMA, RNGs
    OUT/models/step-NNNNNNN/     loadable model (EMA weights) of each checkpoint
    OUT/model/                   the latest loadable model (what `load_pipeline(OUT/model)` serves)

The same code runs on one CPU, one GPU, or several with ``accelerate launch``: each process
draws its own batches (seeded by process index); only the main process writes files.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

log = logging.getLogger(__name__)

SCHEDULES = ("constant", "cosine")


class Stateful(Protocol):
    def state_dict(self) -> Any: ...
    def load_state_dict(self, state: Any) -> Any: ...


@dataclass(frozen=True)
class LoopOptions:
    """Optimisation and bookkeeping settings of one run (parsed once, by the CLI)."""

    out: Path
    steps: int
    batch_size: int = 16
    lr: float = 3e-4
    warmup: int = 500
    schedule: str = "cosine"
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    checkpoint_every: int = 500
    valid_every: int = 500
    log_every: int = 10
    keep_checkpoints: int = 2
    seed: int = 0
    mixed_precision: str = "no"
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "valid_every", "log_every",
                     "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not (self.lr > 0 and self.warmup >= 0 and 0 <= self.min_lr_ratio <= 1
                and 0 <= self.ema_decay < 1 and self.grad_clip > 0):
            raise ValueError("need lr > 0, warmup >= 0, 0 <= min_lr_ratio <= 1, "
                             "0 <= ema_decay < 1, grad_clip > 0")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be no, fp16 or bf16, got "
                             f"{self.mixed_precision!r}")


def lr_factor(step: int, options: LoopOptions) -> float:
    """Linear warmup to 1, then constant or a half cosine down to ``min_lr_ratio``."""
    if step < options.warmup:
        return (step + 1) / (options.warmup + 1)
    if options.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - options.warmup) / max(1, options.steps - options.warmup))
    return options.min_lr_ratio + (1 - options.min_lr_ratio) * 0.5 * (
        1 + math.cos(math.pi * progress))


class Counter:
    """Step count and accumulated training seconds (saved with each checkpoint)."""

    def __init__(self) -> None:
        self.step = 0
        self.seconds = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "seconds": self.seconds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.step, self.seconds = int(state["step"]), float(state["seconds"])


class GeneratorState:
    """A ``torch.Generator`` made checkpointable."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["state"])


def checkpoint_name(step: int) -> str:
    return f"step-{step:07d}"


def latest_checkpoint(out: Path) -> Path | None:
    found = sorted((out / "checkpoints").glob("step-*"))
    return found[-1] if found else None


class Trainer:
    """Owns the accelerator, optimizer, schedule and EMA of one run (module docstring)."""

    def __init__(self, model: nn.Module, options: LoopOptions, *,
                 state: Mapping[str, Stateful] | None = None) -> None:
        from accelerate import Accelerator
        from diffusers.training_utils import EMAModel

        self.options = options
        self.accelerator = Accelerator(mixed_precision=options.mixed_precision)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=options.lr, betas=(0.9, 0.99),
                                      weight_decay=options.weight_decay)
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        # Stepped once per optimizer step whatever the process count (not prepared, so
        # accelerate does not step it once per process).
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer.optimizer if hasattr(self.optimizer, "optimizer") else optimizer,
            lambda step: lr_factor(step, options))
        self.ema = EMAModel(self.unwrapped.parameters(), decay=options.ema_decay)
        self.counter = Counter()
        self.state = dict(state or {})
        for obj in (self.scheduler, self.ema, self.counter, *self.state.values()):
            self.accelerator.register_for_checkpointing(obj)

    # -- helpers ----------------------------------------------------------------------------
    @property
    def unwrapped(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.model)

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    def ema_weights(self) -> _EmaWeights:
        """Context manager: the unwrapped model holds the EMA weights inside it."""
        return _EmaWeights(self)

    # -- checkpoints ------------------------------------------------------------------------
    def resume(self, checkpoint: Path) -> None:
        self.accelerator.load_state(str(checkpoint))
        log.info("resumed from %s at step %d", checkpoint, self.counter.step)
        if self.is_main:
            _truncate_log(self.options.out / "log.jsonl", self.counter.step)

    def save(self, export: Callable[[Path, nn.Module], None]) -> Path:
        out = self.options.out
        name = checkpoint_name(self.counter.step)
        target = out / "checkpoints" / name
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(target))
        if self.is_main:
            with self.ema_weights() as model:
                export(out / "models" / name, model)
                export(out / "model", model)
            done = sorted((out / "checkpoints").glob("step-*"))
            for old in done[:-self.options.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
            plot_losses(out / "log.jsonl", out / "loss.png")
        self.accelerator.wait_for_everyone()
        return target

    # -- the loop ---------------------------------------------------------------------------
    def run(self, loss: Callable[[nn.Module], torch.Tensor],
            validate: Callable[[nn.Module], dict[str, float]],
            export: Callable[[Path, nn.Module], None],
            after_step: Callable[[], None] | None = None) -> None:
        from tqdm import tqdm

        o = self.options
        o.out.mkdir(parents=True, exist_ok=True)
        logfile = o.out / "log.jsonl"
        bar = tqdm(total=o.steps, initial=self.counter.step, desc=f"train {o.out.name}",
                   unit="step", disable=not (o.progress and self.is_main), dynamic_ncols=True)
        window: list[float] = []
        self.model.train()
        while self.counter.step < o.steps:
            started = time.perf_counter()
            with self.accelerator.autocast():
                value = loss(self.model)
            self.accelerator.backward(value)
            grad_norm = None
            if self.accelerator.sync_gradients:
                grad_norm = self.accelerator.clip_grad_norm_(self.model.parameters(),
                                                             o.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.ema.step(self.unwrapped.parameters())
            if after_step is not None:
                after_step()
            self.counter.step += 1
            self.counter.seconds += time.perf_counter() - started
            step = self.counter.step
            mean_loss = float(self.accelerator.gather(value.detach()[None]).mean())
            if not math.isfinite(mean_loss):
                raise FloatingPointError(f"loss is {mean_loss} at step {step}; lower --lr or "
                                         f"check the data")
            window.append(mean_loss)
            bar.update()
            bar.set_postfix(loss=f"{mean_loss:.4f}")
            if self.is_main and (step % o.log_every == 0 or step == o.steps):
                _append(logfile, {"step": step, "loss": sum(window) / len(window),
                                  "lr": self.scheduler.get_last_lr()[0],
                                  "grad_norm": None if grad_norm is None else float(grad_norm),
                                  "seconds": round(self.counter.seconds, 3),
                                  "time": time.time()})
                window.clear()
            if self.is_main and (step % o.valid_every == 0 or step == o.steps):
                self.model.eval()
                with self.ema_weights() as model, torch.no_grad():
                    numbers = validate(model)
                self.model.train()
                _append(logfile, {"step": step, **numbers})
                bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}"
                                                       for k, v in numbers.items()))
            if step % o.checkpoint_every == 0 or step == o.steps:
                self.save(export)
        bar.close()


class _EmaWeights:
    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def __enter__(self) -> nn.Module:
        params = list(self.trainer.unwrapped.parameters())
        self.trainer.ema.store(params)
        self.trainer.ema.copy_to(params)
        return self.trainer.unwrapped

    def __exit__(self, *exc: object) -> None:
        self.trainer.ema.restore(list(self.trainer.unwrapped.parameters()))


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _truncate_log(path: Path, step: int) -> None:
    """Drop records written after the checkpoint a run resumes from."""
    records = read_log(path)
    kept = [r for r in records if r["step"] <= step]
    if len(kept) != len(records):
        path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def plot_losses(logfile: Path, out: Path, title: str | None = None) -> Path | None:
    """Training loss (per logged step, and smoothed) and every validation number vs step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_log(logfile)
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    valid_keys = sorted({k for r in records for k in r if k.startswith("valid")})
    if not train:
        return None
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    steps, values = zip(*train, strict=True)
    ax.plot(steps, values, color="tab:blue", alpha=0.3, lw=0.8, label="train")
    # centred moving average over ~1/25 of the run (raw points are noisy per batch)
    k = max(1, len(values) // 25)
    smooth = [sum(values[max(0, i - k):i + k + 1]) / len(values[max(0, i - k):i + k + 1])
              for i in range(len(values))]
    ax.plot(steps, smooth, color="tab:blue", lw=1.5, label="train (smoothed)")
    for i, key in enumerate(valid_keys):
        pts = [(r["step"], r[key]) for r in records if key in r and r[key] is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", ms=3, lw=1.2, color=f"C{i + 1}", label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title or logfile.parent.name)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
