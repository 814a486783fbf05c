"""``sideman train recipe``: songs, latent cache, teacher and distilled student in one command
that ends within a time budget.

Phases and their shares of ``budget_minutes`` (:data:`SHARES`, :func:`budget_split`):

1. **data** (20 %): synthetic songs (:func:`~.synth.dataset.synthesize`) rendered straight at
   the mel codec's rate in chunks, one worker per core; after the first chunk the time per
   song of synthesis and of the latent cache is known, and songs are added while both still
   fit in the share; then the cache is built (:func:`~.cache.build_cache`, one worker per
   core). With ``data`` given, that set is used and only its missing latents are encoded.
2. **teacher** (55 %): :func:`~.ldm.train_ldm` with a deadline (:mod:`.loop`: the run times
   its first steps and fixes its length so its learning-rate schedule ends in time).
3. **distillation** (20 %): :func:`~.cd.train_cd` from the teacher, with a deadline.
4. **finish** (5 %): the student saved in float16 (as the shipped default), the teacher
   copied, a model card and ``recipe.json``.

Time a phase does not use goes to the next ones (each training deadline is set when the phase
starts, from the time left). Output folder::

    OUT/data/                    the songs and their latents (unless ``data`` is given)
    OUT/runs/teacher/, runs/cd/  the two training runs (logs, curves, checkpoints, samples)
    OUT/teacher/                 the teacher (float32)
    OUT/model/                   the distilled student (float16), MODEL_CARD.md, loss curves
    OUT/recipe.json              the command, device, budget and each phase's numbers

Ctrl-C keeps what was made: the newest exported student (or teacher) is packaged and
``recipe.json`` names the phase that was interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Each phase's share of the budget (the order they run in).
SHARES = {"data": 0.20, "teacher": 0.55, "distillation": 0.20, "finish": 0.05}
#: A training phase needs at least this long to start, time its steps and export.
MIN_PHASE_SECONDS = 15.0
#: Songs of the first data chunk at least (a few of them valid and test songs).
FIRST_SONGS = 10
#: Windows per step on a GPU for the default U-Net (2.7 M parameters, 256 × 64 latents):
#: a GPU is far from full at the stages' CPU default of 16.
GPU_BATCH = 128
CPU_BATCH = 16
#: Optimisation of the two stages (the ``train ldm`` / ``train cd`` defaults); the step
#: count comes from the budget, so ``steps`` is only a cap.
TEACHER_LOOP = {"lr": 3e-4, "warmup": 500, "ema_decay": 0.999}
CD_LOOP = {"lr": 5e-5, "warmup": 100, "ema_decay": 0.999}
STEP_CAP = 1_000_000
@dataclass(frozen=True)
class Smoke:
    """What ``smoke`` changes: a tiny model, a few short songs (with seed 1 the 7th is the
    first valid one), a few steps."""

    songs: int = 7
    seconds: float = 6.0
    unet: str = "tiny"
    window_frames: int = 64
    hops: tuple[int, ...] = (8, 16)
    batch_size: int = 2
    teacher_steps: int = 6
    cd_steps: int = 4


SMOKE = Smoke()


@dataclass(frozen=True)
class ModelOptions:
    """The model options the recipe trains with (``train ldm`` options of those names)."""

    beat_phase: str = "sincos"
    noise_scale: float = 1.0
    history_corruption: float = 0.5
    mixture_dropout: float = 0.1
    beat_dropout: float = 0.5


MODEL = ModelOptions()

class RecipeError(ValueError):
    """The recipe cannot run as asked (the message says why and what would do)."""


@dataclass(frozen=True)
class RecipeOptions:
    """What ``sideman train recipe`` was asked for (parsed once, by the CLI)."""

    out: Path
    budget_minutes: float
    #: an existing data set (no synthesis); ``None``: synthesize into ``out/data``
    data: Path | None = None
    #: most songs to synthesize (the data share decides how many are made)
    songs: int = 2000
    seconds: float = 30.0
    seed: int = 1
    #: the mel codec's rate: the songs need no resampling to be encoded
    sample_rate: int = 22050
    soundfonts: tuple[str, ...] = ()
    #: worker processes for synthesis and the cache (``None``: one per core)
    jobs: int | None = None
    unet: str = "default"
    window_frames: int = 256
    hops: tuple[int, ...] = (32, 64)
    #: ``None``: the device's default (:func:`device_defaults`)
    batch_size: int | None = None
    mixed_precision: str | None = None
    #: processes drawing batches ahead (``None``: the device's default)
    loader_workers: int | None = None
    tracker: str = "auto"
    smoke: bool = False
    progress: bool = True
    #: the words the command was typed with (for the card)
    command: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.budget_minutes) and self.budget_minutes > 0):
            raise RecipeError(f"--budget-minutes {self.budget_minutes:g} is out of range; "
                              f"allowed > 0")
        for name in ("songs", "jobs", "batch_size", "window_frames"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise RecipeError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.data is not None and not Path(self.data).is_dir():
            raise RecipeError(f"--data {self.data} is not a directory")
        if not self.hops or min(self.hops) < 1:
            raise RecipeError(f"hops must be >= 1 frames, got {self.hops}")
        if self.mixed_precision not in (None, "no", "fp16", "bf16"):
            raise RecipeError(f"--mixed-precision must be no, fp16 or bf16, got "
                              f"{self.mixed_precision!r}")
        # what the later phases would refuse, refused before anything runs
        from .ldm import unet_config
        from .loader import check_workers
        from .synth.dataset import SynthOptions

        try:
            if self.loader_workers is not None:
                check_workers(self.loader_workers)
            unet_config(self.unet)
            if self.data is None:
                SynthOptions(seed=self.seed, songs=self.songs, seconds=self.seconds,
                             sample_rate=self.sample_rate, soundfonts=self.soundfonts)
        except ValueError as exc:
            raise RecipeError(str(exc)) from None

    def resolved(self) -> RecipeOptions:
        """With ``smoke``'s sizes applied (what the run actually uses)."""
        if not self.smoke:
            return self
        return dataclasses.replace(
            self, songs=min(self.songs, SMOKE.songs), seconds=SMOKE.seconds, unet=SMOKE.unet,
            window_frames=SMOKE.window_frames, hops=SMOKE.hops,
            batch_size=self.batch_size or SMOKE.batch_size)


