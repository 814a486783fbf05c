"""``sideman soak``: the reliability scenarios as long runs, each writing a JSON report and a PNG.

::

    sideman soak --scenario impairment --minutes 10 --clients 4 --loss 0.05 \\
        --model default --out docs/reports/soak

The report holds the exact command, the machine (platform, cores, load average before and
after), the model, the settings and every figure of the scenario (see
:mod:`sideman.bench.scenarios`); the PNG shows the distributions and time series
(:mod:`sideman.bench.plots`). ``--scenario all`` runs the five in turn, each for
``--minutes``.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sideman.client.core import ClientSettings
from sideman.models.base import Generator
from sideman.server.protocol import DEFAULT_DATAGRAM

from . import scenarios as sc

log = logging.getLogger(__name__)

RANDOM_DEFAULT_NAME = "default-architecture-random"


@dataclass(frozen=True)
class SoakOptions:
    """One ``sideman soak`` run: the model, the clients' stream and each scenario's knobs
    (the command's options; their defaults are these)."""

    #: minutes of the real-time part of each scenario
    minutes: float = 10.0
    #: real-time clients
    clients: int = 4
    #: impairment: datagram loss each way (0..1), mean burst length (0: independent),
    #: reorder and duplicate probabilities, one-way delay jitter in ms
    loss: float = 0.05
    burst: float = 0.0
    reorder: float = 0.05
    duplicate: float = 0.01
    jitter_ms: float = 3.0
    #: 'default', 'clicktrack' or a checkpoint directory
    model: str = "default"
    #: a randomly initialised model of the default architecture saved in this directory
    random_default: Path | None = None
    #: clicktrack: impulse every N samples; a shorter window in frames (None: its own)
    click_period: int = 441
    click_window_frames: int | None = None
    #: torch CPU threads of the model (None: torch's)
    torch_threads: int | None = None
    #: what the clients ask for
    r: float = ClientSettings.r
    w: int = ClientSettings.w
    stems: tuple[str, ...] = ("drums",)
    steps: int | None = None
    datagram: int = DEFAULT_DATAGRAM
    #: the clients' sample rate (None: the model's)
    client_rate: int | None = None
    #: slow: the long stall in seconds
    stall_s: float = 2.0
    #: fuzz: in-process datagrams, datagrams per second over UDP beside a client
    fuzz_datagrams: int = 1_000_000
    fuzz_udp_rate: float = 4000.0
    #: flood: datagrams per second, source addresses
    flood_rate: float = 50000.0
    flood_sources: int = 4
    #: churn: sessions opened and abandoned in-process
    churn_sessions: int = 10000
    seed: int = 0


def build_random_default(directory: Path) -> Path:
    """A randomly initialised model of the default architecture in ``directory`` (the
    default's compute cost, none of its music). Never named ``default``."""
    if (directory / "config.json").is_file():
        return directory
    from sideman.models.codecs import build_codec
    from sideman.models.pipeline import StreamingPipeline

    from .speed import default_architecture

    config = default_architecture("consistency", name=RANDOM_DEFAULT_NAME)
    StreamingPipeline.random(config, build_codec(config.codec, config.codec_params)
                             ).save_pretrained(directory)
    return directory


def load_model(options: SoakOptions) -> tuple[Generator, dict[str, Any]]:
    """The generator the options name and a description of it for the report."""
    if options.torch_threads:
        import torch

        torch.set_num_threads(options.torch_threads)
    if options.random_default is not None:
        path = build_random_default(options.random_default)
        from sideman.models.registry import load_generator

        return load_generator(str(path)), {
            "spec": str(path), "note": "randomly initialised weights of the default "
            "architecture: the default model's compute cost, not its music"}
    if options.model == "clicktrack":
        from sideman.models.clicktrack import ClickTrack
        from sideman.server.testing import TinyClickTrack

        if options.click_window_frames:
            gen: Generator = TinyClickTrack(period=options.click_period,
                                            window_frames=options.click_window_frames)
        else:
            gen = ClickTrack(period=options.click_period)
        return gen, {"spec": "clicktrack", "period": options.click_period,
                     "window_frames": gen.info.window_frames}
    from sideman.models.registry import load_generator

    return load_generator(options.model), {"spec": options.model}


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {"platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "loadavg": [round(x, 2) for x in load]}


def _progress(label: str, enabled: bool):
    """A tqdm bar over seconds of real-time streaming (or nothing)."""
    if not enabled:
        return None, lambda *_: None
    from tqdm import tqdm

    bar = tqdm(desc=label, unit="s", total=0, bar_format="{desc}: {n:.0f}/{total:.0f} s "
               "{bar} [{elapsed}<{remaining}]", file=sys.stderr)

    def update(elapsed: float, total: float) -> None:
        bar.total = round(total)
        bar.n = min(round(elapsed), bar.total)
        bar.refresh()

    return bar, update


def run_scenario(name: str, generator: Generator, options: SoakOptions,
                 progress: bool) -> dict[str, Any]:
    """Run scenario ``name`` (:data:`~.scenarios.SCENARIOS`) for ``options.minutes``; its
    report."""
    seconds = 60.0 * options.minutes
    stream = sc.Stream(seconds=seconds, r=options.r, w=options.w,
                       stems=tuple(options.stems), steps=options.steps,
                       datagram=options.datagram, client_rate=options.client_rate,
                       seed=options.seed)
    bar, update = _progress(name, progress)
    try:
        if name == "impairment":
            return sc.run_impairment(generator, sc.ImpairmentRun(
                clients=options.clients, loss=options.loss, burst=options.burst,
                reorder=options.reorder, duplicate=options.duplicate,
                jitter=options.jitter_ms / 1000.0, stream=stream),
                seed=options.seed, progress=update)
        if name == "slow":
            info = generator.info
            rate = sc.client_rate_of(generator, stream)
            frames = max(1, round(options.r * info.window_frames))
            hop = frames * info.hop_length / (info.sample_rate or rate)
            steps = int(seconds / hop)
            stall = max(8, steps // 3)
            slow_steps = tuple(k for k in range(3, steps, 10) if abs(k - stall) > 3)
            base = 0.01 if sc.click_period_of(generator) else 0.0
            return sc.run_slow(generator, sc.SlowRun(
                slow_steps=slow_steps, stall_step=stall, stall=options.stall_s, base_delay=base,
                stream=stream), progress=update)
        if name == "fuzz":
            every = max(1, options.fuzz_datagrams // 100)

            def count(n: int) -> None:
                if n % every == 0:
                    update(n, options.fuzz_datagrams)

            return sc.run_fuzz(generator, sc.FuzzRun(
                datagrams=options.fuzz_datagrams, udp_rate=options.fuzz_udp_rate,
                udp_datagrams=int(options.fuzz_udp_rate * seconds), stream=stream),
                seed=options.seed, progress=count)
        if name == "flood":
            return sc.run_flood(generator, sc.FloodRun(
                clients=options.clients, rate=options.flood_rate, sources=options.flood_sources,
                stream=stream), seed=options.seed, progress=update)
        if name == "churn":
            run = sc.ChurnRun(sessions=options.churn_sessions, stream=stream,
                              reconnect_at=min(seconds / 2, 30.0),
                              live_sessions=max(50, int(seconds)))
            return sc.run_churn(generator, run, seed=options.seed,
                                progress=lambda n: update(n, options.churn_sessions))
        raise ValueError(f"unknown scenario {name!r}")
    finally:
        if bar is not None:
            bar.close()


def headline(report: dict[str, Any]) -> str:
    """One line of the figures that matter most, for the terminal."""
    s = report["scenario"]
    if s == "impairment":
        t = report["totals"]
        return (f"impairment: {t['steps']} steps, {t['misses']} misses, lost chunks "
                f"{t['lost_chunks']} (network lost {t['network_lost_chunks']}), alignment "
                f"errors {t['alignment_errors']}, misplaced input {t.get('audit_misplaced')}, "
                f"latency p50/p99 {report['latency_ms']['p50']}/{report['latency_ms']['p99']} "
                f"ms, slack min {report['slack_ms']['min']} ms")
    if s == "slow":
        return (f"slow: recovery {report.get('recovery_hops')} hops, unreported bad steps "
                f"{report.get('unreported_bad_steps')}, ping max during stall "
                f"{report.get('probe', {}).get('rtt_ms_max_during_stall')} ms, queue max "
                f"{report['server']['queue_max']}")
    if s == "fuzz":
        f = report["in_process"]
        return (f"fuzz: {f['datagrams']} datagrams, {f['exceptions']} exceptions, cpu ms "
                f"p99.9 {f['cpu_ms']['p99_9']} max {f['cpu_ms']['max']}; client beside UDP "
                f"fuzz lost {report['udp']['totals']['lost_chunks'] if report['udp'] else '-'}")
    if s == "flood":
        b, f = report.get("baseline"), report["flood"]
        return (f"flood: {f['flooder']['rate']} datagrams/s; misses "
                f"{b['totals']['misses'] if b else '-'} -> {f['totals']['misses']}, lost chunks "
                f"{f['totals']['lost_chunks']}, rate-limited "
                f"{f['server']['counters']['rate_limited']}, join {f['join_seconds']} s")
    if s == "churn":
        ip, live = report["in_process"], report["live"]
        return (f"churn: {ip['opened']} sessions, traced growth {ip['traced_kb_growth']} KiB, "
                f"sessions alive {ip['session_objects_alive']}; resumed client ok steps "
                f"{live['steps_after_resume_ok']}/{live['steps_after_resume']}")
    return s


def json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (tuple, set)):
        return list(value)
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
