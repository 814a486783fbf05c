"""Seeded network impairment: an in-process UDP proxy that drops, duplicates, reorders, delays
and rate-limits datagrams between clients and the server, and remembers what it did.

``ImpairProxy(target)`` listens on a loopback port; a client talks to the proxy as if it were
the server (each client address gets its own socket towards the server, so the server sees
distinct clients). Each direction (``"up"``: client -> server, ``"down"``: server -> client)
has its own :class:`~sideman.eval.network.Impairment` and its own seeded decision stream
(:class:`~sideman.eval.network.Decider`, shared with the simulator), so the
fate of the n-th datagram of a direction depends only on the seed:

* independent loss (``loss``) or bursts of loss: a Gilbert–Elliott channel that moves between
  a good and a bad state per datagram (``burst_enter``, ``burst_exit``) and loses with
  ``burst_loss`` in the bad state (:meth:`Impairment.with_bursts` sets it from a mean loss and
  a mean burst length);
* duplicates, reordering (a datagram held back by ``reorder_delay``), jitter, fixed latency;
* a bandwidth limit (``rate`` bytes/s, a drop-tail queue of ``queue`` seconds): this part
  depends on arrival times, so it is not seeded.

Every datagram is counted (:meth:`ImpairProxy.stats`: sent, dropped, duplicated, held back,
actually delivered out of order, dropped by the queue), and logged with how many copies were
delivered (0: lost) when ``keep_log`` is on, or handed to an ``observer`` callable (long
soaks, where keeping every payload would not fit in memory).
"""

from __future__ import annotations

import heapq
import itertools
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sideman.eval.network import Decider, Impairment

Address = tuple[str, int]
DIRECTIONS = ("up", "down")


@dataclass
class Record:
    """One datagram through the proxy: direction, bytes, copies delivered, when it arrived,
    its sequence number in its direction and the client it belongs to."""

    direction: str
    payload: bytes
    copies: int
    received_at: float
    seq: int = 0
    client: Address = ("", 0)


@dataclass
class DirectionStats:
    """Counts for one direction."""

    datagrams: int = 0
    bytes: int = 0
    dropped: int = 0  #: lost by the loss model (no copy delivered)
    burst_dropped: int = 0  #: of those, lost in the bad (burst) state
    duplicated: int = 0  #: delivered twice
    held: int = 0  #: held back by ``reorder_delay``
    reordered: int = 0  #: datagrams whose first copy came after a later one (same client)
    queue_dropped: int = 0  #: copies dropped by the bandwidth queue
    delivered: int = 0  #: copies sent on

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class _Pending:
    due: float
    order: int
    sock: socket.socket = field(compare=False)
    payload: bytes = field(compare=False)
    destination: Address = field(compare=False)
    direction: str = field(compare=False)
    seq: int = field(compare=False)
    client: Address = field(compare=False)

    def __lt__(self, other: _Pending) -> bool:
        return (self.due, self.order) < (other.due, other.order)


Observer = Callable[[Record], None]


class ImpairProxy:
    """A UDP proxy between clients and ``target`` with seeded impairments per direction."""

    def __init__(self, target: Address, *, up: Impairment | None = None,
                 down: Impairment | None = None, seed: int = 0, host: str = "127.0.0.1",
                 keep_log: bool = True, observer: Observer | None = None) -> None:
        self.target = target
        self.host = host
        self.impairments = {"up": up or Impairment(), "down": down or Impairment()}
        self.deciders = {"up": Decider(self.impairments["up"], seed * 2 + 1),
                         "down": Decider(self.impairments["down"], seed * 2 + 2)}
        self.keep_log = keep_log
        self.observer = observer
        self.log: list[Record] = []
        self._stats = {d: DirectionStats() for d in DIRECTIONS}
        self._seq = {d: itertools.count() for d in DIRECTIONS}
        # Per direction and client: the highest sequence number delivered, and which recent
        # ones have arrived (a datagram's first arriving copy decides whether it was late).
        self._highest: dict[tuple[str, Address], int] = {}
        self._arrived: dict[tuple[str, Address], set[int]] = {}
        self._link_free = {d: 0.0 for d in DIRECTIONS}  # bandwidth: when the link is free
        self._front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._front.bind((host, 0))
        self._backs: dict[Address, socket.socket] = {}
        self._client_of: dict[socket.socket, Address] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._front, selectors.EVENT_READ)
        self._queue: list[_Pending] = []
        self._inflight = 0  # popped from the queue, not sent yet
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

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts per direction (:class:`DirectionStats`)."""
        with self._lock:
            return {d: s.as_dict() for d, s in self._stats.items()}

    def idle(self) -> bool:
        """Nothing the proxy has read is waiting to be delivered."""
        with self._lock:
            return not self._queue and not self._inflight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until everything in flight has been delivered (or dropped)."""
        deadline = time.monotonic() + timeout
        while not self.idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

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

    def _accept(self, direction: str, payload: bytes, via: socket.socket, destination: Address,
                client: Address) -> None:
        now = time.monotonic()
        imp = self.impairments[direction]
        fate = self.deciders[direction].fate()
        seq = next(self._seq[direction])
        stats = self._stats[direction]
        with self._lock:
            stats.datagrams += 1
            stats.bytes += len(payload)
            stats.held += fate.held
            delays = list(fate.delays)
            if not delays:
                stats.dropped += 1
                stats.burst_dropped += fate.burst
            elif imp.rate > 0:
                # Serialise through a link of ``rate`` bytes/s; a copy that would wait
                # longer than ``queue`` seconds is dropped (drop-tail).
                kept = []
                for delay in delays:
                    start = max(now, self._link_free[direction])
                    if start - now > imp.queue:
                        stats.queue_dropped += 1
                        continue
                    self._link_free[direction] = start + len(payload) / imp.rate
                    kept.append(delay + self._link_free[direction] - now)
                delays = kept
            stats.duplicated += len(delays) == 2
            record = Record(direction, payload, len(delays), now, seq, client)
            if self.keep_log:
                self.log.append(record)
            for delay in delays:
                heapq.heappush(self._queue, _Pending(now + delay, next(self._order), via,
                                                     payload, destination, direction, seq,
                                                     client))
        if self.observer is not None:
            self.observer(record)

    def _deliver(self, item: _Pending) -> None:
        stats = self._stats[item.direction]
        with self._lock:
            stats.delivered += 1
            key = (item.direction, item.client)
            arrived = self._arrived.setdefault(key, set())
            if item.seq not in arrived:
                highest = self._highest.get(key, -1)
                stats.reordered += item.seq < highest
                self._highest[key] = max(highest, item.seq)
                arrived.add(item.seq)
                if len(arrived) > 8192:  # forget long-settled ones
                    floor = self._highest[key] - 4096
                    arrived.difference_update([n for n in arrived if n < floor])
        try:
            item.sock.sendto(item.payload, item.destination)
        except OSError:
            pass
        with self._lock:
            self._inflight -= 1

    def _loop(self) -> None:
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
                    client = source[:2]
                    self._accept("up", payload, self._back_for(client), self.target, client)
                else:
                    client = self._client_of[sock]  # type: ignore[index]
                    self._accept("down", payload, self._front, client, client)
            now = time.monotonic()
            while True:
                with self._lock:
                    if not self._queue or self._queue[0].due > now:
                        break
                    item = heapq.heappop(self._queue)
                    self._inflight += 1
                self._deliver(item)
