"""Option groups more than one command shares, with defaults read from the dataclasses that
own them (a default is written once, where the part that uses it is configured).

* :func:`default` reads a dataclass field's default;
* :func:`threads_option`: ``--threads`` of every command that runs torch;
* :func:`server_options`, :func:`server_limits`: the server's limits, watchdog and pacing
  (``serve``; ``ServerConfig``, ``Pace``);
* :func:`stream_options`: what a client asks for (``client``, ``demo``; ``ClientSettings``);
* :func:`timeout_options`: how long a client waits (``client``; ``RunOptions``).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from sideman.client.core import ClientSettings
from sideman.client.protocol import RunOptions
from sideman.models.base import DEFAULT_BEAT_TRACKER, STEMS
from sideman.server.app import ServerConfig
from sideman.server.delivery import Pace
from sideman.server.protocol import DEFAULT_MAX_DATAGRAM
from sideman.server.settings import DEFAULT_STOP

#: torch CPU threads of batch jobs (training, caching, sweeps): on a shared CPU more threads
#: are slower.
BATCH_THREADS = 1


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (its factory's value if it has one)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise ValueError(f"{cls.__name__}.{name} has no default")
    raise AttributeError(f"{cls.__name__} has no field {name}")


def threads_option(parser: argparse.ArgumentParser | Any, *, default: int | None = BATCH_THREADS,
                   help: str | None = None, metavar: str | None = None) -> None:
    """``--threads``: torch CPU threads (``None``: torch's default, one per core)."""
    parser.add_argument("--threads", type=int, default=default, metavar=metavar,
                        help=help or f"torch threads (default {default})")


def server_options(p: argparse.ArgumentParser) -> None:
    """The server's limits (:class:`ServerConfig`); the rest: :func:`server_limits`."""
    d = {name: default(ServerConfig, name) for name in (
        "max_sessions", "idle_timeout", "max_batch")}
    p.add_argument("--max-sessions", type=int, default=d["max_sessions"],
                   help=f"concurrent sessions at most (default {d['max_sessions']})")
    p.add_argument("--idle-timeout", type=float, default=d["idle_timeout"], metavar="S",
                   help=f"close sessions silent for this long (default {d['idle_timeout']:g} s)")
    p.add_argument("--max-datagram", type=int, default=DEFAULT_MAX_DATAGRAM, metavar="BYTES",
                   help=f"largest datagram accepted or sent (default {DEFAULT_MAX_DATAGRAM}, "
                        "the macOS UDP limit)")
    p.add_argument("--max-batch", type=int, default=d["max_batch"],
                   help=f"steps per model call at most (default {d['max_batch']})")


def server_limits(p: argparse.ArgumentParser) -> None:
    """Rate limits, logging, the watchdog and pacing (:class:`ServerConfig`, :class:`Pace`);
    after the metrics options in ``serve``'s help."""
    d = {name: default(ServerConfig, name) for name in (
        "source_rate", "source_burst", "log_interval", "watchdog_grace")}
    pace = Pace()
    p.add_argument("--source-rate", type=float, default=d["source_rate"], metavar="N",
                   help="datagrams per second a source may send besides its session's own "
                        "valid messages, before the rest is dropped unread (default "
                        f"{d['source_rate']:g}; 0: no limit)")
    p.add_argument("--source-burst", type=float, default=d["source_burst"], metavar="N",
                   help=f"burst allowed above --source-rate (default {d['source_burst']:g})")
    p.add_argument("--log-interval", type=float, default=d["log_interval"], metavar="S",
                   help="seconds between one-line status logs (default "
                        f"{d['log_interval']:g}; 0: never)")
    p.add_argument("--watchdog-ms", type=float, default=d["watchdog_grace"] * 1e3,
                   metavar="MS",
                   help="real time: start a step this long after its capture point even if "
                        f"input is missing (default {d['watchdog_grace'] * 1e3:g})")
    p.add_argument("--pace-burst", type=int, default=pace.burst, metavar="BYTES",
                   help="generated audio leaves paced per client, at most this many bytes "
                        f"back to back (default {pace.burst}: a patch with the OS-default UDP "
                        "receive buffer loses nothing); 0 sends each step in one burst "
                        "(measurements only)")
    p.add_argument("--pace-max", type=float, default=pace.max_rate / 1e6, metavar="MB/S",
                   help="fastest pace, in megabytes per second, however close the deadline "
                        f"(default {pace.max_rate / 1e6:g})")


def stream_options(parser: argparse.ArgumentParser) -> None:
    """What a client asks the server for (``client``, ``demo``): :class:`ClientSettings`."""
    c = ClientSettings()
    parser.add_argument("--stem", action="append", dest="stems", metavar="STEM",
                        help=f"stem to generate: {', '.join(STEMS)} (repeat for "
                             f"several; default {' '.join(c.stems)})")
    parser.add_argument("--r", type=float, default=c.r,
                        help=f"hop ratio H/T, 0 < r <= 1 with (w+2)*r <= 1 (default {c.r:g})")
    parser.add_argument("--w", type=int, default=c.w,
                        help=f"look-ahead in hops: -1, 0, 1 (live) or more (default {c.w})")
    parser.add_argument("--steps", type=int, default=None,
                        help="sampling steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=c.seed,
                        help=f"noise seed (default {c.seed})")


def timeout_options(p: argparse.ArgumentParser) -> None:
    """How long a client waits for the server: :class:`RunOptions`."""
    o = RunOptions()
    p.add_argument("--step-timeout", type=float, default=o.step_timeout, metavar="S",
                   help="--fast: give up on a step's chunks after S seconds (default "
                        f"{o.step_timeout:g})")
    p.add_argument("--connect-timeout", type=float, default=o.handshake_timeout, metavar="S",
                   help="give up when the server does not answer hello or set within S s "
                        f"(default {o.handshake_timeout:g})")


def grid_tracker_option(parser: argparse.ArgumentParser | Any, note: str = "") -> None:
    """``--grid-tracker`` (serve, demo, client, eval sweep): models.tempo.envelope_for's
    choices, the default from models.base."""
    parser.add_argument("--grid-tracker", default=DEFAULT_BEAT_TRACKER,
                        metavar="learned|onsets|DIR",
                        help="what the beat grid is tracked in when the host sends no "
                             "transport: the shipped learned beat tracker (default "
                             f"{DEFAULT_BEAT_TRACKER}), librosa's onset envelope (onsets), or a "
                             f"directory of learned weights (sideman train beats){note}")


def stop_option(parser: argparse.ArgumentParser | Any) -> None:
    """``--stop`` (client, demo, eval sweep): the session setting, None keeps the server's."""
    parser.add_argument("--stop", type=float, default=None, metavar="SECONDS",
                        help="the parts stop after this many seconds of silence heard (0 = "
                             f"never; default: the server's, {DEFAULT_STOP:g})")
