"""``sideman bench``, ``sideman soak`` and ``sideman measure``: argument parsing; the work is
in :mod:`sideman.bench.speed`, :mod:`sideman.bench.soak`, :mod:`sideman.bench.architecture`
and :mod:`sideman.models.codecs.measure`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path

from sideman.bench.architecture import ArchitectureRun
from sideman.bench.scenarios import SCENARIOS
from sideman.bench.soak import SoakOptions
from sideman.models.base import GeneratorError

from .main import CommandError
from .options import threads_option


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_bench(subparsers)
    _register_soak(subparsers)
    _register_measure(subparsers)


# -- bench ---------------------------------------------------------------------------------
def _register_bench(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="speed benchmark: stage times, teacher vs distilled, 1-8 sessions",
        description="Measure where a step's time goes (encode, sample, decode, send) for the "
                    "teacher and the distilled sampler, concurrent real-time sessions over "
                    "loopback with and without batching, start-up time and peak memory. "
                    "Writes OUT/bench.json, OUT/bench.md and plots.")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--model", default="default",
                   help="distilled (consistency) checkpoint: 'default' (packaged, the "
                        "default) or a directory")
    p.add_argument("--teacher", default="default-teacher",
                   help="teacher checkpoint: 'default-teacher' (packaged, the default) or "
                        "a directory")
    p.add_argument("--random-weights", action="store_true",
                   help="time randomly initialised models of the default architecture "
                        "instead (same cost; for builds without the packaged weights)")
    p.add_argument("--tiny", action="store_true",
                   help="tiny random models (models/testing.py): checks the benchmark works")
    p.add_argument("--quick", action="store_true",
                   help="few steps, 1-2 sessions, short input (with --tiny: the test's mode)")
    p.add_argument("--threads", type=int, nargs="+", default=None, metavar="N",
                   help="torch CPU threads; several values measure each (the sessions use "
                        "the first; default 1)")
    p.add_argument("--r", type=float, nargs="+", default=None, dest="ratios", metavar="R",
                   help="hop ratios of the stage measurements (default 0.125 0.25)")
    p.add_argument("--w", type=int, default=None, dest="lookahead",
                   help="look-ahead in hops (default 1, the live regime)")
    p.add_argument("--steps", type=int, default=None,
                   help="steps measured per stage configuration (default 12; --quick 3)")
    p.add_argument("--teacher-steps", type=int, default=None,
                   help="teacher sampling steps (default: the teacher's own default_steps)")
    p.add_argument("--stems", type=int, default=None,
                   help="stems generated per step, 1-4 (default 1: drums)")
    p.add_argument("--sessions", type=int, nargs="+", default=None, metavar="N",
                   help="concurrent session counts (default 1 2 4 8; --quick 1 2)")
    p.add_argument("--session-r", type=float, default=None, dest="session_ratio",
                   help="hop ratio of the concurrent sessions (default 0.25)")
    p.add_argument("--session-seconds", type=float, default=None,
                   help="seconds of audio each concurrent session streams (default 15)")
    p.add_argument("--max-batch", type=int, default=None,
                   help="the server's --max-batch for the batched rows (default 8)")
    p.add_argument("--unbatched", action=argparse.BooleanOptionalAction, default=None,
                   help="also run each session count > 1 with --max-batch 1, to show what "
                        "batching buys (default on; off with --quick)")
    p.add_argument("--input", type=Path, default=None,
                   help="input sound file (default: one synthetic song rendered at start)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the synthetic input song (default 1)")
    p.add_argument("--m2l-weights", type=Path, default=None,
                   help="music2latent.pt (default: the package's own location); the "
                        "Music2Latent section is skipped when it is absent")
    p.add_argument("--m2l-steps", type=int, default=None,
                   help="steps measured per Music2Latent configuration (default 3)")
    p.add_argument("--no-gpu", dest="gpu", action="store_false", default=None,
                   help="skip the GPU section even when a GPU is available")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar")
    p.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    from sideman.bench.speed import BenchError, BenchOptions, run_bench
    from sideman.bench.speed_report import TOY_NOTE, is_toy, write_report

    names = ("model", "teacher", "threads", "ratios", "lookahead", "steps", "teacher_steps",
             "stems", "sessions", "session_ratio", "session_seconds", "max_batch", "unbatched",
             "input", "seed", "m2l_weights", "m2l_steps", "gpu", "progress")
    given = {name: getattr(args, name) for name in names}
    for name in ("threads", "ratios", "sessions"):
        if given[name] is not None:
            given[name] = tuple(given[name])
    try:
        options = BenchOptions.preset(out=args.out, quick=args.quick, tiny=args.tiny,
                                      random_weights=args.random_weights, **given)
        result = run_bench(options)
    except BenchError as exc:
        raise CommandError(f"{exc}") from None
    paths = write_report(result, args.out)
    print(f"sideman bench: wrote {', '.join(str(p) for p in paths.values())} "
          f"in {result['duration_s']:.0f} s")
    if is_toy(result):
        print(f"  {TOY_NOTE}")
        return 0
    for target in result["targets"]:
        print(f"  {'met   ' if target['met'] else 'MISSED'} {target['what']}: "
              f"{target['value']} (margin {target['margin']})")
    return 0


# -- soak ----------------------------------------------------------------------------------
def _register_soak(subparsers: argparse._SubParsersAction) -> None:
    d = SoakOptions()
    p = subparsers.add_parser(
        "soak", help="reliability soak: impairment, slow model, fuzzing, flood, churn",
        description="Run reliability scenarios against a live server on loopback and write a "
                    "JSON report and a PNG per scenario (figures and how to read them: "
                    "docs/RELIABILITY.md).")
    p.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="impairment",
                   help="which scenario to run (default impairment; all: each in turn)")
    p.add_argument("--minutes", type=float, default=d.minutes,
                   help=f"length of the real-time part of each scenario (default {d.minutes:g})")
    p.add_argument("--clients", type=int, default=d.clients,
                   help=f"real-time clients (default {d.clients})")
    p.add_argument("--loss", type=float, default=d.loss,
                   help=f"impairment: datagram loss each way, 0..1 (default {d.loss:g})")
    p.add_argument("--burst", type=float, default=d.burst, metavar="DATAGRAMS",
                   help=f"impairment: losses come in bursts of this mean length (default "
                        f"{d.burst:g}: independent)")
    p.add_argument("--reorder", type=float, default=d.reorder,
                   help=f"impairment: probability a datagram is reordered, 0..1 (default "
                        f"{d.reorder:g})")
    p.add_argument("--duplicate", type=float, default=d.duplicate,
                   help=f"impairment: probability a datagram arrives twice, 0..1 (default "
                        f"{d.duplicate:g})")
    p.add_argument("--jitter-ms", type=float, default=d.jitter_ms, metavar="MS",
                   help=f"impairment: one-way delay jitter (default {d.jitter_ms:g} ms)")
    p.add_argument("--model", default=d.model,
                   help=f"'{d.model}' (must exist; the default), 'clicktrack' or a checkpoint "
                        "directory")
    p.add_argument("--random-default", type=Path, default=d.random_default, metavar="DIR",
                   help="use a randomly initialised model of the default architecture saved "
                        "in DIR (built there first if DIR has none): the default's compute "
                        "cost before its weights exist")
    p.add_argument("--click-period", type=int, default=d.click_period, metavar="SAMPLES",
                   help=f"clicktrack: impulse every N samples (default {d.click_period})")
    p.add_argument("--click-window-frames", type=int, default=d.click_window_frames,
                   metavar="FRAMES",
                   help="clicktrack: a shorter window (e.g. 512: hops of 0.19 s at r=0.25)")
    p.add_argument("--torch-threads", type=int, default=d.torch_threads, metavar="N",
                   help="torch CPU threads of the model (default: torch's)")
    p.add_argument("--r", type=float, default=d.r,
                   help=f"clients' hop ratio (default {d.r:g})")
    p.add_argument("--w", type=int, default=d.w,
                   help=f"clients' look-ahead (default {d.w})")
    p.add_argument("--stem", action="append", dest="stems", metavar="STEM",
                   help=f"stem the clients ask for (repeat for several; default "
                        f"{' '.join(d.stems)})")
    p.add_argument("--steps", type=int, default=d.steps, help="sampling steps (model default)")
    p.add_argument("--datagram", type=int, default=d.datagram,
                   help=f"largest server datagram in bytes (default {d.datagram}, the "
                        "server's)")
    p.add_argument("--client-rate", type=int, default=d.client_rate,
                   help="clients' sample rate (default: the model's, so each step's input can "
                        "be compared with what was sent sample for sample)")
    p.add_argument("--stall-s", type=float, default=d.stall_s, metavar="S",
                   help=f"slow: the long stall (default {d.stall_s:g} s)")
    p.add_argument("--fuzz-datagrams", type=int, default=d.fuzz_datagrams,
                   help=f"fuzz: in-process datagrams (default {d.fuzz_datagrams})")
    p.add_argument("--fuzz-udp-rate", type=float, default=d.fuzz_udp_rate,
                   help="fuzz: datagrams per second over UDP beside a client")
    p.add_argument("--flood-rate", type=float, default=d.flood_rate,
                   help=f"flood: datagrams per second (default {d.flood_rate:g})")
    p.add_argument("--flood-sources", type=int, default=d.flood_sources,
                   help=f"flood: source addresses (default {d.flood_sources})")
    p.add_argument("--churn-sessions", type=int, default=d.churn_sessions,
                   help=f"churn: sessions opened and abandoned in-process (default "
                        f"{d.churn_sessions})")
    p.add_argument("--seed", type=int, default=d.seed,
                   help=f"seed of the scenarios (default {d.seed})")
    p.add_argument("--out", type=Path, required=True, help="directory for the reports")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_soak)


def soak_options(args: argparse.Namespace) -> SoakOptions:
    """The :class:`~sideman.bench.soak.SoakOptions` of parsed ``soak`` arguments."""
    fields = {f.name for f in dataclasses.fields(SoakOptions)} - {"stems"}
    return SoakOptions(**{name: getattr(args, name) for name in fields},
                       stems=tuple(args.stems or SoakOptions.stems))


def _soak(args: argparse.Namespace) -> int:
    from sideman.bench.plots import plot_report
    from sideman.bench.soak import headline, json_default, load_model, machine, run_scenario

    for name, value, lo, hi in (("--loss", args.loss, 0.0, 0.99),
                                ("--reorder", args.reorder, 0.0, 1.0),
                                ("--duplicate", args.duplicate, 0.0, 1.0)):
        if not lo <= value <= hi:
            raise CommandError(f"{name} {value} is out of range; allowed {lo} ... {hi}") from None
    if args.minutes <= 0 or args.clients < 1:
        raise CommandError("--minutes must be > 0 and --clients >= 1") from None
    options = soak_options(args)
    try:
        generator, model = load_model(options)
    except (GeneratorError, ValueError, RuntimeError) as exc:
        raise CommandError(f"{exc} (a model of the default architecture with random weights "
                           f"has the same compute cost: --random-default DIR)") from None
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    args.out.mkdir(parents=True, exist_ok=True)
    command = "sideman " + " ".join(shlex.quote(a) for a in sys.argv[1:]) \
        if Path(sys.argv[0]).name == "sideman" else " ".join(map(shlex.quote, sys.argv))
    for name in names:
        before = machine()
        started = time.time()
        report = run_scenario(name, generator, options, progress=not args.no_progress)
        report = {"command": command, "options": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            if isinstance(v, (str, int, float, bool, Path, type(None)))},
            "started": time.strftime(
            "%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "wall_seconds": round(time.time() - started, 1), "machine": before,
            "loadavg_after": machine()["loadavg"], "model_spec": model, **report}
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(report, indent=1, default=json_default) + "\n")
        png = plot_report(report, args.out / f"{name}.png")
        print(f"{headline(report)}\n  wrote {path} and {png}", flush=True)
    return 0


# -- measure -------------------------------------------------------------------------------
#: ``measure codec``'s defaults: torch threads and seconds of each constructed song.
CODEC_THREADS = 2
CODEC_SECONDS = 20.0


def _register_measure(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "measure", help="design-time checks: a codec's beats and speed, an architecture's "
                        "step time with random weights, the training batches' rate",
        description="Measurements of a model's parts before it is trained (JSON on stdout).")
    actions = group.add_subparsers(dest="measure_command", metavar="ACTION")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])

    codec = actions.add_parser(
        "codec", help="does a codec's reconstruction keep beats and onsets, and how fast is it",
        description="Constructed drum-and-bass songs with known beats (97, 120 and 143 bpm) "
                    "through the codec and back: beat and onset F-measure of the "
                    "reconstruction (librosa tracking, mir_eval), encode and decode speed "
                    "as a multiple of real time (docs/MODELS.md).")
    codec.add_argument("--codec", default="mel", help="codec name (default mel)")
    codec.add_argument("--param", action="append", default=[], metavar="KEY=JSON",
                       help="codec parameter, repeatable, e.g. --param gl_iters=32")
    threads_option(codec, default=CODEC_THREADS)
    codec.add_argument("--seconds", type=float, default=CODEC_SECONDS,
                       help=f"length of each constructed song (default {CODEC_SECONDS:g} s)")
    codec.set_defaults(func=_measure_codec)

    run = ArchitectureRun()
    arch = actions.add_parser(
        "architecture", help="a whole step's time for an architecture with random weights",
        description="Time whole pipeline steps (encode, sample, decode; live look-ahead w = 1, "
                    "512-sample crossfade, real stream state) of the proposed default "
                    "architecture, or of --unet, with random weights: speed does not depend "
                    "on the weights, so an architecture is sized before it is trained. "
                    "`sideman bench` times trained models through the live server.")
    arch.add_argument("--threads", type=int, nargs="+", default=list(run.threads), metavar="N",
                      help="torch threads; several values measure each (default "
                           f"{' '.join(map(str, run.threads))})")
    arch.add_argument("--unet", type=json.loads, default=None, metavar="JSON",
                      help="UNet2DModel architecture as JSON (default: the proposal's)")
    arch.add_argument("--steps", type=int, default=run.steps,
                      help=f"measured steps per setting (default {run.steps})")
    arch.add_argument("--no-channels-last", action="store_true",
                      help="keep the U-Net in the default memory format (default: "
                           "channels-last)")
    arch.add_argument("--json", type=Path, default=None, metavar="FILE",
                      help="also write the results here (default: print only)")
    arch.set_defaults(func=_measure_architecture)

    loader = actions.add_parser(
        "loader", help="training batches per second, inline and with worker processes",
        description="Draw the training batches `train ldm` draws (the recipe's conditioning "
                    "and window) from DATA's latent cache, inline and with each worker count "
                    "in turn, in one run: start-up, batches and windows per second, speed-up "
                    "over the first count, and whether every count drew the same batches "
                    "(docs/TRAINING.md).")
    loader.add_argument("--data", type=Path, required=True,
                        help="data set with a latent cache (built where missing)")
    loader.add_argument("--batch-size", type=int, default=128,
                        help="windows per batch (default 128, the recipe's on a GPU)")
    loader.add_argument("--workers", type=int, nargs="+", default=[0, 2], metavar="N",
                        help="worker counts measured in turn (default 0 2)")
    loader.add_argument("--batches", type=int, default=20,
                        help="batches timed per worker count, after the first (default 20)")
    loader.add_argument("--step-ms", type=float, default=0.0, metavar="MS",
                        help="sleep this long per batch, as a GPU step would take (default 0)")
    loader.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    loader.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="also write the report here (default: print only)")
    loader.set_defaults(func=_measure_loader)


def _measure_codec(args: argparse.Namespace) -> int:
    import torch

    from sideman.models.codecs import build_codec
    from sideman.models.codecs.measure import measure_codec

    params = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--param {item!r}: takes KEY=JSON, e.g. --param gl_iters=32")
        try:
            params[key] = json.loads(value)
        except ValueError as exc:
            raise CommandError(f"--param {item!r}: the value is not JSON ({exc})") from None
    torch.set_num_threads(args.threads)
    print(json.dumps(measure_codec(build_codec(args.codec, params), seconds=args.seconds),
                     indent=2))
    return 0


def _print_report(report: object, path: Path | None) -> int:
    """Print a measurement's JSON report and, given ``path``, write it there too."""
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return 0


def _measure_loader(args: argparse.Namespace) -> int:
    import torch

    from sideman.bench.loader import LoaderRun, measure_loader

    torch.set_num_threads(1)  # as a training process on a shared CPU (BATCH_THREADS)
    try:
        run = LoaderRun(data=args.data, batch_size=args.batch_size,
                        workers=tuple(args.workers), batches=args.batches,
                        step_ms=args.step_ms, seed=args.seed)
        report = measure_loader(run)
    except (ValueError, FileNotFoundError) as exc:
        raise CommandError(f"{exc}") from None
    return _print_report(report, args.out)


def _measure_architecture(args: argparse.Namespace) -> int:
    from sideman.bench.architecture import measure_architecture

    results = measure_architecture(ArchitectureRun(
        threads=tuple(args.threads), steps=args.steps,
        channels_last=not args.no_channels_last, unet=args.unet))
    return _print_report(results, args.json)