@dataclass(frozen=True)
class Device:
    """Where training runs and the defaults that follow from it."""

    kind: str
    name: str
    mixed_precision: str
    batch_size: int
    cores: int
    #: processes drawing batches ahead of the steps
    loader_workers: int = 0


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cpu_has_bf16() -> bool:
    """oneDNN runs bfloat16 natively here (AVX-512 BF16 or AMX): then bf16 autocast pays."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def device_defaults() -> Device:
    """CUDA: bf16 (fp16 where the GPU lacks it), :data:`GPU_BATCH` windows per step and
    :func:`gpu_loader_workers`; CPU: bf16 where the CPU runs it natively, else fp32,
    :data:`CPU_BATCH` and batches drawn inline (the cores are training)."""
    import torch

    if torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        return Device("cuda", torch.cuda.get_device_name(0), "bf16" if bf16 else "fp16",
                      GPU_BATCH, cores(), gpu_loader_workers(cores()))
    return Device("cpu", cpu_name(), "bf16" if cpu_has_bf16() else "no", CPU_BATCH, cores())


def gpu_loader_workers(n: int) -> int:
    """Batch-drawing processes beside a GPU: every core but two (the training process and
    one spare); a batch of 128 takes tens of ms of one core to draw, a GPU step less."""
    return max(0, n - 2)


def cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def budget_split(seconds: float, *, synthesize: bool = True) -> dict[str, float]:
    """Planned seconds of each phase; without synthesis the data share goes to training (the
    cache of a given set takes what it takes, and the training shares shrink by that)."""
    shares = dict(SHARES)
    if not synthesize:
        rest = shares.pop("data")
        train = shares["teacher"] + shares["distillation"]
        shares = {"data": 0.0, "teacher": shares["teacher"] + rest * shares["teacher"] / train,
                  "distillation": shares["distillation"]
                  + rest * shares["distillation"] / train, "finish": shares["finish"]}
    return {k: v * seconds for k, v in shares.items()}


def check_budget(seconds: float, *, synthesize: bool = True) -> dict[str, float]:
    """:func:`budget_split`, refusing a budget whose training phases get under
    :data:`MIN_PHASE_SECONDS`."""
    split = budget_split(seconds, synthesize=synthesize)
    short = min(split["teacher"], split["distillation"])
    if short < MIN_PHASE_SECONDS:
        need = seconds * MIN_PHASE_SECONDS / short / 60.0
        raise RecipeError(
            f"--budget-minutes {seconds / 60:g} is too small: the distillation would get "
            f"{split['distillation']:.0f} s and the teacher {split['teacher']:.0f} s; "
            f"each needs at least {MIN_PHASE_SECONDS:.0f} s, so at least {need:.2f} minutes")
    return split


def training_deadlines(now: float, end: float, budget: float) -> tuple[float, float]:
    """(teacher, distillation) deadlines when training starts at ``now``: the time left
    before the finishing reserve, in the teacher : distillation ratio of :data:`SHARES`."""
    finish = end - SHARES["finish"] * budget
    teacher = SHARES["teacher"] / (SHARES["teacher"] + SHARES["distillation"])
    return now + (finish - now) * teacher, finish


# -- the run -------------------------------------------------------------------------------
class _Say:
    """Phase lines above the progress bars (or to the log without them)."""

    def __init__(self, progress: bool) -> None:
        self.progress = progress

    def __call__(self, text: str) -> None:
        if self.progress:
            from tqdm import tqdm

            tqdm.write(f"recipe: {text}")
        else:
            log.info("recipe: %s", text)


def run_recipe(options: RecipeOptions, *, clock: Callable[[], float] = time.time
               ) -> dict[str, Any]:
    """Run every phase (module docstring); returns what ``recipe.json`` holds."""
    started = clock()
    o = options.resolved()
    budget = 60.0 * o.budget_minutes
    synthesize_data = o.data is None
    split = check_budget(budget, synthesize=synthesize_data)
    end = started + budget
    out = Path(o.out)
    if out.exists() and any(out.iterdir()):
        raise RecipeError(f"{out} is not empty; the recipe writes a new folder: choose "
                          f"another --out")
    device = device_defaults()
    jobs = o.jobs or device.cores
    batch = o.batch_size or device.batch_size
    precision = o.mixed_precision or device.mixed_precision
    workers = device.loader_workers if o.loader_workers is None else o.loader_workers
    say = _Say(o.progress)
    record: dict[str, Any] = {
        "command": o.command, "budget_minutes": o.budget_minutes,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "device": {"kind": device.kind, "name": device.name, "cores": device.cores,
                   "torch": _torch_version()},
        "settings": {"batch_size": batch, "mixed_precision": precision, "jobs": jobs,
                     "loader_workers": workers,
                     "unet": o.unet, "window_frames": o.window_frames, "hops": list(o.hops),
                     **dataclasses.asdict(MODEL), "smoke": o.smoke},
        "planned_seconds": {k: round(v, 1) for k, v in split.items()},
        "phases": {},
    }
    out.mkdir(parents=True, exist_ok=True)
    phase = "data"
    try:
        say(f"{device.kind} ({device.name}), {device.cores} cores; budget "
            f"{o.budget_minutes:g} min: " + ", ".join(f"{k} {v:.0f} s"
                                                      for k, v in split.items()))
        data = o.data if o.data is not None else out / "data"
        t0 = clock()
        record["phases"]["data"] = make_data(o, data, started + split["data"], jobs, say,
                                             clock=clock)
        record["phases"]["data"]["seconds"] = round(clock() - t0, 2)
        teacher_end, cd_end = training_deadlines(clock(), end, budget)
        if min(teacher_end - clock(), cd_end - teacher_end) < MIN_PHASE_SECONDS:
            raise RecipeError(f"the data phase took {clock() - t0:.0f} s and left too little "
                              f"time to train; the songs are kept: rerun with --data {data} "
                              f"and a larger --budget-minutes")
        phase = "teacher"
        say(f"teacher until {_clock_time(teacher_end)}")
        t0 = clock()
        teacher_run = train_teacher(o, data, out / "runs" / "teacher", batch, precision,
                                    teacher_end, workers)
        record["phases"]["teacher"] = run_numbers(out / "runs" / "teacher", batch,
                                                  clock() - t0)
        _copy_model(teacher_run, out / "teacher")
        phase = "distillation"
        say(f"distillation until {_clock_time(cd_end)}")
        t0 = clock()
        student_run = distil(o, data, out / "teacher", out / "runs" / "cd", batch, precision,
                             cd_end, workers)
        record["phases"]["distillation"] = run_numbers(out / "runs" / "cd", batch,
                                                       clock() - t0)
        phase = "finish"
        t0 = clock()
        package_student(student_run, out / "model")
        record["phases"]["finish"] = {"seconds": round(clock() - t0, 2)}
    except KeyboardInterrupt:
        record["interrupted"] = phase
        kept = _salvage(out, record)
        # a warning, so it shows without progress bars too
        log.warning("recipe interrupted during %s; %s", phase,
                    f"kept {kept}" if kept else "no model was exported yet")
        raise
    finally:
        record["seconds"] = round(clock() - started, 2)
        (out / "recipe.json").write_text(json.dumps(record, indent=1) + "\n")
    write_card(out / "model", record)
    (out / "recipe.json").write_text(json.dumps(record, indent=1) + "\n")
    say(f"done in {record['seconds']:.0f} s of {budget:.0f}: {out / 'model'}")
    return record


def make_data(o: RecipeOptions, data: Path, deadline: float, jobs: int, say: _Say, *,
              clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Songs (synthesized while the data share lasts, unless given) and their latent cache;
    returns the phase's numbers."""
    from sideman.models.codecs import build_codec

    from .cache import build_cache
    from .datasets import open_dataset
    from .synth.dataset import SynthOptions, synthesize

    codec = build_codec("mel")
    numbers: dict[str, Any] = {"synthesized": o.data is None}
    if o.data is None:
        synth = SynthOptions(seed=o.seed, songs=min(o.songs, max(FIRST_SONGS, jobs)),
                             seconds=o.seconds, sample_rate=o.sample_rate,
                             soundfonts=o.soundfonts)
        t0 = clock()
        synthesize(data, synth, jobs=jobs, progress=o.progress)
        per_song = (clock() - t0) / synth.songs
        t1 = clock()
        build_cache(data, data / "latents", codec, progress=False, jobs=jobs)
        cache_per_song = (clock() - t1) / synth.songs
        made, cached = synth.songs, synth.songs
        chunk = 8 * jobs
        while made < o.songs:
            left = deadline - clock() - (made - cached) * cache_per_song
            n = min(chunk, o.songs - made, int(left // (per_song + cache_per_song)))
            if n < 1:
                break
            t0 = clock()
            synthesize(data, dataclasses.replace(synth, songs=made + n), jobs=jobs,
                       progress=False)
            per_song = (clock() - t0) / n
            made += n
            say(f"data: {made} songs ({per_song:.3f} s per song with {jobs} jobs)")
        numbers.update(seconds_per_song=round(per_song, 4),
                       cache_seconds_per_song=round(cache_per_song, 4), song_seconds=o.seconds,
                       seed=o.seed, soundfonts=[Path(p).name for p in o.soundfonts]
                       or ["TimGM6mb.sf2"])
    t0 = clock()
    build_cache(data, data / "latents", codec, progress=o.progress, jobs=jobs)
    songs = open_dataset(data)
    numbers.update(path=str(data), songs=len(songs),
                   splits={s: sum(x.split == s for x in songs) for s in ("train", "valid",
                                                                          "test")},
                   hours=round(sum(x.duration for x in songs) / 3600.0, 3),
                   cache_seconds=round(clock() - t0, 2))
    say(f"data: {len(songs)} songs ({numbers['hours']:.2f} h) in {data}")
    return numbers


def _data_options(o: RecipeOptions, data: Path, workers: int) -> Any:
    from .stage import DataOptions

    return DataOptions(data=data, p_drop_beat=MODEL.beat_dropout,
                       p_drop_mixture=MODEL.mixture_dropout,
                       p_corrupt_history=MODEL.history_corruption,
                       valid_windows=4 if o.smoke else 64, progress=o.progress,
                       loader_workers=workers)


def _loop(o: RecipeOptions, run: Path, settings: dict[str, float], batch: int,
          precision: str, deadline: float, cap: int) -> Any:
    from .loop import LoopOptions

    return LoopOptions(
        out=run, steps=cap, batch_size=batch, lr=settings["lr"],
        warmup=1 if o.smoke else int(settings["warmup"]), ema_decay=settings["ema_decay"],
        log_every=1 if o.smoke else 10, seed=o.seed, mixed_precision=precision,
        progress=o.progress, tracker="none" if o.smoke else o.tracker, deadline=deadline,
        calibration_steps=2 if o.smoke else 20, evaluations=2 if o.smoke else 8,
        # before the plan is fixed the run evaluates only at its calibration
        valid_every=cap, checkpoint_every=cap)


def train_teacher(o: RecipeOptions, data: Path, run: Path, batch: int, precision: str,
                  deadline: float, workers: int = 0) -> Path:
    """The EDM teacher with the recipe's model options until ``deadline``."""
    from .ldm import LdmOptions, train_ldm

    options = LdmOptions(name="sideman-recipe-teacher", window_frames=o.window_frames,
                         hop_frames=tuple(o.hops), unet=o.unet,
                         beat_phase=MODEL.beat_phase, noise_scale=MODEL.noise_scale)
    cap = SMOKE.teacher_steps if o.smoke else STEP_CAP
    return train_ldm(options, _data_options(o, data, workers),
                     _loop(o, run, TEACHER_LOOP, batch, precision, deadline, cap))


def distil(o: RecipeOptions, data: Path, teacher: Path, run: Path, batch: int,
           precision: str, deadline: float, workers: int = 0) -> Path:
    """Consistency distillation of ``teacher`` until ``deadline``."""
    from .cd import CdOptions, train_cd

    cap = SMOKE.cd_steps if o.smoke else STEP_CAP
    return train_cd(CdOptions(teacher=teacher, name="sideman-recipe"),
                    _data_options(o, data, workers),
                    _loop(o, run, CD_LOOP, batch, precision, deadline, cap))


def package_student(model: Path, out: Path) -> Path:
    """The student's EMA weights as float16 (as the shipped default), loadable by
    ``load_pipeline``."""
    import torch

    from sideman.models.pipeline import StreamingPipeline

    return StreamingPipeline.from_pretrained(model).save_pretrained(out, dtype=torch.float16)


def _copy_model(model: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(model, out)


def run_numbers(run: Path, batch: int, seconds: float) -> dict[str, Any]:
    """A training phase's numbers from its ``log.jsonl`` and ``run.json``."""
    from .loop import read_log

    records = read_log(run / "log.jsonl")
    losses = [r for r in records if "loss" in r]
    valid = [r for r in records if "valid" in r]
    plan = next((r["plan"] for r in records if "plan" in r), None)
    processes = json.loads((run / "run.json").read_text()).get("processes", 1)
    steps = losses[-1]["step"] if losses else 0
    step_seconds = losses[-1]["seconds"] if losses else 0.0
    return {
        "seconds": round(seconds, 2), "steps": steps,
        "seconds_per_step": round(step_seconds / steps, 4) if steps else None,
        "windows_seen": steps * batch * processes, "batch_size": batch,
        "processes": processes, "planned_steps": plan["steps"] if plan else None,
        "stopped_by_deadline": any("stopped" in r for r in records),
        "final_train_loss": losses[-1]["loss"] if losses else None,
        "final_valid_loss": valid[-1]["valid"] if valid else None,
        "run": str(run), "curve": str(run / "loss.png"),
    }


def _salvage(out: Path, record: dict[str, Any]) -> Path | None:
    """After Ctrl-C: the newest exported student packaged (else the teacher copied)."""
    student, teacher = out / "runs" / "cd" / "model", out / "runs" / "teacher" / "model"
    try:
        if (student / "config.json").is_file():
            package_student(student, out / "model")
            write_card(out / "model", record)
            return out / "model"
        if (teacher / "config.json").is_file():
            _copy_model(teacher, out / "teacher")
            return out / "teacher"
    except KeyboardInterrupt:  # a second Ctrl-C: leave what is there
        pass
    return None


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _clock_time(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s"


CARD = """# {name}

A consistency-distilled accompaniment model made by `sideman train recipe` in one run: songs
synthesized, their latents cached, an EDM teacher trained and distilled within a budget of
{budget} minutes on {device}.{interrupted}

## How it was made

```sh
{command}
```

| phase | time | what |
| --- | --- | --- |
| data | {data_time} | {data_what} |
| teacher | {teacher_time} | {teacher_what} |
| distillation | {cd_time} | {cd_what} |
| finish | {finish_time} | student saved as float16, teacher copied, this card |

Model: U-Net `{unet}`, window {window} frames, hops {hops} frames, beat phase `{beat_phase}`,
noise scale {noise_scale}; training: history corruption {history_corruption}, mixture dropout
{mixture_dropout}, beat dropout {beat_dropout}, {batch} windows per step, mixed precision
`{precision}`. Each training run fixed its step count after timing its first steps so that
its learning-rate schedule ends before its deadline (docs/RECIPES.md). Every number is in
`recipe.json` beside this folder.

## Training curves

Teacher (denoising loss; `valid` over all σ, `valid_w1` at w = 1):

![teacher loss](teacher-loss.png)

Distillation (`valid`: consistency loss on the fixed validation windows):

![distillation loss](distillation-loss.png)

## Evaluate it

`sideman eval sweep --model {model} ...` on held-out songs (docs/RECIPES.md, docs/EVAL.md);
serve it with `sideman serve --model {model}`.
"""


def _phase_what(numbers: dict[str, Any] | None) -> str:
    if not numbers:
        return "not run"
    if "steps" in numbers:
        valid = numbers["final_valid_loss"]
        train = numbers["final_train_loss"]
        stop = "; stopped by its deadline" if numbers["stopped_by_deadline"] else ""
        return (f"{numbers['steps']} steps (planned {numbers['planned_steps']}) × "
                f"{numbers['batch_size']} = {numbers['windows_seen']} windows, "
                f"{numbers['seconds_per_step']} s per step; final train loss "
                f"{'–' if train is None else f'{train:.4f}'}, valid "
                f"{'–' if valid is None else f'{valid:.4f}'}{stop}")
    made = "synthesized" if numbers.get("synthesized") else "given"
    return (f"{numbers['songs']} songs {made} ({numbers['hours']} h; splits "
            f"{numbers['splits']}), latent cache in {numbers['cache_seconds']} s")


def write_card(model: Path, record: dict[str, Any]) -> Path:
    """``MODEL_CARD.md`` from :data:`CARD` and the loss curves of both runs beside it."""
    phases = record["phases"]
    s = record["settings"]
    for phase, name in (("teacher", "teacher-loss.png"), ("distillation",
                                                           "distillation-loss.png")):
        curve = Path(phases.get(phase, {}).get("curve", ""))
        if curve.is_file():
            shutil.copyfile(curve, model / name)
    interrupted = record.get("interrupted")
    text = CARD.format(
        name=model.name if model.name != "model" else "sideman recipe model",
        budget=f"{record['budget_minutes']:g}", device=record["device"]["name"],
        interrupted=f" **Interrupted during {interrupted}**: this is the newest export."
        if interrupted else "",
        command=record["command"] or "sideman train recipe ...",
        data_time=_minutes(phases.get("data", {}).get("seconds")),
        teacher_time=_minutes(phases.get("teacher", {}).get("seconds")),
        cd_time=_minutes(phases.get("distillation", {}).get("seconds")),
        finish_time=_minutes(phases.get("finish", {}).get("seconds")),
        data_what=_phase_what(phases.get("data")),
        teacher_what=_phase_what(phases.get("teacher")),
        cd_what=_phase_what(phases.get("distillation")),
        unet=s["unet"], window=s["window_frames"], hops=",".join(map(str, s["hops"])),
        beat_phase=s["beat_phase"], noise_scale=s["noise_scale"],
        history_corruption=s["history_corruption"], mixture_dropout=s["mixture_dropout"],
        beat_dropout=s["beat_dropout"], batch=s["batch_size"],
        precision=s["mixed_precision"], model=model)
    path = model / "MODEL_CARD.md"
    path.write_text(text)
    return path
