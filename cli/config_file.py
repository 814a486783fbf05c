"""``--config FILE``: option values from a TOML file, presets (``--smoke``), and the resolved
options written back as ``OUT/config.toml``, for every command that opts in.

A config file is flat TOML whose keys are a command's long option names without the dashes
(``batch-size`` or ``batch_size``)::

    data = "data/synth"
    out = "runs/teacher"
    steps = 20000
    hops = "32,64"
    r = [0.25, 0.125]      # an option that takes several values
    no-beat-grid = true    # a flag

The file is turned into command-line words placed before the words actually typed, so every
value goes through the parser's own types and checks and a flag typed on the command line
overrides the file. Order, lowest first: the parser's defaults, a preset switched on (from
the file or the command line), the file, the command line.

Writing goes the other way: the parsed namespace as TOML (:func:`dump_options`), with each
value in the form the option takes (an option whose ``type`` has an ``inverse`` attribute
is written through it), so ``sideman ... --config OUT/config.toml`` parses to the same
options.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Written into the run directory (``--out``) of a command that takes ``--config``.
CONFIG_NAME = "config.toml"
#: Options that are never read from or written to a file (they are not settings of a run).
NEVER = ("help", "config", "verbose", "version")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and what is allowed."""


def add_config_option(parser: argparse.ArgumentParser, *, not_recorded: Sequence[str] = ()
                      ) -> None:
    """Give ``parser`` a ``--config FILE`` option; ``not_recorded``: dests left out of the
    written ``OUT/config.toml`` (run control such as ``--resume``, not an experiment's)."""
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="TOML file of option values: keys are the long option names "
                             "without dashes (e.g. batch-size = 16); options given on the "
                             "command line override it. Every run writes its resolved "
                             "options to OUT/config.toml, which this option takes back")
    parser.sideman_config = {"not_recorded": tuple(not_recorded)}  # type: ignore[attr-defined]


def add_preset(parser: argparse.ArgumentParser, flag_dest: str, values: Mapping[str, Any]
               ) -> None:
    """When the flag with ``flag_dest`` is on, ``values`` (by option name) are set: typed on the
    command line, over a config file's values; switched on in the file, under them. Options
    typed on the command line always win."""
    presets = getattr(parser, "sideman_presets", {})
    presets[flag_dest] = dict(values)
    parser.sideman_presets = presets  # type: ignore[attr-defined]


def takes_config(parser: argparse.ArgumentParser) -> bool:
    return hasattr(parser, "sideman_config")


# -- which parser --------------------------------------------------------------------------
def leaf(parser: argparse.ArgumentParser, argv: Sequence[str]
         ) -> tuple[argparse.ArgumentParser, int]:
    """The (sub)command parser ``argv`` selects and the index of the first word after the
    subcommand names. Only ``-v``/``--version``/``-h`` precede a subcommand, none with a
    value, so every word that is not an option names the next subcommand."""
    index = 0
    while index < len(argv):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            break
        word = argv[index]
        index += 1
        if word.startswith("-"):
            continue
        if word not in subs[0].choices:
            break
        parser = subs[0].choices[word]
    return parser, index


def options_by_name(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Long option name without dashes → its action (the keys a config file may use)."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.dest in NEVER or not action.option_strings:
            continue
        longs = [s for s in action.option_strings if s.startswith("--")]
        if longs:
            found[longs[0][2:]] = action
    return found


# -- reading -------------------------------------------------------------------------------
def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None


def _words(name: str, action: argparse.Action, value: Any, where: str) -> list[str]:
    """The command-line words that give ``action`` the config value ``value``."""
    flag = f"--{name}"
    scalar = (str, int, float, bool)
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: key {name!r} is a flag: true or false, got {value!r}")
        return [flag] if value == isinstance(action, argparse._StoreTrueAction) else []
    if isinstance(value, bool) and action.nargs == "?":  # --resume = true: the bare flag
        return [flag] if value else []
    if isinstance(value, list):
        if not value or not all(isinstance(v, scalar) for v in value):
            raise ConfigError(f"{where}: key {name!r}: a list needs one or more strings or "
                              f"numbers, got {value!r}")
        if isinstance(action, argparse._AppendAction):
            return [w for v in value for w in (flag, _text(v))]
        if action.nargs not in ("+", "*"):
            raise ConfigError(f"{where}: key {name!r} takes one value, got a list {value!r}")
        return [flag, *map(_text, value)]
    if not isinstance(value, scalar):
        raise ConfigError(f"{where}: key {name!r}: values must be strings, numbers, booleans "
                          f"or lists of them, got a {type(value).__name__}")
    return [flag, _text(value)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def config_words(parser: argparse.ArgumentParser, values: Mapping[str, Any], where: str
                 ) -> list[str]:
    """Config ``values`` as command-line words for ``parser``; an unknown key is an error
    naming it and every allowed key."""
    allowed = options_by_name(parser)
    words: list[str] = []
    for key, value in values.items():
        name = key.replace("_", "-")
        if name not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}; allowed: "
                              f"{', '.join(sorted(allowed))}")
        words += _words(name, allowed[name], value, where)
    return words


