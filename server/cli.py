"""The ``sideman`` command: one parser, subcommands registered by each part of the project.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)``, which adds its
subcommands and sets ``func`` (called with the parsed namespace, returns an exit code).
Heavy imports (torch) happen inside the handlers so ``sideman --help`` stays quick.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from sideman import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "sideman.server.commands",  # serve, client, demo
    "sideman.training.commands",  # data synth, train ldm | cd
    "sideman.eval.commands",  # eval sweep
    "sideman.bench.commands",  # bench, soak
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sideman",
        description="Real-time accompaniment partner for MAX/MSP and Pure Data.",
    )
    parser.add_argument("--version", action="version", version=f"sideman {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging (-v info, -vv debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=min(level, logging.INFO) if args.command == "serve" else level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
