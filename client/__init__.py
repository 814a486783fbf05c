"""The reference client: streams a file to ``sideman serve`` the way a Max/Pd patch does.

Four layers, each in its own module, so the CLI, the simulator, the soak and tests share them:

* :mod:`.writer`: :class:`StemWriter`, one stem's output buffer written with the PROTOCOL.md
  rule;
* :mod:`.core`: :class:`StreamClient`, the session's state without socket or clock (datagrams
  to send, datagrams received, the step plan, the statistics);
* :mod:`.protocol`: :class:`ClientProtocol`, the phases of a session (handshake, stream,
  finish) as a sans-IO state machine that takes datagrams and time and returns datagrams;
* :mod:`.udp`: :class:`ClientRunner`, the protocol over a UDP socket on the wall clock, and
  :func:`run_client`, the one call for the CLI and the demo.

The simulator (:mod:`sideman.eval.simulate`) and the soak (:mod:`sideman.bench.driver`) are
the protocol's other two drivers.
"""

from .core import (
    ClientError,
    ClientSettings,
    PlannedStep,
    StreamClient,
    TransportUpdate,
    transport_updates,
)
from .protocol import ClientProtocol, RunOptions
from .udp import (
    ClientRunner,
    default_stats_path,
    read_mono,
    run_client,
    stem_paths,
    write_outputs,
)
from .writer import KEEP_STEPS, StemWriter

__all__ = [
    "KEEP_STEPS",
    "ClientError",
    "ClientProtocol",
    "ClientRunner",
    "ClientSettings",
    "PlannedStep",
    "RunOptions",
    "StemWriter",
    "StreamClient",
    "TransportUpdate",
    "default_stats_path",
    "read_mono",
    "run_client",
    "stem_paths",
    "transport_updates",
    "write_outputs",
]
