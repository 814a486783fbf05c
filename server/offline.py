"""A socket-free driver: the live server's own code on a simulated clock (see app.py).

:func:`run_offline` streams audio through a :class:`~sideman.server.app.Server` the way the
reference client does in ``--fast`` mode (``realtime 0``), passing datagrams in memory and
running the engine synchronously. It is the seed of the offline evaluation: the same
session, scheduler, engine, chunker and client-side writer as the live path, so its output
equals a live ``--fast`` client's for the same settings and seed. An optional ``link``
callable decides the fate of each datagram (e.g. :class:`sideman.bench.impair.Decider`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sideman.models.base import Generator

from .app import Server, ServerConfig
from .client import ClientError, ClientSettings, StreamClient
from .clock import ManualClock

CLIENT_ADDRESS = ("127.0.0.1", 50000)

#: ``link(direction, payload) -> copies to deliver`` (0 drops it); directions "up"/"down".
Link = Callable[[str, bytes], int]


class OfflineLink:
    """One client and one server joined in memory, on a :class:`ManualClock`."""

    def __init__(self, generator: Generator, core: StreamClient, *,
                 config: ServerConfig | None = None, clock: ManualClock | None = None,
                 link: Link | None = None) -> None:
        self.clock = clock or ManualClock()
        self.core = core
        self._down: list[bytes] = []
        self.link = link or (lambda direction, payload: 1)
        self.server = Server(generator, config or ServerConfig(log_interval=0),
                             clock=self.clock, send=lambda payload, _: self._down.append(payload))

    def send(self, payload: bytes) -> None:
        for _ in range(self.link("up", payload)):
            self.server.handle_datagram(payload, CLIENT_ADDRESS)
        self.settle()

    def settle(self) -> None:
        """Run every ready step and deliver everything the server sent."""
        while True:
            self.server.tick()
            ran = self.server.engine.process_ready()
            delivered = self._deliver()
            if not ran and not delivered:
                return

    def _deliver(self) -> int:
        count = 0
        while self._down:
            payload = self._down.pop(0)
            for _ in range(self.link("down", payload)):
                self.core.on_datagram(payload, self.clock.now())
                count += 1
        return count


def run_offline(generator: Generator, audio: np.ndarray, rate: int, settings: ClientSettings,
                *, config: ServerConfig | None = None, link: Link | None = None,
                block: int | None = None) -> StreamClient:
    """Stream ``audio`` in fast mode through an in-memory server; returns the client core."""
    if settings.realtime:
        raise ValueError("run_offline drives realtime=0 sessions; pass ClientSettings("
                         "realtime=False)")
    core = StreamClient(settings, rate, len(audio), nonce=1, name="offline")
    joined = OfflineLink(generator, core, config=config, link=link)
    joined.send(core.hello())
    if core.session is None:
        raise ClientError(f"no welcome: {core.errors}")
    for key, values in settings.requests(int(core.acks["w"][0])):
        before = len(core.errors)
        joined.send(core.set_message(key, values))
        if len(core.errors) > before:
            raise ClientError(f"set {key} refused: {core.errors[-1][1]}")
        core.confirm(key)
    plan = core.plan()
    end = max((p.capture for p in plan), default=0)
    padded = np.zeros(max(end, len(audio)), np.float32)
    padded[:len(audio)] = audio
    size = block or core.audio_block()
    sent = 0
    for p in plan:
        if p.capture > sent:
            for payload in core.audio_messages(sent, padded[sent:p.capture], size):
                joined.send(payload)
            sent = p.capture
        core.captured(p.step, joined.clock.now())
        joined.send(core.mark(p.capture))
    joined.send(core.status_request())
    joined.send(core.bye())
    return core
