"""The reference client over UDP: streams a file to ``sideman serve`` the way a Max/Pd
patch does.

:class:`ClientRunner` drives the sans-IO :class:`~.protocol.ClientProtocol` over a UDP socket
on the wall clock, either in real time (paced as if captured live, a ``mark`` after each hop)
or fast (``realtime 0``: as fast as the server answers, waiting for each step's chunks).
:func:`run_client` is the one call for the CLI, the demo and tests.
"""

from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .core import ClientSettings, StreamClient, TransportUpdate
from .protocol import ClientProtocol, RunOptions

Address = tuple[str, int]


class ClientRunner:
    """Drives a :class:`~.protocol.ClientProtocol` over UDP against ``server``."""

    def __init__(self, core: StreamClient, server: Address, *, options: RunOptions | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 transports: Sequence[TransportUpdate] = (),
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.core = core
        self.server = server
        self.options = options or RunOptions()
        self.clock = clock
        self.protocol = ClientProtocol(core, self.options, transports=transports,
                                       progress=progress, server=f"{server[0]}:{server[1]}",
                                       hint=" (is `sideman serve` running?)")
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, 4 * 1024 * 1024)
            except OSError:
                pass
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0)
                       if server[0] in ("127.0.0.1", "::1", "localhost") else ("", 0))
        self.sent = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, payload: bytes) -> None:
        self.sock.sendto(payload, self.server)
        self.sent += 1

    def pump(self, until: float, *, first: bool = False) -> None:
        """Receive and digest datagrams until the clock reaches ``until`` (``first``: return
        once the datagrams waiting after the first one are digested)."""
        while True:
            left = until - self.clock()
            self.sock.settimeout(max(0.0, left))
            try:
                payload, _ = self.sock.recvfrom(65536)
            except (TimeoutError, BlockingIOError):
                return
            self.protocol.on_datagram(payload, self.clock())
            if first:
                until = 0.0

    def drive(self) -> None:
        """Run the protocol's current phase to its end; its error is raised."""
        p = self.protocol
        while True:
            for payload in p.poll(self.clock()):
                self.send(payload)
            if p.error is not None:
                raise p.error
            if not p.busy:
                return
            self.pump(min(p.wake or 0.0, self.clock() + 0.02), first=True)

    # -- phases ----------------------------------------------------------------------------
    def handshake(self) -> None:
        self.protocol.start_handshake(self.clock())
        self.drive()

    def stream(self, audio: np.ndarray) -> None:
        """Send the whole input (plus silence up to the last step's capture point)."""
        self.protocol.start_stream(audio, self.clock())
        self.drive()

    def finish(self) -> None:
        """Ask for the server's status, then say bye."""
        self.protocol.start_finish(self.clock())
        self.drive()

    def goodbye(self, timeout: float) -> None:
        """Say bye (resent until acknowledged or ``timeout``) so the server frees the session
        at once; nothing when there is no session (yet) or bye was said."""
        try:
            self.protocol.start_goodbye(self.clock(), timeout)
            self.drive()
        except OSError:  # the socket is gone: the server's idle timeout frees the session
            pass


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """A sound file as mono float32 (channels averaged) and its rate; a file soundfile
    cannot read raises :class:`ValueError` naming the file and the formats it can."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:  # LibsndfileError: soundfile >= 0.11
        raise ValueError(f"cannot read {path} as audio ({exc}); use WAV, AIFF, FLAC or "
                         f"OGG") from None
    if not len(data):
        raise ValueError(f"{path} holds no audio (0 samples)")
    return data.mean(axis=1).astype(np.float32), int(rate)


def stem_paths(out: Path, stems: tuple[str, ...]) -> dict[str, Path]:
    """Output file per stem: ``OUT`` itself for one stem, ``OUT-STEM.wav`` for several."""
    if len(stems) == 1:
        return {stems[0]: out}
    return {stem: out.with_name(f"{out.stem}-{stem}{out.suffix or '.wav'}") for stem in stems}


def default_stats_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.stats.json")


def run_client(audio: np.ndarray, rate: int, settings: ClientSettings, server: Address, *,
               options: RunOptions | None = None, name: str = "sideman-client",
               transports: Sequence[TransportUpdate] = (),
               on_ready: Callable[[StreamClient], None] | None = None,
               progress: Callable[[int, int], None] | None = None) -> StreamClient:
    """Stream ``audio`` through the server at ``server``; returns the finished core (its
    ``writers`` hold the output, ``stats()`` the figures).

    ``on_ready(core)`` runs once the settings are acknowledged (the plan is known), before
    any audio is sent; what it raises ends the run. Ctrl-C (``KeyboardInterrupt``) ends the
    stream early: the session is closed with ``bye`` and the core returned with
    ``interrupted`` set and what was received so far. On any other error ``bye`` is said too.
    """
    core = StreamClient(settings, rate, len(audio), name=name)
    runner = ClientRunner(core, server, options=options, transports=transports,
                          progress=progress)
    try:
        runner.handshake()
        if on_ready is not None:
            on_ready(core)
        runner.stream(audio)
        runner.finish()
    except KeyboardInterrupt:
        core.interrupted = True
        runner.goodbye(0.5)
    except BaseException:
        runner.goodbye(0.5)
        raise
    finally:
        runner.close()
    return core


def write_outputs(core: StreamClient, rate: int, paths: dict[str, Path],
                  stats_path: Path | None, extra: dict[str, object] | None = None
                  ) -> dict[str, Path]:
    """Write one WAV per stem (32-bit float, the input's rate and length) and the stats."""
    import soundfile as sf

    for stem, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), core.writers[stem].buffer, rate, subtype="FLOAT")
    if stats_path is not None:
        stats = {**core.stats(), "settings": asdict(core.settings),
                 "settings_in_effect": core.settings_in_effect(), "sample_rate": rate,
                 "samples": core.length, "outputs": {s: str(p) for s, p in paths.items()},
                 **(extra or {})}
        stats_path.parent.mkdir(parents=True, exist_ok=True)
        stats_path.write_text(json.dumps(stats, indent=2, default=_json_default) + "\n")
    return paths


def _json_default(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
