"""The ``sideman`` command: one parser, subcommands registered by the modules of ``cli/``.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)``, which adds its
subcommands and sets ``func`` (called with the parsed namespace, returns an exit code).
Heavy imports (torch) happen inside the handlers so ``sideman --help`` stays quick.

Errors have one style, whoever finds them (argparse, a handler's check, a library error a
handler turns into :class:`CommandError`): one line on stderr,
``sideman COMMAND: error: what was wrong; what is allowed``, and exit status 2 (1 for a
failure at run time, such as a server that never answers). Ctrl-C ends a command with
``sideman COMMAND: interrupted`` and status 130; commands that hold partial results (client,
demo, eval sweep) write them first.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from sideman import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "sideman.cli.live",  # serve, client, demo
    "sideman.cli.data",  # data synth|info|check|cache, train ldm|cd|check|probe
    "sideman.cli.evaluate",  # eval sweep|merge|compare|score
    "sideman.cli.bench",  # bench, soak, measure codec|architecture
)

T = TypeVar("T")

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class CommandError(Exception):
    """A command cannot go on: ``message`` names what was wrong and what is allowed."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def error_line(prog: str, message: str) -> str:
    """The one error format of every ``sideman`` command."""
    return f"{prog}: error: {message}"


def port(text: str) -> int:
    """argparse type: a UDP port to send to, 1 ... 65535."""
    return _port(text, 1)


def listen_port(text: str) -> int:
    """argparse type: a UDP port to listen on, 0 ... 65535 (0: any free port)."""
    return _port(text, 0)


def _port(text: str, lo: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not lo <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port; allowed {lo} ... 65535"
                                         + (" (0: any free port)" if lo == 0 else ""))
    return value


def list_of(convert: Callable[[str], T], what: str) -> Callable[[str], list[T]]:
    """argparse type for ``nargs="+"`` with :class:`Flatten`: values separated by spaces or
    commas or both (``--r 0.125 0.25`` = ``--r 0.125,0.25``)."""

    def parse(text: str) -> list[T]:
        try:
            return [convert(item) for item in text.split(",") if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of {what}s (separate them by spaces or commas)"
            ) from None

    return parse


def data_path(args: argparse.Namespace) -> Path:
    """The data set of ``data info|check|cache``: ``PATH`` or ``--data PATH``, as every other
    command takes it."""
    if args.path is not None and args.data is not None and args.path != args.data:
        raise CommandError(f"two data sets given: {args.path} and --data {args.data}; give one")
    path = args.path if args.path is not None else args.data
    if path is None:
        raise CommandError("no data set given: add PATH or --data PATH")
    return path


def split_name(text: str) -> str:
    """argparse type of ``--split``: Slakh2100's folder name ``validation`` is ``valid``."""
    return {"validation": "valid"}.get(text, text)


class Flatten(argparse.Action):
    """Joins the lists :func:`list_of` makes of each word into one list."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, [item for group in values for item in group])


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block) and which records the
    deepest (sub)command it parsed, for the error prefix of the handler's own errors."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # "-1,1" (a comma list, see list_of) is a value like "-1", not an unknown option
        self._negative_number_matcher = re.compile(
            r"^-(\d+|\d*\.\d+)(,-?(\d+|\d*\.\d+))*,?$")

    def error(self, message: str) -> NoReturn:
        print(error_line(self.prog, f"{message} (see {self.prog} --help)"), file=sys.stderr)
        raise SystemExit(2)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if not hasattr(namespace, "sideman_prog"):  # a subcommand's parser returns first
            namespace.sideman_prog = self.prog
        return namespace, extras


def verbose_option(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``-v`` before or after the subcommand (``sideman -v serve`` = ``sideman serve -v``)."""
    parser.add_argument("-v", "--verbose", action="count",
                        default=0 if top else argparse.SUPPRESS,
                        help="more logging (-v info, -vv debug)")


def build_parser() -> Parser:
    parser = Parser(
        prog="sideman",
        description="Real-time accompaniment partner for MAX/MSP and Pure Data.",
    )
    parser.add_argument("--version", action="version", version=f"sideman {__version__}")
    verbose_option(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module
                raise
            continue
        module.register(subparsers)
    _add_verbose_everywhere(parser)
    return parser


def _add_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                if "-v" not in sub._option_string_actions:
                    verbose_option(sub)
                _add_verbose_everywhere(sub)


def main(argv: Sequence[str] | None = None) -> int:
    from .config_file import ConfigError, expand_argv, leaf, write_config

    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        words, command = expand_argv(parser, words)
    except ConfigError as exc:
        print(error_line(leaf(parser, words)[0].prog, str(exc)), file=sys.stderr)
        return 2
    args = parser.parse_args(words)
    # the words as typed (before a --config file is expanded), for what a run records
    args.sideman_argv = list(sys.argv[1:] if argv is None else argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=min(level, logging.INFO) if args.command == "serve" else level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    prog = getattr(args, "sideman_prog", "sideman")
    try:
        write_config(command, args)
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(error_line(prog, str(exc)), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
