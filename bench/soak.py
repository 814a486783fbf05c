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

import argparse
import logging
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sideman.models.base import Generator

from . import scenarios as sc

log = logging.getLogger(__name__)

RANDOM_DEFAULT_NAME = "default-architecture-random"


def build_random_default(directory: Path) -> Path:
    """A randomly initialised model of the default architecture in ``directory`` (the
    default's compute cost, none of its music). Never named ``default``."""
    if (directory / "config.json").is_file():
        return directory
    from sideman.models.codecs import build_codec
    from sideman.models.config import ModelConfig, default_unet
    from sideman.models.pipeline import StreamingPipeline

    codec = build_codec("mel")
    config = ModelConfig.for_codec(
        codec, name=RANDOM_DEFAULT_NAME, window_frames=256, trained_hop_frames=(16, 32, 64, 128),
        trained_lookaheads=(-1, 0, 1, 2), unet=default_unet(), kind="consistency",
        sampler="consistency", default_steps=2, max_steps=4)
    StreamingPipeline.random(config, codec).save_pretrained(directory)
    return directory


def load_model(args: argparse.Namespace) -> tuple[Generator, dict[str, Any]]:
    """The generator named by the arguments and a description of it for the report."""
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.random_default is not None:
        path = build_random_default(args.random_default)
        from sideman.models.registry import load_generator

        return load_generator(str(path)), {
            "spec": str(path), "note": "randomly initialised weights of the default "
            "architecture: the default model's compute cost, not its music"}
    if args.model == "clicktrack":
        from sideman.models.clicktrack import ClickTrack
        from sideman.server.testing import TinyClickTrack

        if args.click_window_frames:
            gen: Generator = TinyClickTrack(period=args.click_period,
                                            window_frames=args.click_window_frames)
        else:
            gen = ClickTrack(period=args.click_period)
        return gen, {"spec": "clicktrack", "period": args.click_period,
                     "window_frames": gen.info.window_frames}
    from sideman.models.registry import load_generator

    return load_generator(args.model), {"spec": args.model}


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


def run_scenario(name: str, generator: Generator, args: argparse.Namespace,
                 progress: bool) -> dict[str, Any]:
    seconds = 60.0 * args.minutes
    stream = sc.Stream(seconds=seconds, r=args.r, w=args.w,
                       stems=tuple(args.stems or ["drums"]), steps=args.steps,
                       datagram=args.datagram, client_rate=args.client_rate, seed=args.seed)
    bar, update = _progress(name, progress)
    try:
        if name == "impairment":
            return sc.run_impairment(generator, sc.ImpairmentRun(
                clients=args.clients, loss=args.loss, burst=args.burst, reorder=args.reorder,
                duplicate=args.duplicate, jitter=args.jitter_ms / 1000.0, stream=stream),
                seed=args.seed, progress=update)
        if name == "slow":
            info = generator.info
            rate = sc.client_rate_of(generator, stream)
            frames = max(1, round(args.r * info.window_frames))
            hop = frames * info.hop_length / (info.sample_rate or rate)
            steps = int(seconds / hop)
            stall = max(8, steps // 3)
            slow_steps = tuple(k for k in range(3, steps, 10) if abs(k - stall) > 3)
            base = 0.01 if sc.click_period_of(generator) else 0.0
            return sc.run_slow(generator, sc.SlowRun(
                slow_steps=slow_steps, stall_step=stall, stall=args.stall_s, base_delay=base,
                stream=stream), progress=update)
        if name == "fuzz":
            every = max(1, args.fuzz_datagrams // 100)

            def count(n: int) -> None:
                if n % every == 0:
                    update(n, args.fuzz_datagrams)

            return sc.run_fuzz(generator, sc.FuzzRun(
                datagrams=args.fuzz_datagrams, udp_rate=args.fuzz_udp_rate,
                udp_datagrams=int(args.fuzz_udp_rate * seconds), stream=stream),
                seed=args.seed, progress=count)
        if name == "flood":
            return sc.run_flood(generator, sc.FloodRun(
                clients=args.clients, rate=args.flood_rate, sources=args.flood_sources,
                stream=stream), seed=args.seed, progress=update)
        if name == "churn":
            run = sc.ChurnRun(sessions=args.churn_sessions, stream=stream,
                              reconnect_at=min(seconds / 2, 30.0),
                              live_sessions=max(50, int(seconds)))
            return sc.run_churn(generator, run, seed=args.seed,
                                progress=lambda n: update(n, args.churn_sessions))
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
