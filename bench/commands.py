"""``sideman`` subcommands of the bench part. Each feature registers its own subcommand here;
the reliability soak is :mod:`.soak` (``sideman soak``)."""

from __future__ import annotations

import argparse

from . import soak


def register(subparsers: argparse._SubParsersAction) -> None:
    soak.register(subparsers)
