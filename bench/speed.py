"""``sideman bench``: where a step's time goes, teacher vs distilled, one to eight sessions.

Every figure comes from the live server's own code and telemetry; nothing here times the
model on the side:

* **stages** (:func:`measure_stages`): an in-process :class:`~sideman.server.app.Server` on a
  loopback UDP socket and one reference client in fast mode (``realtime 0``: full quality,
  one step after the other). The engine's :class:`~sideman.server.telemetry.StepTiming` of
  each step gives ``wait`` (ready → model call, includes resampling the input window),
  ``encode``, ``sample``, ``decode`` and ``send`` (resampling to the client rate, chunking
  and ``sendto``); ``step`` is the engine's ``total`` (ready → last datagram sent). The
  real-time factor of a step is hop duration / step time;
* **sessions** (:func:`measure_sessions`): ``sideman serve`` as a subprocess (fresh for
  each run) and N reference clients in real time, each in its own thread, streaming the
  same song with their own seeds. Batching across sessions is shown by the same N with
  ``--max-batch 1``. Figures come from the clients' statistics, the server's status replies
  and its Prometheus endpoint; peak memory is the server process's ``VmHWM``; start-up is
  process start → the first chunk a client receives;
* optional sections for the Music2Latent codec (only with its weights) and a GPU (only when
  ``torch.cuda.is_available()``).

:func:`run_bench` runs all of it and returns the result dict that :mod:`.speed_report` turns
into ``bench.json``, ``bench.md`` and the plots. Keys of the result: see ``docs/BENCH.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SCHEMA = "sideman-bench/1"
#: Stages of a step as the engine's telemetry names them, in pipeline order.
STAGES = ("wait", "encode", "sample", "decode", "send")
#: Stems generated per step, in this order (one stem: drums, the paper's usual target).
STEM_ORDER = ("drums", "bass", "guitar", "piano")
#: The stem left out of the input mixture (the model generates it).
TARGET_STEM = "drums"
#: Packaged model directories that ``--model`` / ``--teacher`` accept by name.
PACKAGED = ("default", "default-teacher")

#: The reference system's published figures (its paper and demo page), quoted beside ours.
PAPER = {
    "source": "Karchkhadze & Dubnov, arXiv 2604.07612 (demo page), on a GPU",
    "teacher": {"r": 0.25, "hop_ms": 1500.0, "step_ms": 981.0, "model_calls": 16,
                "sampler": "5 steps (16 U-Net calls)"},
    "distilled": {"r": 0.125, "hop_ms": 750.0, "step_ms": 497.0, "model_calls": 2,
                  "sampler": "consistency, 2 steps (2 U-Net calls)"},
    "sampling_speedup": 5.4,
    "end_to_end_speedup": 2.0,
}

#: The issue's targets (2-core CPU, default model, consistency sampler).
TARGET_STEP_FRACTION = 0.2  #: a whole step within 20 % of the hop at r = 0.125
TARGET_SESSIONS = 4  #: concurrent sessions at r = 0.25 with no deadline miss
TARGET_PEAK_MB = 1500.0  #: server peak RSS, MB (10^6 bytes)
#: Blocks each stage configuration's steps are measured in, taken in turn with the others'.
STAGE_BLOCKS = 3


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (missing model, bad option, a server that failed)."""


# -- options --------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchOptions:
    """Everything ``sideman bench`` takes (parsed once, in :mod:`sideman.cli.bench`)."""

    out: Path
    model: str = "default"
    teacher: str = "default-teacher"
    random_weights: bool = False
    tiny: bool = False
    quick: bool = False
    threads: tuple[int, ...] = (1,)
    ratios: tuple[float, ...] = (0.125, 0.25)
    lookahead: int = 1
    steps: int = 12
    teacher_steps: int | None = None
    stems: int = 1
    sessions: tuple[int, ...] = (1, 2, 4, 8)
    session_ratio: float = 0.25
    session_seconds: float = 15.0
    max_batch: int = 8
    unbatched: bool = True
    input: Path | None = None
    seed: int = 1
    m2l_weights: Path | None = None
    m2l_steps: int = 3
    #: Music2Latent architecture overrides (tests build a tiny checkpoint; not a CLI option).
    m2l_hparams: Mapping[str, Any] | None = None
    gpu: bool = True
    server_timeout: float = 180.0
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.threads or any(t < 1 for t in self.threads):
            raise BenchError(f"--threads must be one or more integers >= 1, got {self.threads}")
        if not self.ratios or any(not 0.0 < r <= 1.0 for r in self.ratios):
            raise BenchError(f"--r must be hop ratios in (0, 1], got {self.ratios}")
        if not 0.0 < self.session_ratio <= 1.0:
            raise BenchError(f"--session-r must be in (0, 1], got {self.session_ratio}")
        if self.lookahead < 0:
            raise BenchError(f"--w must be >= 0 (live look-ahead), got {self.lookahead}")
        for name in ("steps", "m2l_steps", "max_batch"):
            if getattr(self, name) < 1:
                raise BenchError(f"--{name.replace('_', '-')} must be >= 1, "
                                 f"got {getattr(self, name)}")
        if not 1 <= self.stems <= len(STEM_ORDER):
            raise BenchError(f"--stems must be in [1, {len(STEM_ORDER)}], got {self.stems}")
        if any(n < 1 for n in self.sessions):
            raise BenchError(f"--sessions must be >= 1, got {self.sessions}")
        if self.teacher_steps is not None and self.teacher_steps < 1:
            raise BenchError(f"--teacher-steps must be >= 1, got {self.teacher_steps}")
        if not 1.0 <= self.session_seconds <= 600.0:
            raise BenchError(f"--session-seconds must be in [1, 600], got "
                             f"{self.session_seconds}")

    @classmethod
    def preset(cls, *, quick: bool = False, **given: Any) -> BenchOptions:
        """Options with the default or ``--quick`` amounts for what ``given`` leaves out
        (``None`` counts as left out)."""
        amounts: dict[str, Any] = (
            dict(steps=3, sessions=(1, 2), session_seconds=3.0, m2l_steps=1, unbatched=False)
            if quick
            else {})
        chosen = {k: v for k, v in given.items() if v is not None}
        return cls(quick=quick, **{**amounts, **chosen})


