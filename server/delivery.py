"""Paced, ordered delivery of generated audio: what leaves the server after a step.

A step's output for four stems at a real hop is about a megabyte of datagrams. Max's
``udpreceive`` and Pd's ``netreceive``/``netsend`` read with the operating system's default
UDP receive buffer (Linux 212 992 bytes; an 8192-byte datagram occupies 16 KB of it on the
loopback, so about 13 fit). Sent in one tight loop, most of a step is dropped by the client's
kernel before the patch reads it (issue 14: 13 of 164 chunks arrived). So a step's datagrams
go out as one :class:`Parcel`:

- **in play order**: the region's start first, the stems interleaved (the datagrams that
  play first arrive first; a late tail costs the least);
- **paced per client address** by a token bucket of at most :attr:`Pace.burst` bytes in a row,
  refilled at a rate that adapts to the parcel's deadline: the bytes left spread over
  :attr:`Pace.spread` of the time left, never slower than :attr:`Pace.min_rate` (a small step
  still leaves at once) and never faster than :attr:`Pace.max_rate`; a parcel without a deadline
  (``realtime 0``) goes at :attr:`Pace.rate`;
- **first versions before refinements**: a refined step's parcel only moves while no first
  version waits for the same client, and among first versions the earliest deadline goes
  first.

:class:`Pacer` is the sans-IO part (which datagram next, and when); :class:`PacedSender` runs
it on a thread of its own so that neither the engine (which owns the model) nor the receive
loop ever waits for the pace. Until :meth:`PacedSender.start` is called (offline drivers,
unit tests of the engine) a parcel is sent at once, in order, in the caller's thread.

:class:`Delivery` is the unit the engine hands a generated step to: it has the session cut
the result into datagrams on the client clock (the session's port:
:meth:`~.session.Session.output_datagrams`), sends them as a parcel, and books the step
when its last datagram has left (chunks, timing, slack and, past the deadline, the miss);
a step dropped before it ran is reported here too (``/sideman/miss … superseded``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .clock import Clock
from .telemetry import ServerCounters, StepTiming

if TYPE_CHECKING:  # session.py imports this module (play_order), not the reverse
    from sideman.models.base import StepResult

    from .session import Session, SessionJob, StepInput

Address = tuple[str, int]

log = logging.getLogger(__name__)

Emit = Callable[[bytes, Address], None]


def play_order(stems: list[list[tuple[int, bytes]]]) -> list[bytes]:
    """The datagrams of several stems, each a list of (first client position, datagram), in
    the order they play: by position, stems interleaved in the order given where they tie."""
    keyed = [(position, i, n, payload) for i, chunks in enumerate(stems)
             for n, (position, payload) in enumerate(chunks)]
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed]


@dataclass(frozen=True)
class Pace:
    """How fast a client is fed. ``enabled`` False sends every parcel in one burst (the
    behaviour before issue 14; for measurements only)."""

    #: Bytes/s for a parcel without a deadline (``realtime 0``).
    rate: float = 4e6
    #: Bytes/s at least: a small step leaves at once, however much time is left.
    min_rate: float = 1e6
    #: Bytes/s at most, however close the deadline: faster than this a default-buffer client
    #: loses datagrams anyway.
    max_rate: float = 16e6
    #: Bytes sent back to back at most (the client's kernel buffer holds ~100 KB of 8 KB
    #: datagrams: stay well under it, so a patch that stalls for tens of ms loses nothing).
    burst: int = 16384
    #: The part of the time left before the deadline the parcel is spread over (the slower
    #: the pace, the longer a client may stall without its buffer overflowing).
    spread: float = 0.75
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.min_rate <= self.rate <= self.max_rate:
            raise ValueError(f"pace rates must satisfy 0 < min_rate <= rate <= max_rate, got "
                             f"{self.min_rate}, {self.rate}, {self.max_rate}")
        if self.burst < 1 or not 0 < self.spread <= 1:
            raise ValueError(f"pace burst must be >= 1 and spread in (0, 1], got "
                             f"{self.burst}, {self.spread}")


@dataclass(eq=False)
class Parcel:
    """One step's datagrams for one client, in the order they must leave."""

    address: Address
    datagrams: deque[bytes]
    #: When the client plays the parcel's first sample (server clock), None offline.
    deadline: float | None = None
    #: A refinement (a second, better version of a step already delivered).
    refine: bool = False
    #: Called once the parcel is done: (first datagram sent, last datagram sent, datagrams
    #: sent) on the server clock; first/last are None when nothing was sent.
    on_done: Callable[[float | None, float | None, int], None] | None = None
    #: False once the parcel is useless (its session closed or reset): the rest is dropped.
    alive: Callable[[], bool] | None = None
    seq: int = 0
    #: When the last datagram should have left (server clock): set by :meth:`Pacer.push`.
    target: float | None = None
    bytes_left: int = 0
    sent: int = 0
    first_sent: float | None = None
    last_sent: float | None = None

    def __post_init__(self) -> None:
        self.bytes_left = sum(len(d) for d in self.datagrams)

    def priority(self) -> tuple[bool, float, int]:
        """Smaller goes first: first versions, then the earliest deadline, then arrival."""
        return (self.refine, float("inf") if self.deadline is None else self.deadline,
                self.seq)


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Pacer:
    """Decides which datagram leaves next and when (no sockets, no threads, no clock of its
    own: every call is given the time)."""

    pace: Pace = field(default_factory=Pace)
    _parcels: list[Parcel] = field(default_factory=list)
    _buckets: dict[Address, _Bucket] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=itertools.count)

    def push(self, parcel: Parcel, clock_now: float) -> None:
        """Queue a parcel; ``clock_now`` is the deadlines' time line now. A parcel with a
        deadline gets its target: ``spread`` of the time left from now (fixed here, so the pace
        stays even instead of creeping towards the deadline)."""
        parcel.seq = next(self._seq)
        if parcel.deadline is not None:
            parcel.target = clock_now + max(0.0, parcel.deadline - clock_now) * self.pace.spread
        self._parcels.append(parcel)

    def __len__(self) -> int:
        return len(self._parcels)

    def pending(self) -> list[Parcel]:
        return list(self._parcels)

    def remove(self, parcel: Parcel) -> None:
        self._parcels.remove(parcel)

    def rate(self, address: Address, clock_now: float) -> float:
        """Bytes/s for ``address`` now: fast enough that each of its waiting parcels, and
        everything that goes before it, has left by that parcel's target; at least
        ``min_rate`` (``rate`` when no parcel has a deadline)."""
        mine = sorted((p for p in self._parcels if p.address == address), key=Parcel.priority)
        if not any(p.target is not None for p in mine):
            return self.pace.rate
        need = self.pace.min_rate
        ahead = 0
        for parcel in mine:
            ahead += parcel.bytes_left
            if parcel.target is None:
                continue
            left = parcel.target - clock_now
            if left <= 0:
                return self.pace.max_rate
            need = max(need, ahead / left)
        return min(self.pace.max_rate, need)

    def _tokens(self, address: Address, now: float, clock_now: float) -> float:
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = _Bucket(float(self.pace.burst), now)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(self.pace.burst),
                            bucket.tokens + elapsed * self.rate(address, clock_now))
        bucket.at = now
        return bucket.tokens

    def poll(self, now: float, clock_now: float | None = None
             ) -> tuple[Parcel, bytes] | float | None:
        """The next datagram to send now (and the parcel it belongs to), or the time (on the
        ``now`` time line) to ask again, or None when nothing waits. ``now`` is the pace's
        time line (the wall clock); ``clock_now`` the deadlines' (the server's clock; by
        default the same)."""
        if clock_now is None:
            clock_now = now
        if not self._parcels:
            return None
        wake = float("inf")
        heads: dict[Address, Parcel] = {}
        for parcel in sorted(self._parcels, key=Parcel.priority):
            heads.setdefault(parcel.address, parcel)
        for parcel in sorted(heads.values(), key=Parcel.priority):
            size = len(parcel.datagrams[0])
            need = min(size, self.pace.burst)
            if not self.pace.enabled:
                return self._take(parcel, now, clock_now)
            tokens = self._tokens(parcel.address, now, clock_now)
            if tokens >= need:
                self._buckets[parcel.address].tokens -= size
                return self._take(parcel, now, clock_now)
            # at least a microsecond: rounding must not ask again at the same instant
            wake = min(wake, now + max(1e-6, (need - tokens)
                                       / self.rate(parcel.address, clock_now)))
        return wake

    def _take(self, parcel: Parcel, now: float, clock_now: float) -> tuple[Parcel, bytes]:
        payload = parcel.datagrams.popleft()
        parcel.bytes_left -= len(payload)
        parcel.sent += 1
        if parcel.first_sent is None:
            parcel.first_sent = clock_now
        parcel.last_sent = clock_now
        if not parcel.datagrams:
            self._parcels.remove(parcel)
        return parcel, payload

    def forget_idle(self, now: float) -> None:
        """Drop the buckets of clients with nothing waiting that are full again."""
        busy = {p.address for p in self._parcels}
        for address in [a for a, b in self._buckets.items() if a not in busy
                        and b.tokens + (now - b.at) * self.pace.min_rate >= self.pace.burst]:
            del self._buckets[address]