def expand_argv(parser: argparse.ArgumentParser, argv: Sequence[str]
                ) -> tuple[list[str], argparse.ArgumentParser]:
    """``argv`` with the words of the presets switched on and of ``--config FILE`` put before
    the words typed after the subcommand (so those override them), and the command's parser.

    Precedence, lowest first: a preset the file switches on, the file, a preset typed on
    the command line, the other typed options.
    """
    argv = list(argv)
    sub, start = leaf(parser, argv)
    if not takes_config(sub) and not hasattr(sub, "sideman_presets"):
        return argv, sub
    typed = argv[start:]
    values: dict[str, Any] = {}
    path = _config_path(typed)
    if path is not None and takes_config(sub):
        values = read_config(path)
        config_words(sub, values, f"--config {path}")  # every key checked, typed ones too
        # a typed option replaces the file's value (an append option would otherwise add)
        typed_flags = {w.split("=", 1)[0] for w in typed if w.startswith("--")}
        allowed = options_by_name(sub)
        values = {k: v for k, v in values.items()
                  if not set(allowed[k.replace("_", "-")].option_strings) & typed_flags}
        file_words = config_words(sub, values, f"--config {path}")
    else:
        file_words = []
    # a preset switched on in the file is a default under the file's values; one typed on
    # the command line (`--config recipe.toml --smoke`) overrides the file, not what is typed
    file_presets: list[str] = []
    typed_presets: list[str] = []
    by_dest = {a.dest: a for a in options_by_name(sub).values()}
    for dest, preset in getattr(sub, "sideman_presets", {}).items():
        flags = set(by_dest[dest].option_strings)
        on_in_file = any(k.replace("-", "_") == dest and v is True for k, v in values.items())
        if flags & set(typed):
            typed_presets += config_words(sub, preset, f"preset {dest}")
        elif on_in_file:
            file_presets += config_words(sub, preset, f"preset {dest}")
    return [*argv[:start], *file_presets, *file_words, *typed_presets, *typed], sub


def _config_path(words: Sequence[str]) -> Path | None:
    for i, word in enumerate(words):
        if word == "--config" and i + 1 < len(words):
            return Path(words[i + 1])
        if word.startswith("--config="):
            return Path(word.split("=", 1)[1])
    return None


# -- writing -------------------------------------------------------------------------------
def resolved_options(parser: argparse.ArgumentParser, args: argparse.Namespace
                     ) -> dict[str, Any]:
    """Every option of ``parser`` with its parsed value, in the form the option takes
    (``None``, meaning "not set", is left out: TOML has no null and the default is None)."""
    skip = set(getattr(parser, "sideman_config", {}).get("not_recorded", ()))
    out: dict[str, Any] = {}
    for name, action in options_by_name(parser).items():
        if action.dest in skip or not hasattr(args, action.dest):
            continue
        value = getattr(args, action.dest)
        if value is None:
            continue
        inverse = getattr(action.type, "inverse", None)
        if inverse is not None:
            value = [inverse(v) for v in value] if isinstance(value, list) else inverse(value)
        out[name] = value
    return out


def dumps(values: Mapping[str, Any]) -> str:
    """A flat TOML document of strings, numbers, booleans, paths and lists of them."""
    lines = []
    for key, value in values.items():
        bare = key.replace("-", "").replace("_", "").isalnum()
        lines.append(f"{key if bare else json.dumps(key)} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    # strings and paths: a JSON string is a TOML basic string when astral characters are not
    # escaped (TOML has no surrogate pairs)
    return json.dumps(str(value), ensure_ascii=False)


def write_config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path | None:
    """``OUT/config.toml`` of a command that takes ``--config`` and has ``--out``; written by
    one process only (rank 0 under ``accelerate launch``)."""
    out = getattr(args, "out", None)
    if not takes_config(parser) or out is None or os.environ.get("RANK", "0") != "0":
        return None
    path = Path(out) / CONFIG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ("# sideman: the resolved options of this run. Reproduce it with\n"
              f"#   {parser.prog} --config {path}\n"
              "# (add --out elsewhere to keep this run's files)\n")
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(header + dumps(resolved_options(parser, args)))
    tmp.replace(path)
    return path