# -- machine --------------------------------------------------------------------------------
def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux/macOS
        return None


def machine_info() -> dict[str, Any]:
    import torch

    from sideman.training.recipe import cpu_name

    return {
        "cpu_model": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads_default": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def read_proc_status(pid: int) -> dict[str, float]:
    """``VmHWM`` (peak RSS) and ``VmRSS`` of a process in MB (10^6 bytes), from /proc."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024 / 1e6  # the kernel's "kB" is KiB
    return out


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (``/proc/PID/stat``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process (all its threads) so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- models ---------------------------------------------------------------------------------
def resolve_model(spec: str, kind: str) -> Path:
    """The checkpoint directory for ``--model``/``--teacher``; refuses a wrong kind."""
    from sideman.models.config import ModelConfig
    from sideman.models.pipeline import DEFAULT_WEIGHTS

    option = "--model" if kind == "consistency" else "--teacher"
    directory = DEFAULT_WEIGHTS.parent / spec if spec in PACKAGED else Path(spec)
    config_path = directory / "config.json"
    if not config_path.is_file():
        what = (f"the packaged model {spec!r} is not in this build ({directory} has no "
                f"config.json)" if spec in PACKAGED else f"{directory} is not a checkpoint "
                f"directory (no config.json)")
        raise BenchError(
            f"{option}: {what}. Pass {option} DIR (a checkpoint of kind {kind!r}), or "
            f"--random-weights to time randomly initialised models of the default "
            f"architecture (speed does not depend on the weights' values).")
    config = ModelConfig.from_json(config_path.read_text(), source=str(config_path))
    if config.kind != kind:
        raise BenchError(f"{option} {directory} is a {config.kind!r} model; the benchmark "
                         f"needs a {kind!r} one there")
    return directory


def default_architecture(kind: str, **overrides: Any) -> Any:
    """The embedded default's architecture (docs/MODELS.md) as a ``kind`` model config, with
    ``overrides`` of its fields (the one definition the bench, the soak and
    ``sideman measure architecture`` build random models of).

    The teacher samples with Heun, 8 steps by default: 15 network calls, the reference
    paper's teacher made 16.
    """
    from sideman.models.codecs import build_codec
    from sideman.models.config import ModelConfig, default_unet

    sampler, steps, most = (("consistency", 2, 4) if kind == "consistency"
                            else ("heun", 8, 32))
    fields: dict[str, Any] = dict(
        name=f"random-default-{kind}", window_frames=256,
        trained_hop_frames=(16, 32, 64, 128), trained_lookaheads=(-1, 0, 1, 2),
        unet=default_unet(), kind=kind, sampler=sampler, default_steps=steps, max_steps=most)
    fields.update(overrides)
    return ModelConfig.for_codec(build_codec("mel"), **fields)


def tiny_architecture(kind: str) -> Any:
    """The test suite's tiny model (``models/testing.py``) as a ``kind`` model config."""
    from sideman.models.testing import tiny_config

    if kind == "consistency":
        return tiny_config(name="tiny-consistency")
    return tiny_config(name="tiny-teacher", kind="teacher", sampler="heun", default_steps=4,
                       max_steps=8)


def build_random_models(directory: Path, *, tiny: bool) -> dict[str, Path]:
    """Save randomly initialised consistency and teacher checkpoints under ``directory``."""
    from sideman.models.codecs import build_codec
    from sideman.models.pipeline import StreamingPipeline

    out = {}
    for kind in ("consistency", "teacher"):
        config = tiny_architecture(kind) if tiny else default_architecture(kind)
        codec = build_codec(config.codec, config.codec_params)
        path = directory / kind
        StreamingPipeline.random(config, codec, seed=1).save_pretrained(path)
        out[kind] = path
    return out


def describe_pipeline(pipe: Any, path: Path | None, *, num_steps: int, random: bool
                      ) -> dict[str, Any]:
    from sideman.models.samplers import model_calls

    c = pipe.config
    return {
        # random models live in a temporary directory that is gone after the run
        "path": None if path is None or random else str(path), "name": c.name, "kind": c.kind,
        "sampler": pipe.sampler, "num_steps": num_steps,
        "model_calls": model_calls(pipe.sampler, num_steps),
        "default_steps": c.default_steps, "codec": c.codec, "sample_rate": c.sample_rate,
        "window_frames": c.window_frames, "window_seconds": c.window_frames * c.hop_length /
        c.sample_rate, "parameters": sum(p.numel() for p in pipe.denoiser.parameters()),
        "random_weights": random,
    }


# -- input ----------------------------------------------------------------------------------
def bench_input(options: BenchOptions, seconds: float, workdir: Path
                ) -> tuple[np.ndarray, int, str]:
    """Mono float32 input of at least ``seconds`` (tiled if the file is shorter), its rate
    and where it came from: ``--input``, or one synthetic song rendered now."""
    if options.input is not None:
        from sideman.client import read_mono

        if not options.input.is_file():
            raise BenchError(f"--input {options.input}: no such file")
        audio, rate = read_mono(options.input)
        source = str(options.input)
    else:
        from sideman.training.datasets import mix_without, open_dataset
        from sideman.training.synth.dataset import SynthOptions, synthesize

        length = float(min(3600.0, max(2.0, math.ceil(seconds))))
        folder = workdir / "song"
        synthesize(folder, SynthOptions(seed=options.seed, songs=1, seconds=length),
                   progress=False)
        song = open_dataset(folder, annotations=False)[0]
        audio = mix_without(song, TARGET_STEM)
        rate = song.sample_rate
        source = (f"synthetic song (sideman data synth seed {options.seed}, song 0, "
                  f"{length:g} s, mix without {TARGET_STEM})")
    need = math.ceil(seconds * rate)
    if len(audio) == 0:
        raise BenchError(f"the input {source} is empty")
    if len(audio) < need:
        audio = np.resize(audio, need)  # repeats the file
    return audio.astype(np.float32), int(rate), source


# -- statistics -----------------------------------------------------------------------------
def summarize(values_s: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, mean and max of seconds, in milliseconds."""
    if not values_s:
        return {"p50": None, "p95": None, "mean": None, "max": None}
    ms = np.asarray(values_s, np.float64) * 1e3
    return {"p50": round(float(np.percentile(ms, 50)), 3),
            "p95": round(float(np.percentile(ms, 95)), 3),
            "mean": round(float(ms.mean()), 3), "max": round(float(ms.max()), 3)}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else round(a / b, 3)


# -- stages: one fast client on an in-process server -----------------------------------------
@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class StageBlock:
    """What one fast client's run gave: the engine's timings of its measured steps and the
    client's statistics."""

    timings: list[Any]
    stats: dict[str, Any]
    hop_ms: float
    geometry: Any


def measure_stage_block(pipe: Any, *, audio: np.ndarray, rate: int, r: float, w: int,
                        threads: int, steps: int, num_steps: int, stems: int, skip: int = 1,
                        label: str = "") -> StageBlock:
    """Engine timings of ``steps`` consecutive steps (after ``skip`` more) of one session.

    A fresh in-process server on loopback and one reference client in fast mode, so every
    step runs at full quality (``num_steps``) and nothing waits for another session. The
    pipeline should be warmed up (:meth:`~sideman.server.engine.Engine.warmup`) already.
    """
    from sideman.client import ClientSettings, RunOptions, run_client
    from sideman.models.geometry import ClockMap
    from sideman.server.app import Server, ServerConfig
    from sideman.server.transport import UdpServer

    g = pipe.geometry_for(r, w)
    hop_client = ClockMap(model_rate=g.sample_rate, client_rate=rate).to_client(g.hop_samples)
    length = (skip + steps + w) * hop_client
    if len(audio) < length:
        audio = np.resize(audio, length)
    settings = ClientSettings(stems=STEM_ORDER[:stems], r=g.r, w=w, steps=num_steps,
                              realtime=False, refine=False)
    with torch_threads(threads):
        server = Server(pipe, ServerConfig(log_interval=0))
        with UdpServer(server, "127.0.0.1", 0) as udp:
            core = run_client(audio[:length], rate, settings, udp.address,
                              options=RunOptions(fast=True), name="sideman-bench")
        timings = list(server.counters.timings)
    stats = core.stats()
    measured = timings[skip:skip + steps]
    if not measured:
        raise BenchError(f"{label}: no step ran (client errors: {stats['errors']})")
    return StageBlock(timings=measured, stats=stats, hop_ms=1e3 * g.hop_seconds, geometry=g)


def stage_row(blocks: Sequence[StageBlock], *, threads: int, stems: int, num_steps: int,
              load: Sequence[Any]) -> dict[str, Any]:
    """Percentiles over the steps of ``blocks`` (one configuration) and its real-time factor."""
    measured = [t for block in blocks for t in block.timings]
    g = blocks[0].geometry
    hop_ms = blocks[0].hop_ms
    ms = {stage: summarize([getattr(t, stage) for t in measured]) for stage in STAGES}
    ms["step"] = summarize([t.total for t in measured])
    step = ms["step"]
    client = {key: sum(int(b.stats[key]) for b in blocks)
              for key in ("steps", "steps_complete", "lost_chunks")}
    return {
        "r": g.r, "w": g.lookahead, "hop_frames": g.hop_frames, "hop_ms": round(hop_ms, 3),
        "threads": threads, "stems": stems, "num_steps": num_steps,
        "num_steps_ran": sorted({t.num_steps for t in measured}),
        "steps_measured": len(measured), "blocks": len(blocks), "ms": ms,
        "step_ms_samples": [round(1e3 * t.total, 3) for t in measured],
        "rtf_p50": _ratio(hop_ms, step["p50"]), "rtf_p95": _ratio(hop_ms, step["p95"]),
        "fraction_of_hop_p50": _ratio(step["p50"], hop_ms),
        "fraction_of_hop_p95": _ratio(step["p95"], hop_ms),
        "load_average": list(load), "client": client,
    }


def split_steps(steps: int, blocks: int) -> list[int]:
    """``steps`` as ``blocks`` nearly equal positive parts (fewer parts if steps < blocks)."""
    blocks = max(1, min(blocks, steps))
    return [steps // blocks + (i < steps % blocks) for i in range(blocks)]


def stage_section(models: Mapping[str, tuple[Any, Path | None, bool]], options: BenchOptions,
                  audio: np.ndarray, rate: int, *, steps: int, threads: Sequence[int],
                  tick: Callable[[str], None], device: str = "cpu") -> dict[str, Any]:
    """Stage timings of every (sampler, r, threads) and the distilled sampler's speed-ups.

    ``models`` maps ``"teacher"`` / ``"consistency"`` to ``(pipeline, path, random)``. The
    steps of each configuration are measured in :data:`STAGE_BLOCKS` blocks taken in turn
    with the other configurations', so a change of machine load during the run affects all
    of them alike (the comparison is "in the same run").
    """
    from sideman.server.app import Server, ServerConfig

    described: dict[str, Any] = {}
    configs = []
    for role, (pipe, path, random) in models.items():
        num_steps = (options.teacher_steps if role == "teacher" and options.teacher_steps
                     else pipe.config.default_steps)
        described[role] = describe_pipeline(pipe, path, num_steps=num_steps, random=random)
        configs += [(role, t, r) for t in threads for r in options.ratios]
    for pipe, _, _ in models.values():  # one-off costs, per thread count
        for t in threads:
            with torch_threads(t):
                Server(pipe, ServerConfig(log_interval=0)).engine.warmup(rate)
    parts = split_steps(steps, STAGE_BLOCKS)
    blocks: dict[tuple[str, int, float], list[StageBlock]] = {c: [] for c in configs}
    loads: dict[tuple[str, int, float], list[Any]] = {c: [] for c in configs}
    for b, part in enumerate(parts):
        for role, t, r in configs:
            label = f"{device} {role} r={r:g} threads={t} block {b + 1}/{len(parts)}"
            tick(label)
            loads[(role, t, r)].append(load_average())
            blocks[(role, t, r)].append(measure_stage_block(
                models[role][0], audio=audio, rate=rate, r=r, w=options.lookahead, threads=t,
                steps=part, num_steps=described[role]["num_steps"], stems=options.stems,
                label=label))
    runs = []
    for role, t, r in configs:
        pipe = models[role][0]
        row = stage_row(blocks[(role, t, r)], threads=t, stems=options.stems,
                        num_steps=described[role]["num_steps"], load=loads[(role, t, r)][0])
        runs.append({"model": role, "sampler": pipe.sampler, "device": device,
                     "codec": pipe.config.codec, "model_calls": described[role]["model_calls"],
                     **row})
    return {"models": described, "runs": runs, "speedups": speedups(runs)}


def speedups(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Teacher over distilled, same r and threads, same run: sampling only and whole step."""
    out = []
    by_key = {(row["model"], row["r"], row["threads"]): row for row in runs}
    for (role, r, t), cm in by_key.items():
        teacher = by_key.get(("teacher", r, t))
        if role != "consistency" or teacher is None:
            continue
        out.append({
            "r": r, "threads": t,
            "sampling_p50": _ratio(teacher["ms"]["sample"]["p50"], cm["ms"]["sample"]["p50"]),
            "end_to_end_p50": _ratio(teacher["ms"]["step"]["p50"], cm["ms"]["step"]["p50"]),
            "sampling_p95": _ratio(teacher["ms"]["sample"]["p95"], cm["ms"]["sample"]["p95"]),
            "end_to_end_p95": _ratio(teacher["ms"]["step"]["p95"], cm["ms"]["step"]["p95"]),
            "teacher_model_calls": teacher["model_calls"], "model_calls": cm["model_calls"],
        })
    return out


def paper_comparison(stages: Mapping[str, Any], paper: Mapping[str, Any] = PAPER
                     ) -> list[dict[str, Any]]:
    """Our stage rows beside the reference paper's published figures, as ratios.

    Per paper configuration (teacher at r = 0.25, distilled at r = 0.125) and thread count:
    ``rtf_ratio`` = our real-time factor / the paper's (hops differ by a few ms, so the RTF is
    the fair comparison; > 1: more headroom than the paper), ``step_ratio`` = the paper's
    step / ours (> 1: we are faster in absolute time). Per thread count also our distilled
    speed-ups over the paper's (``sampling_speedup_ratio``, ``end_to_end_speedup_ratio``;
    ours from the same r as the paper's distilled figure). Rows absent from the run are left
    out. Different hardware (their GPU, our CPU) and model sizes: see the report's notes.
    """
    runs = stages["runs"]
    out: list[dict[str, Any]] = []
    for role, key in (("teacher", "teacher"), ("consistency", "distilled")):
        p = paper[key]
        paper_rtf = p["hop_ms"] / p["step_ms"]
        for row in runs:
            if row["model"] != role or not math.isclose(row["r"], p["r"]):
                continue
            out.append({
                "what": f"{key} step", "r": row["r"], "threads": row["threads"],
                "device": row["device"], "ours_step_p50_ms": row["ms"]["step"]["p50"],
                "paper_step_ms": p["step_ms"], "ours_rtf_p50": row["rtf_p50"],
                "paper_rtf": round(paper_rtf, 3),
                "rtf_ratio": _ratio(row["rtf_p50"], paper_rtf),
                "step_ratio": _ratio(p["step_ms"], row["ms"]["step"]["p50"]),
                "ours_model_calls": row["model_calls"], "paper_model_calls": p["model_calls"],
            })
    for s in stages["speedups"]:
        if not math.isclose(s["r"], paper["distilled"]["r"]):
            continue
        out.append({
            "what": "distilled over teacher", "r": s["r"], "threads": s["threads"],
            "ours_sampling_speedup": s["sampling_p50"],
            "paper_sampling_speedup": paper["sampling_speedup"],
            "sampling_speedup_ratio": _ratio(s["sampling_p50"], paper["sampling_speedup"]),
            "ours_end_to_end_speedup": s["end_to_end_p50"],
            "paper_end_to_end_speedup": paper["end_to_end_speedup"],
            "end_to_end_speedup_ratio": _ratio(s["end_to_end_p50"],
                                               paper["end_to_end_speedup"]),
        })
    return out


# -- sessions: `sideman serve` and N real-time clients ------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_prometheus(text: str) -> dict[str, float]:
    """``{"name{labels}": value}`` from Prometheus text (comments skipped)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[key] = float(value)
    return out


class ServeProcess:
    """``sideman serve`` in a subprocess, its log in a file, its address parsed from it."""

    LISTENING = re.compile(r"udp://([0-9.]+):(\d+)")

    def __init__(self, model: Path, *, threads: int, max_batch: int, sessions: int,
                 log_path: Path) -> None:
        self.metrics_port = free_port()
        self.log_path = log_path
        self.command = [sys.executable, "-m", "sideman", "serve", "--model", str(model),
                        "--port", "0", "--log-interval", "0", "--threads", str(threads),
                        "--max-batch", str(max_batch), "--max-sessions", str(max(16, sessions)),
                        "--metrics-port", str(self.metrics_port)]
        self.started = time.monotonic()
        with open(log_path, "w") as log_file:
            self.proc = subprocess.Popen(self.command, stdout=log_file, stderr=subprocess.STDOUT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        return ""

    def wait_listening(self, timeout: float) -> tuple[tuple[str, int], float]:
        """The server's UDP address and seconds from process start to listening."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            found = self.LISTENING.search(self.log_path.read_text())
            if found:
                return (found.group(1), int(found.group(2))), time.monotonic() - self.started
            if self.proc.poll() is not None:
                raise BenchError(f"sideman serve exited with {self.proc.returncode}:\n"
                                 f"{self.tail()}")
            time.sleep(0.01)
        raise BenchError(f"sideman serve did not listen within {timeout:g} s:\n{self.tail()}")

    def metrics(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return parse_prometheus(response.read().decode())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def missed_steps(core: Any) -> int:
    """Planned steps of a real-time client that missed their deadline in any way: superseded,
    lost (a stem got nothing), reported late by the server, or arrived after the client
    played the region's first sample. Each step counts once, however many of these hold."""
    missed = 0
    for p in core.plan():
        entry = core.steps.get(p.step)
        if entry is None or entry.superseded or entry.miss_late is not None:
            missed += 1
            continue
        done = []
        for stem in core.settings.stems:
            versions = [k[1] for k in entry.arrivals if k[0] == stem]
            if not versions:
                break
            first = min(versions)  # the version that arrived first counts for lateness
            done.append(max(t for k, t in entry.arrivals.items()
                            if k[0] == stem and k[1] == first))
        else:
            play = core.play_time(p.step, p.region[0])
            if play is None or max(done) <= play:
                continue
        missed += 1
    return missed


def _client_thread(audio: np.ndarray, rate: int, settings: Any, address: tuple[str, int],
                   out: list, index: int) -> None:
    from sideman.client import ClientError, run_client

    try:
        out[index] = run_client(audio, rate, settings, address, name=f"sideman-bench-{index}")
    except (ClientError, OSError) as exc:
        out[index] = exc


def measure_sessions(model: Path, *, sessions: int, max_batch: int, threads: int, r: float,
                     w: int, stems: int, audio: np.ndarray, rate: int, workdir: Path,
                     timeout: float = 180.0) -> dict[str, Any]:
    """N real-time clients against a fresh ``sideman serve``: steps, slack, misses, memory."""
    from sideman.client import ClientSettings

    load = load_average()
    server = ServeProcess(model, threads=threads, max_batch=max_batch, sessions=sessions,
                          log_path=workdir / f"serve-{sessions}x-batch{max_batch}.log")
    try:
        address, listening_s = server.wait_listening(timeout)
        cores: list[Any] = [None] * sessions
        workers = [threading.Thread(
            target=_client_thread, name=f"bench-client-{i}",
            args=(audio, rate, ClientSettings(stems=STEM_ORDER[:stems], r=r, w=w, seed=i),
                  address, cores, i)) for i in range(sessions)]
        streaming = time.monotonic()
        clients_cpu = own_cpu_seconds()
        server_cpu = process_cpu_seconds(server.proc.pid)
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        wall = time.monotonic() - streaming
        clients_cpu = own_cpu_seconds() - clients_cpu
        server_end = process_cpu_seconds(server.proc.pid)
        server_cpu = (None if server_cpu is None or server_end is None
                      else server_end - server_cpu)
        failed = [c for c in cores if not hasattr(c, "stats")]
        if failed:
            raise BenchError(f"{len(failed)} of {sessions} clients failed: {failed[0]}\n"
                             f"{server.tail()}")
        metrics = server.metrics()
        memory = read_proc_status(server.proc.pid)
    finally:
        server.stop()
    arrivals = [t for core in cores for entry in core.steps.values()
                for t in entry.arrivals.values()]
    first_chunk_s = min(arrivals) - server.started if arrivals else None
    stats = [core.stats() for core in cores]
    status = [s["server_status"] for s in stats]

    def total(key: str) -> int:
        return int(sum(s[key] for s in stats))

    def values(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
        return [float(row[key]) for row in rows if row.get(key) not in (None, -1, -1.0)]

    def quantile(name: str, q: str) -> float | None:
        value = metrics.get(f'sideman_{name}{{quantile="{q}"}}')
        return None if value is None else round(1e3 * value, 3)

    stage_ms: dict[str, dict[str, float | None]] = {}
    for stage in STAGES:
        stage_ms[stage] = {}
        for q in ("50", "95"):
            value = metrics.get(f'sideman_stage_seconds{{stage="{stage}",quantile="0.{q}"}}')
            stage_ms[stage][f"p{q}"] = None if value is None else round(1e3 * value, 3)
    batches = metrics.get("sideman_batches_total", 0.0)
    slack_min = values(stats, "slack_min_ms")
    slack_p50 = values(stats, "slack_p50_ms")
    lat_p50, lat_p95 = values(stats, "latency_p50_ms"), values(stats, "latency_p95_ms")
    misses = total("misses")
    superseded = total("superseded")
    late = total("steps_late")
    lost = total("steps_lost")
    return {
        "sessions": sessions, "max_batch": max_batch, "threads": threads, "r": r, "w": w,
        "load_average": load,
        "stems": stems, "audio_seconds": round(len(audio) / rate, 3),
        "steps": total("steps"), "steps_complete": total("steps_complete"),
        "misses": misses, "superseded": superseded, "steps_late": late, "steps_lost": lost,
        "deadline_misses": sum(missed_steps(core) for core in cores),
        "degraded": int(metrics.get("sideman_degraded_total", 0)),
        "refined": int(metrics.get("sideman_refined_total", 0)),
        "server_steps": int(metrics.get("sideman_steps_total", 0)),
        "mean_batch": _ratio(metrics.get("sideman_batched_steps_total"), batches),
        "step_ms": {"p50": quantile("step_seconds", "0.50"),
                    "p95": quantile("step_seconds", "0.95"),
                    "p99": quantile("step_seconds", "0.99")},
        "stage_ms": stage_ms,
        "session_step_p95_ms_max": max(values(status, "step_p95_ms"), default=None),
        "slack_ms": {"p50_median": float(np.median(slack_p50)) if slack_p50 else None,
                     "min": min(slack_min) if slack_min else None},
        "latency_ms": {"p50_median": float(np.median(lat_p50)) if lat_p50 else None,
                       "p95_max": max(lat_p95) if lat_p95 else None},
        "lost_chunks": total("lost_chunks"),
        "wall_s": round(wall, 3),
        "server_cpu_s": None if server_cpu is None else round(server_cpu, 3),
        "clients_cpu_s": round(clients_cpu, 3),
        "errors": sorted({e for s in stats for e in s["errors"]}),
        "peak_rss_mb": round(memory.get("VmHWM", float("nan")), 1) if memory else None,
        "rss_mb": round(memory.get("VmRSS", float("nan")), 1) if memory else None,
        "startup": {"listening_s": round(listening_s, 3),
                    "first_chunk_s": None if first_chunk_s is None else round(first_chunk_s, 3)},
    }


def measure_batch_scaling(pipe: Any, *, r: float, w: int, sizes: Sequence[int], threads: int,
                          stems: int, repeats: int = 3) -> list[dict[str, Any]]:
    """What batching can buy at most: one ``generate`` call with ``b`` sessions' steps
    (``b`` in ``sizes``) against ``b`` single calls, straight on the pipeline (no server, so
    no queueing), sizes taken in turn ``repeats`` times. Times from the pipeline's own
    stage timings; ``per_item_gain`` = (b × one-item call) / b-item call."""
    from sideman.models.base import StepRequest

    g = pipe.geometry_for(r, w)
    sizes = sorted(set(sizes))
    streams = [pipe.new_stream() for _ in range(max(sizes))]
    mixture = (0.1 * np.random.default_rng(0).standard_normal(g.window_samples)
               ).astype(np.float32)
    calls = iter(range(10, 10**9))

    def call(b: int) -> dict[str, float]:
        k = next(calls)
        requests = [StepRequest(stream=streams[i], step=k, geometry=g, mixture=mixture,
                                stems=STEM_ORDER[:stems], num_steps=pipe.config.default_steps,
                                seed=i) for i in range(b)]
        return pipe.generate(requests)[0].timings

    seconds: dict[int, list[dict[str, float]]] = {b: [] for b in sizes}
    with torch_threads(threads):
        call(max(sizes))  # one-off costs of the largest shapes
        for _ in range(repeats):
            for b in sizes:
                seconds[b].append(call(b))
    rows = []
    one = None
    for b in sizes:
        per_stage = {stage: float(np.median([t[stage] for t in seconds[b]]))
                     for stage in ("encode", "sample", "decode")}
        total = float(np.median([sum(t.values()) for t in seconds[b]]))
        if b == sizes[0]:
            one = total / b
        rows.append({"batch": b, "call_ms": round(1e3 * total, 3),
                     "per_item_ms": round(1e3 * total / b, 3),
                     "stage_ms": {k: round(1e3 * v, 3) for k, v in per_stage.items()},
                     "per_item_gain": _ratio(one, total / b), "threads": threads,
                     "repeats": repeats})
    return rows


def session_section(model: Path, options: BenchOptions, audio: np.ndarray, rate: int,
                    workdir: Path, tick: Callable[[str], None]) -> dict[str, Any]:
    runs = []
    threads = options.threads[0]
    for n in options.sessions:
        batches = [options.max_batch] + ([1] if options.unbatched and n > 1
                                         and options.max_batch > 1 else [])
        for max_batch in batches:
            tick(f"{n} session{'s' * (n > 1)} max_batch={max_batch}")
            runs.append(measure_sessions(
                model, sessions=n, max_batch=max_batch, threads=threads,
                r=options.session_ratio, w=options.lookahead, stems=options.stems,
                audio=audio, rate=rate, workdir=workdir, timeout=options.server_timeout))
    peaks = [run["peak_rss_mb"] for run in runs if run["peak_rss_mb"] is not None]
    first = [run["startup"]["first_chunk_s"] for run in runs
             if run["startup"]["first_chunk_s"] is not None]
    single = [run for run in runs if run["sessions"] == 1]
    tick("batch scaling (one model call with N sessions' steps)")
    from sideman.models.pipeline import load_pipeline

    with torch_threads(threads):
        pipe = load_pipeline(str(model))
    scaling = measure_batch_scaling(pipe, r=options.session_ratio, w=options.lookahead,
                                    sizes=options.sessions, threads=threads,
                                    stems=options.stems)
    return {
        "model": str(model), "threads": threads, "runs": runs, "batch_scaling": scaling,
        "peak_rss_mb": max(peaks) if peaks else None,
        "startup": {
            "first_chunk_s": (single[0]["startup"]["first_chunk_s"] if single
                              else (min(first) if first else None)),
            "listening_s": single[0]["startup"]["listening_s"] if single else None,
            "first_chunk_s_all": first,
        },
    }


# -- the optional sections ------------------------------------------------------------------
def m2l_weights_path(options: BenchOptions) -> Path:
    if options.m2l_weights is not None:
        return options.m2l_weights
    from sideman.models.codecs.music2latent import default_weights_path

    return default_weights_path()


def m2l_models(weights: Path, hparams: Mapping[str, Any] | None, device: str
               ) -> dict[str, tuple[Any, None, bool]]:
    """Random-weights models of the default U-Net on Music2Latent latents (64 frames, 5.9 s,
    as the reference paper), consistency and teacher, sharing one codec."""
    from sideman.models.codecs import build_codec
    from sideman.models.config import ModelConfig, default_unet
    from sideman.models.pipeline import StreamingPipeline

    codec = build_codec("music2latent", {"hparams": dict(hparams or {})}, weights=weights,
                        device=device)
    out = {}
    for kind, sampler, steps, most in (("teacher", "heun", 8, 32),
                                       ("consistency", "consistency", 2, 4)):
        config = ModelConfig.for_codec(
            codec, name=f"random-m2l-{kind}", window_frames=64, trained_hop_frames=(8, 16),
            trained_lookaheads=(-1, 0, 1, 2), unet=default_unet(), kind=kind, sampler=sampler,
            default_steps=steps, max_steps=most)
        pipe = StreamingPipeline.random(config, codec, seed=1, device=device,
                                        channels_last=device == "cpu")
        out[kind] = (pipe, None, True)
    return out


def load_models(paths: Mapping[str, Path], random: bool, device: str
                ) -> dict[str, tuple[Any, Path, bool]]:
    from sideman.models.pipeline import load_pipeline

    return {role: (load_pipeline(str(path), device=device), path, random)
            for role, path in paths.items()}


# -- the whole benchmark --------------------------------------------------------------------
@dataclass
class _Progress:
    """A tqdm bar over the benchmark's runs (silent when progress is off)."""

    total: int
    enabled: bool
    bar: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc="sideman bench", unit="run",
                            bar_format="{desc}: {n_fmt}/{total_fmt} runs [{elapsed}] {postfix}")

    def __call__(self, label: str) -> None:
        if self.bar is not None:
            if self.bar.postfix:  # the previous run has finished
                self.bar.update(1)
            self.bar.set_postfix_str(label)
        log.info("bench: %s", label)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.close()


def count_runs(options: BenchOptions, *, gpu: bool, m2l: bool) -> int:
    """Progress steps: stage blocks of every section, then one per session row."""
    stage = 2 * len(options.ratios)
    blocks = len(split_steps(options.steps, STAGE_BLOCKS))
    m2l_blocks = len(split_steps(options.m2l_steps, STAGE_BLOCKS))
    sessions = 1 + sum(1 + (options.unbatched and n > 1 and options.max_batch > 1)
                       for n in options.sessions)
    return (stage * blocks * (len(options.threads) + gpu) + sessions
            + stage * m2l_blocks * m2l * (1 + gpu))


def run_bench(options: BenchOptions) -> dict[str, Any]:
    """Run every section and return the result (see :func:`~.speed_report.write_report`)."""
    import torch

    started = time.monotonic()
    load_before = load_average()
    machine = machine_info()
    gpu = options.gpu and torch.cuda.is_available()
    m2l_path = m2l_weights_path(options)
    m2l = m2l_path.is_file()
    with tempfile.TemporaryDirectory(prefix="sideman-bench-") as tmp:
        workdir = Path(tmp)
        random = options.random_weights or options.tiny
        if random:
            paths = build_random_models(workdir / "models", tiny=options.tiny)
        else:
            paths = {"consistency": resolve_model(options.model, "consistency"),
                     "teacher": resolve_model(options.teacher, "teacher")}
        with torch_threads(options.threads[0]):
            models = load_models({"teacher": paths["teacher"],
                                  "consistency": paths["consistency"]}, random, "cpu")
        longest = max(options.ratios)
        window = max(m[0].config.window_frames * m[0].config.hop_length / m[0].config.sample_rate
                     for m in models.values())
        seconds = max(options.session_seconds,
                      (options.steps + 2 + options.lookahead) * longest * window + 1.0)
        if m2l:
            seconds = max(seconds, (options.m2l_steps + 2 + options.lookahead) * longest * 5.95
                          + 1.0)
        audio, rate, source = bench_input(options, seconds, workdir)
        progress = _Progress(count_runs(options, gpu=gpu, m2l=m2l), options.progress)
        try:
            stages = stage_section(models, options, audio, rate, steps=options.steps,
                                   threads=options.threads, tick=progress)
            sessions = session_section(paths["consistency"], options,
                                       audio[:int(options.session_seconds * rate)], rate,
                                       workdir, progress)
            if random:  # its temporary directory is gone after the run
                sessions["model"] = None
            gpu_section: dict[str, Any] = {"status": "no GPU (torch.cuda.is_available() is "
                                                     "False)" if not gpu else "measured",
                                           "name": machine["gpu"]}
            if gpu:
                cuda = load_models({"teacher": paths["teacher"],
                                    "consistency": paths["consistency"]}, random, "cuda")
                gpu_section.update(stage_section(cuda, options, audio, rate,
                                                 steps=options.steps, threads=(1,),
                                                 tick=progress, device="cuda"))
                gpu_section["paper_comparison"] = paper_comparison(gpu_section)
                gpu_section["max_memory_allocated_mb"] = round(
                    torch.cuda.max_memory_allocated() / 1e6, 1)
            m2l_section: dict[str, Any] = {"weights": str(m2l_path)}
            if not m2l:
                m2l_section["status"] = f"skipped: no weights at {m2l_path}"
            else:
                m2l_section["status"] = "measured"
                m2l_section["cpu"] = stage_section(
                    m2l_models(m2l_path, options.m2l_hparams, "cpu"), options, audio, rate,
                    steps=options.m2l_steps, threads=options.threads[:1], tick=progress)
                if gpu:
                    m2l_section["cuda"] = stage_section(
                        m2l_models(m2l_path, options.m2l_hparams, "cuda"), options, audio,
                        rate, steps=options.m2l_steps, threads=(1,), tick=progress,
                        device="cuda")
        finally:
            progress.close()
    result: dict[str, Any] = {
        "schema": SCHEMA,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "sideman bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"]
        else None,
        "options": _jsonable_options(options),
        "machine": {**machine, "load_average_before": load_before,
                    "load_average_after": load_average()},
        "input": {"source": source, "sample_rate": rate,
                  "seconds": round(len(audio) / rate, 3)},
        "stages": stages,
        "sessions": sessions,
        "gpu": gpu_section,
        "music2latent": m2l_section,
        "paper": PAPER,
        "paper_comparison": paper_comparison(stages),
        "duration_s": round(time.monotonic() - started, 1),
    }
    result["targets"] = targets(result)
    return result


def _jsonable_options(options: BenchOptions) -> dict[str, Any]:
    data = asdict(replace(options, m2l_hparams=None))
    for key, value in data.items():
        if isinstance(value, Path):
            data[key] = str(value)
        elif isinstance(value, tuple):
            data[key] = list(value)
    data["m2l_hparams"] = None if options.m2l_hparams is None else dict(options.m2l_hparams)
    return data


# -- targets --------------------------------------------------------------------------------
def targets(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's three targets, each with its value, whether it is met and the margin."""
    out: list[dict[str, Any]] = []
    runs = result["stages"]["runs"]
    for row in runs:
        if row["model"] != "consistency" or row["r"] != 0.125:
            continue
        for q in ("p50", "p95"):
            fraction = row[f"fraction_of_hop_{q}"]
            out.append({
                "name": f"step_within_20pct_of_hop_{q}_threads{row['threads']}",
                "what": f"consistency step {q} ≤ 20 % of the hop at r = 0.125 "
                        f"({row['threads']} thread{'s' * (row['threads'] > 1)})",
                "target": TARGET_STEP_FRACTION, "value": fraction,
                "met": fraction is not None and fraction <= TARGET_STEP_FRACTION,
                "margin": None if fraction is None else round(TARGET_STEP_FRACTION - fraction,
                                                              3),
                "unit": "fraction of the hop",
            })
    four = [run for run in result["sessions"]["runs"]
            if run["sessions"] == TARGET_SESSIONS and run["max_batch"] > 1]
    if four:
        run = four[0]
        out.append({
            "name": "four_sessions_no_miss",
            "what": f"{TARGET_SESSIONS} concurrent sessions at r = {run['r']:g}, no deadline "
                    f"miss (batched, max_batch {run['max_batch']})",
            "target": 0, "value": run["deadline_misses"], "met": run["deadline_misses"] == 0,
            "margin": run["slack_ms"]["min"], "unit": "misses (margin: smallest slack, ms)",
        })
    peak = result["sessions"]["peak_rss_mb"]
    if peak is not None:
        out.append({
            "name": "peak_rss_under_1500mb", "what": "server peak memory (VmHWM) < 1.5 GB",
            "target": TARGET_PEAK_MB, "value": peak, "met": peak < TARGET_PEAK_MB,
            "margin": round(TARGET_PEAK_MB - peak, 1), "unit": "MB",
        })
    return out