class PacedSender:
    """Runs a :class:`Pacer` on its own thread and sends with ``emit``."""

    def __init__(self, emit: Emit, clock: Clock, pace: Pace | None = None, *,
                 wall: Callable[[], float] = time.monotonic) -> None:
        self._emit = emit
        self.clock = clock
        self.pacer = Pacer(pace or Pace())
        self._wall = wall
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = False

    @property
    def pace(self) -> Pace:
        return self.pacer.pace

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> PacedSender:
        if self._thread is None:
            self._stop = False
            self._thread = threading.Thread(target=self._run, name="sideman-send", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; what still waits is dropped (its parcels are reported done)."""
        thread = self._thread
        if thread is None:
            return
        with self._cv:
            self._stop = True
            self._cv.notify()
        thread.join(timeout)
        self._thread = None
        with self._cv:
            dropped = self.pacer.pending()
            for parcel in dropped:
                self.pacer.remove(parcel)
        for parcel in dropped:
            self._done(parcel)

    def pending(self) -> int:
        with self._cv:
            return len(self.pacer)

    def submit(self, parcel: Parcel) -> None:
        """Queue a parcel (sent at once in this thread when the sender is not running)."""
        if not parcel.datagrams:
            self._done(parcel)
            return
        if self._thread is None:
            for payload in parcel.datagrams:
                now = self.clock.now()
                if parcel.first_sent is None:
                    parcel.first_sent = now
                self._emit(payload, parcel.address)
                parcel.sent += 1
            parcel.last_sent = self.clock.now()
            parcel.datagrams.clear()
            parcel.bytes_left = 0
            self._done(parcel)
            return
        with self._cv:
            self.pacer.push(parcel, self.clock.now())
            self._cv.notify()

    def _done(self, parcel: Parcel) -> None:
        if parcel.on_done is not None:
            try:
                parcel.on_done(parcel.first_sent, parcel.last_sent, parcel.sent)
            except Exception:  # a bookkeeping bug must not stop the sender
                log.exception("delivery callback failed")

    def _run(self) -> None:
        while True:
            with self._cv:
                if self._stop:
                    return
                now = self._wall()
                decision = self.pacer.poll(now, self.clock.now())
                if decision is None:
                    self.pacer.forget_idle(now)
                    self._cv.wait(0.5)
                    continue
                if isinstance(decision, float):
                    self._cv.wait(max(0.0, decision - now))
                    continue
                parcel, payload = decision
            if parcel.alive is not None and not parcel.alive():
                parcel.sent -= 1  # taken but never sent
                with self._cv:
                    if parcel in self.pacer.pending():
                        self.pacer.remove(parcel)
                parcel.datagrams.clear()
                self._done(parcel)
                continue
            self._emit(payload, parcel.address)
            if not parcel.datagrams:
                self._done(parcel)


class Delivery:
    """A generated step's way out: into datagrams, paced, booked (see the module docstring).

    ``lock`` is the server's (session state); it is held only to read or book a session,
    never while cutting or sending."""

    def __init__(self, emit: Emit, clock: Clock, lock: threading.RLock,
                 counters: ServerCounters, pace: Pace | None = None) -> None:
        self._emit = emit
        self.clock = clock
        self._lock = lock
        self.counters = counters
        #: Sends each step's datagrams in play order at a pace the client can take; its
        #: thread is started by the live server (until then a step is sent at once).
        self.sender = PacedSender(emit, clock, pace)
        #: Seconds one step's send takes (a running average): what the scheduler plans with.
        self.send_time = 0.0

    @property
    def pace(self) -> Pace:
        return self.sender.pace

    @property
    def running(self) -> bool:
        return self.sender.running

    def start(self) -> Delivery:
        self.sender.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.sender.stop(timeout)

    def pending(self) -> int:
        return self.sender.pending()

    def supersede(self, job: SessionJob, why: str) -> None:
        """Report a job dropped before it ran (server lock held). Refinements and closed
        sessions go silently: the first has a result already, the second has nobody to
        tell."""
        s = job.session
        s.mark_built(job)
        if job.refine or why == "closed":
            return
        report = s.book_superseded(job)
        self.counters.superseded += 1
        self._emit(report, s.reply_to)

    def model_error(self, session: Session, text: str) -> None:
        """Tell ``session`` the model could not do one of its steps (server lock held)."""
        report = session.book_model_error(text)
        self.counters.model_errors += 1
        self._emit(report, session.reply_to)

    def deliver(self, job: SessionJob, step: StepInput, result: StepResult, *, num_steps: int,
                final: bool, degraded: bool, started: float, batch: int,
                refine: Callable[[SessionJob], None]) -> None:
        """Cut a result into datagrams in play order and hand them to the paced sender; the
        step is booked when its last datagram has left (:meth:`_book`). ``refine`` queues
        the full-quality re-run of a quick (not ``final``) first version (lock held)."""
        s = job.session
        send_start = self.clock.now()
        with self._lock:
            why = job.superseded(send_start)
            if why in ("closed", "reset"):
                self.supersede(job, why)
                return
            datagram = s.generated(job)
        # Back to the client clock and into datagrams, without holding the lock.
        datagrams, bad = s.output_datagrams(job, step, result.audio, final, datagram)
        with self._lock:
            address = s.reply_to  # a resume may have moved the session meanwhile
            for reason in bad:
                self.model_error(s, reason)
            # A refinement replaces chunks until the region has finished playing.
            deadline = (s.deadline_of(job.region[1]) if job.refine and job.realtime
                        else job.deadline)
            if not final and not job.refine:
                refine(job)
        size = sum(len(d) for d in datagrams)
        if self.sender.running:
            # What the scheduler plans with: the send at the base pace (a parcel with time to
            # spare is spread wider, by construction still before its deadline).
            predicted = self.clock.now() - send_start + size / self.sender.pace.rate
            self.send_time = 0.8 * self.send_time + 0.2 * predicted

        def alive() -> bool:
            with self._lock:
                return job.superseded(self.clock.now()) not in ("closed", "reset")

        def done(first: float | None, last: float | None, sent: int) -> None:
            self._book(job, result, num_steps=num_steps, degraded=degraded, started=started,
                       batch=batch, send_start=send_start, last=last, sent=sent)

        self.sender.submit(Parcel(address=address, datagrams=deque(datagrams),
                                  deadline=deadline, refine=job.refine, on_done=done,
                                  alive=alive))

    def _book(self, job: SessionJob, result: StepResult, *, num_steps: int, degraded: bool,
              started: float, batch: int, send_start: float, last: float | None,
              sent: int) -> None:
        """Book a step whose datagrams have all left (or were dropped): chunks, timing,
        slack and, when the last datagram left after the deadline, the miss."""
        s = job.session
        send_end = self.clock.now() if last is None else last
        if not self.sender.running:
            self.send_time = 0.8 * self.send_time + 0.2 * (send_end - send_start)
        timings = result.timings
        sample = timings.get("sample", send_start - started)
        with self._lock:
            deadline = job.deadline
            slack = None if deadline is None else deadline - send_end
            timing = StepTiming(
                step=job.step, num_steps=num_steps, batch=batch, wait=started - job.ready_at,
                encode=timings.get("encode", 0.0), sample=sample,
                decode=timings.get("decode", 0.0), send=send_end - send_start,
                total=send_end - job.ready_at, slack=slack)
            report = s.book_delivery(
                job, timing, sent=sent, degraded=degraded, grid_source=result.grid_source,
                grid_bpm=result.grid.bpm if result.grid is not None else None)
            c = self.counters
            if job.refine:
                c.refined += 1
                return
            c.steps += 1
            if degraded:
                c.degraded += 1
            if report is not None:
                c.misses += 1
                self._emit(report, s.reply_to)
            c.timings.append(timing)
