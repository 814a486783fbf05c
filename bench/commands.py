"""``sideman bench`` and ``sideman soak``: argument parsing; the work is in :mod:`.speed` and
:mod:`.soak` (which registers its own subcommand)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sideman.server.cli import CommandError

from . import soak


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_bench(subparsers)
    soak.register(subparsers)


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
    from .speed import BenchError, BenchOptions, run_bench
    from .speed_report import TOY_NOTE, is_toy, write_report

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
