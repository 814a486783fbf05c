"""Seeded network impairment: an in-process UDP proxy that drops, duplicates, reorders and
delays datagrams between a client and the server, and remembers what it did to each one.

``ImpairProxy(target)`` listens on a loopback port; a client talks to the proxy as if it were
the server. Each direction (``"up"``: client -> server, ``"down"``: server -> client) has its
own :class:`Impairment` and its own seeded decision stream (:class:`Decider`), so the fate of
the n-th datagram of a direction depends only on the seed. Every datagram is logged with how
many copies were delivered (0: lost), which is what tests compare the client's and the
server's loss counters against. Reliability soaks extend this module.
"""

from __future__ import annotations

import heapq
import itertools
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

Address = tuple[str, int]


@dataclass(frozen=True)
class Impairment:
    """What happens to datagrams in one direction (probabilities per datagram, seconds)."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0  #: probability a datagram is held back by ``reorder_delay``
    reorder_delay: float = 0.01
    jitter: float = 0.0  #: extra delay drawn uniformly from [0, jitter]
    delay: float = 0.0  #: fixed delay

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        for name in ("reorder_delay", "jitter", "delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 seconds")


class Decider:
    """The seeded decisions of one direction: delivery delays per datagram (empty: lost)."""

    def __init__(self, impairment: Impairment, seed: int) -> None:
        self.impairment = impairment
        self.rng = random.Random(seed)

    def decide(self) -> list[float]:
        imp = self.impairment
        rng = self.rng
        # Draw every number for every datagram, so one decision never shifts the next ones.
        lost = rng.random() < imp.loss
        dup = rng.random() < imp.duplicate
        held = rng.random() < imp.reorder
        jitters = (rng.uniform(0.0, imp.jitter), rng.uniform(0.0, imp.jitter))
        if lost:
            return []
        first = imp.delay + jitters[0] + (imp.reorder_delay if held else 0.0)
        if dup:
            return [first, imp.delay + jitters[1]]
        return [first]


@dataclass
class Record:
    """One datagram through the proxy: direction, bytes, copies delivered, when it arrived."""

    direction: str
    payload: bytes
    copies: int
    received_at: float


@dataclass
class _Pending:
    due: float
    order: int
    sock: socket.socket = field(compare=False)
    payload: bytes = field(compare=False)
    destination: Address = field(compare=False)

    def __lt__(self, other: _Pending) -> bool:
        return (self.due, self.order) < (other.due, other.order)


class ImpairProxy:
    """A UDP proxy between clients and ``target`` with seeded impairments per direction."""

    def __init__(self, target: Address, *, up: Impairment | None = None,
                 down: Impairment | None = None, seed: int = 0, host: str = "127.0.0.1"
                 ) -> None:
        self.target = target
        self.host = host
        self.deciders = {"up": Decider(up or Impairment(), seed * 2 + 1),
                         "down": Decider(down or Impairment(), seed * 2 + 2)}
        self.log: list[Record] = []
        self._front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._front.bind((host, 0))
        self._backs: dict[Address, socket.socket] = {}
        self._client_of: dict[socket.socket, Address] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._front, selectors.EVENT_READ)
        self._queue: list[_Pending] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="impair-proxy", daemon=True)

    @property
    def address(self) -> Address:
        host, port = self._front.getsockname()[:2]
        return host, port

    def start(self) -> ImpairProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._selector.close()
        for sock in [self._front, *self._backs.values()]:
            sock.close()

    def __enter__(self) -> ImpairProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def records(self, direction: str) -> list[Record]:
        with self._lock:
            return [r for r in self.log if r.direction == direction]

    def idle(self) -> bool:
        """Nothing is waiting to be delivered."""
        with self._lock:
            return not self._queue

    def _back_for(self, client: Address) -> socket.socket:
        sock = self._backs.get(client)
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            sock.bind((self.host, 0))
            self._backs[client] = sock
            self._client_of[sock] = client
            self._selector.register(sock, selectors.EVENT_READ)
        return sock

    def _accept(self, direction: str, payload: bytes, via: socket.socket, destination: Address
                ) -> None:
        now = time.monotonic()
        delays = self.deciders[direction].decide()
        with self._lock:
            self.log.append(Record(direction, payload, len(delays), now))
            for delay in delays:
                heapq.heappush(self._queue, _Pending(now + delay, next(self._order), via,
                                                     payload, destination))

    def _loop(self) -> None:
        self._front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        while not self._stop.is_set():
            with self._lock:
                wait = 0.005 if not self._queue else max(
                    0.0, min(0.005, self._queue[0].due - time.monotonic()))
            for key, _ in self._selector.select(wait):
                sock = key.fileobj
                try:
                    payload, source = sock.recvfrom(65536)  # type: ignore[union-attr]
                except OSError:
                    continue
                if sock is self._front:
                    self._accept("up", payload, self._back_for(source[:2]), self.target)
                else:
                    self._accept("down", payload, self._front,
                                 self._client_of[sock])  # type: ignore[index]
            now = time.monotonic()
            while True:
                with self._lock:
                    if not self._queue or self._queue[0].due > now:
                        break
                    item = heapq.heappop(self._queue)
                try:
                    item.sock.sendto(item.payload, item.destination)
                except OSError:
                    pass
