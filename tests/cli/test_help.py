"""Every ``sideman`` option explains itself: a help text, each default stated once."""

from __future__ import annotations

import argparse
import re

from sideman.cli.main import build_parser


def all_parsers(parser: argparse.ArgumentParser | None = None
                ) -> list[argparse.ArgumentParser]:
    parser = parser or build_parser()
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += all_parsers(sub)
    return found


def test_every_option_has_help_with_its_default_once() -> None:
    problems = []
    for parser in all_parsers():
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            name = f"{parser.prog} {action.option_strings[-1]}"
            if not action.help or action.help == argparse.SUPPRESS:
                problems.append(f"{name}: no help")
                continue
            text = parser._get_formatter()._expand_help(action)
            if len(re.findall(r"\(default\b", text)) > 1 or "(default: None)" in text:
                problems.append(f"{name}: default twice: {text}")
    assert not problems, "\n".join(problems)


def test_help_of_every_command_renders() -> None:
    for parser in all_parsers():
        text = parser.format_help()
        assert "(default: None)" not in text, parser.prog
        for path in ("synth-v1", "data/tiny", "/work/"):
            assert path not in text, (parser.prog, path)
