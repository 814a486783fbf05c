"""Socket-free driver: the live server's own code on a simulated clock (see app.py).

:class:`Simulation` joins one :class:`~sideman.server.app.Server` and any number of simulated
clients in memory and plays them out as a discrete-event simulation on a
:class:`~sideman.server.clock.ManualClock`. Each client is the reference client's protocol
core (:class:`~sideman.server.client.StreamClient`) behaving as ``sideman client`` does; the
server is the live server's session, scheduler, engine and chunker, unchanged. Only the
driver is new: events (datagram deliveries, the client's capture, server housekeeping) are
taken in time order instead of from sockets and threads.

* **Fast** (``ClientSettings.realtime`` False, ``realtime 0``; the default for quality
  sweeps): each client sends one hop of audio and a ``mark`` and waits for that step's chunks
  before the next hop, like ``sideman client --fast`` (a ``mark`` whose step brings nothing is
  sent again after ``retry`` seconds; a step with chunks missing is done ``quiet`` seconds
  after its last chunk). Model calls take no simulated time. Full quality, nothing is late.
* **Real time** (``realtime`` True): each client captures its audio on the simulated clock at
  its own rate and sends it in ``block``-sample datagrams as captured, with a ``mark`` at each
  capture point (:meth:`StreamClient.capture_schedule`, shared with the live client); the
  server ticks every ``tick_interval`` like the UDP server. Each model call takes the simulated
  time a :class:`Latency` gives (fixed, a seeded log-normal draw, or the measured wall time
  times a factor) while datagrams keep arriving and the server keeps ticking, as its receive
  thread would. Deadlines, degradation, refinement, misses, superseding and the watchdog are
  then the scheduler's own behaviour, deterministic for a given seed.

Several clients in one simulation are several sessions of one server: the engine batches
their ready steps into one model call, as it does live (a sweep uses this for speed; in real
time it also means they share the model). The output of each client equals what a live
client gets with the same settings and seed: the noise of each step is seeded by
(seed, step, stem) and the step grid is fixed by the settings (up to float rounding of a
batched model call).

A **link** decides the fate of each datagram per client and direction: a list of delivery
delays in seconds, one per copy (empty: lost). :class:`SimClient` takes
:class:`~sideman.bench.impair.Impairment` settings and draws the decisions with the same
seeded :class:`~sideman.bench.impair.Decider` the UDP proxy uses, per client, so a client's
fate does not depend on which other clients share its simulation.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sideman.bench.impair import Decider, Impairment
from sideman.models.base import Generator, StepRequest, StepResult, StreamState

from .app import Server, ServerConfig
from .client import (
    ClientError,
    ClientSettings,
    PlannedStep,
    StreamClient,
    TransportUpdate,
    _ack_matches,
    _expected_ack,
)
from .clock import ManualClock
from .session import Address

log = logging.getLogger(__name__)

CLIENT_ADDRESS = ("127.0.0.1", 50000)

#: ``link(direction, payload)``: copies to deliver now (an int; 0 drops it) or the delivery
#: delay in seconds of each copy (a sequence; empty drops it). Directions "up" and "down".
Link = Callable[[str, bytes], "int | Sequence[float]"]


# -- what is simulated ---------------------------------------------------------------------
@dataclass(frozen=True)
class SimClient:
    """One simulated client: what it captures, what it asks for, what its link does.

    ``audio`` is mono float32 at ``rate`` Hz (the client's clock). ``transport`` updates are
    sent before the ``mark`` of the first capture point at or after their ``at``. ``up`` and
    ``down`` impair the link (``None``: perfect), with decisions seeded by ``link_seed``.
    """

    audio: np.ndarray
    rate: int
    settings: ClientSettings
    name: str = "sim"
    transport: tuple[TransportUpdate, ...] = ()
    up: Impairment | None = None
    down: Impairment | None = None
    link_seed: int = 0


@dataclass(frozen=True)
class Latency:
    """Simulated seconds of one model call (real-time simulations only).

    ``per_call + per_step · num_steps`` (``num_steps``: the most sampling steps in the
    batch); with ``jitter`` > 0 a log-normal draw with that mean and standard deviation; with
    ``measured`` set, the call's measured wall time times ``measured`` instead.
    """

    per_call: float = 0.0
    per_step: float = 0.0
    jitter: float = 0.0
    measured: float | None = None

    def __post_init__(self) -> None:
        for name in ("per_call", "per_step", "jitter"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"latency {name} must be >= 0 seconds, got {value!r}")
        if self.measured is not None and not (math.isfinite(self.measured)
                                              and self.measured > 0):
            raise ValueError(f"measured latency factor must be > 0, got {self.measured!r}")
        if self.measured is not None and (self.per_call or self.per_step or self.jitter):
            raise ValueError("a measured latency takes no per_call, per_step or jitter")
        if self.jitter and not (self.per_call or self.per_step):
            raise ValueError("latency jitter needs a mean (per_call or per_step > 0)")

    @property
    def zero(self) -> bool:
        return self.measured is None and not (self.per_call or self.per_step)

    def seconds(self, requests: Sequence[StepRequest], wall: float, rng: random.Random
                ) -> float:
        if self.measured is not None:
            return wall * self.measured
        mean = self.per_call + self.per_step * max((r.num_steps for r in requests), default=0)
        if self.jitter <= 0 or mean <= 0:
            return mean
        sigma2 = math.log1p((self.jitter / mean) ** 2)
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    def describe(self) -> str:
        if self.measured is not None:
            return f"measured wall time x {self.measured:g}"
        text = f"{self.per_call * 1e3:g} ms per call + {self.per_step * 1e3:g} ms per step"
        return text + (f", log-normal jitter {self.jitter * 1e3:g} ms" if self.jitter else "")


@dataclass(frozen=True)
class Timing:
    """The clients' timing knobs (seconds), as :class:`~.client.RunOptions` has them."""

    retry: float = 0.25  #: resend an unanswered hello / set / mark / status after this
    handshake_timeout: float = 5.0
    step_timeout: float = 10.0  #: fast: give up waiting for one step's chunks
    quiet: float = 0.3  #: fast: a step is done this long after its last chunk
    tail: float = 0.3  #: real time: collect late chunks this long after the last step
    block: int = 1024  #: real time: samples per audio datagram (like a patch)
    start: float = 0.05  #: real time: capture starts this long after the handshake
    tick_interval: float = 0.005  #: real time: server housekeeping period (UdpServer's)


@dataclass
class SimStats:
    """What the simulation itself measured."""

    model_calls: int = 0
    model_wall_seconds: float = 0.0
    simulated_seconds: float = 0.0
    events: int = 0


class SimulatedModel(Generator):
    """Wraps a generator: each call takes the simulated time of ``latency``, during which the
    simulation keeps delivering datagrams and ticking (``advance``)."""

    def __init__(self, inner: Generator, latency: Latency, advance: Callable[[float], None],
                 stats: SimStats, seed: int = 0) -> None:
        self.inner = inner
        self.info = inner.info
        self.latency = latency
        self._advance = advance
        self._stats = stats
        self._rng = random.Random(seed)

    def new_stream(self) -> StreamState:
        return self.inner.new_stream()

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        started = time.perf_counter()
        results = self.inner.generate(requests)
        wall = time.perf_counter() - started
        self._stats.model_calls += 1
        self._stats.model_wall_seconds += wall
        self._advance(self.latency.seconds(requests, wall, self._rng))
        return results


# -- the simulation ------------------------------------------------------------------------
@dataclass(order=True)
class _Event:
    time: float
    order: int
    action: Callable[[], None] = field(compare=False)


class _Peer:
    """A simulated client: the protocol core and where it is in its stream."""

    def __init__(self, index: int, spec: SimClient, link: Link | None) -> None:
        if spec.audio.ndim != 1:
            raise ValueError(f"client {spec.name}: audio must be mono, got shape "
                             f"{spec.audio.shape}")
        self.index = index
        self.spec = spec
        self.address: Address = (CLIENT_ADDRESS[0], CLIENT_ADDRESS[1] + index)
        self.core = StreamClient(spec.settings, spec.rate, len(spec.audio), nonce=index + 1,
                                 name=spec.name)
        deciders = {"up": Decider(spec.up or Impairment(), spec.link_seed * 2 + 1),
                    "down": Decider(spec.down or Impairment(), spec.link_seed * 2 + 2)}
        impaired = spec.up is not None or spec.down is not None

        def decide(direction: str, payload: bytes) -> Sequence[float]:
            if link is not None:
                fate = link(direction, payload)
                return [0.0] * fate if isinstance(fate, int) else list(fate)
            return deciders[direction].decide() if impaired else [0.0]

        self.decide = decide
        self.plan: list[PlannedStep] = []
        self.audio = np.zeros(0, np.float32)
        self.transports = sorted(spec.transport, key=lambda t: t.at)
        self.next_transport = 0
        self.next_step = 0
        self.sent = 0
        self.waiting: tuple[PlannedStep, bytes, float] | None = None  # fast: step, mark, since
        self.timer = 0  # token of the armed timer (older timers are ignored)
        self.streaming_done = False


class Simulation:
    """A server and simulated clients on one simulated clock (see the module docstring)."""

    def __init__(self, generator: Generator, *, config: ServerConfig | None = None,
                 latency: Latency | None = None, timing: Timing | None = None,
                 link: Link | None = None, warmup: bool = True, seed: int = 0) -> None:
        self.clock = ManualClock()
        self.timing = timing or Timing()
        self.latency = latency or Latency()
        self.link = link
        self.warmup = warmup
        self.stats = SimStats()
        self._heap: list[_Event] = []
        self._order = itertools.count()
        self._in_call = False
        self._peers: dict[Address, _Peer] = {}
        self._ticking = False
        self._warmed = False
        self.model = SimulatedModel(generator, self.latency, self._advance_during_call,
                                    self.stats, seed=seed)
        self.server = Server(self.model, config or ServerConfig(log_interval=0),
                             clock=self.clock, send=self._server_send)

    # -- events ----------------------------------------------------------------------------
    def _at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, _Event(max(when, self.clock.now()), next(self._order),
                                          action))

    def _pop(self) -> None:
        event = heapq.heappop(self._heap)
        self.clock.set(event.time)
        self.stats.events += 1
        event.action()

    def _advance_during_call(self, seconds: float) -> None:
        """A model call takes ``seconds``: meanwhile the server receives and ticks."""
        end = self.clock.now() + max(0.0, seconds)
        self._in_call = True
        try:
            while self._heap and self._heap[0].time <= end:
                self._pop()
        finally:
            self._in_call = False
        self.clock.set(end)

    def _run_engine(self, fast: bool) -> None:
        if fast:
            self.server.tick()
        while self.server.engine.process_ready():
            pass

    def _run(self, until: float | None, done: Callable[[], bool], fast: bool) -> bool:
        """Process events (and run the engine whenever simultaneous events are done) until
        ``done()`` or simulated time ``until``; returns ``done()``."""
        while True:
            if not self._heap or self._heap[0].time > self.clock.now():
                self._run_engine(fast)
            if done():
                return True
            if not self._heap or (until is not None and self._heap[0].time > until):
                if until is not None and until > self.clock.now():
                    self.clock.set(until)
                return done()
            self._pop()

    # -- datagrams -------------------------------------------------------------------------
    def _server_send(self, payload: bytes, address: Address) -> None:
        peer = self._peers.get(address)
        if peer is None:
            return
        now = self.clock.now()
        for delay in peer.decide("down", payload):
            self._at(now + delay, lambda p=payload, q=peer: self._deliver(q, p))

    def _deliver(self, peer: _Peer, payload: bytes) -> None:
        peer.core.on_datagram(payload, self.clock.now())
        if peer.waiting is not None and peer.core.step_complete(peer.waiting[0].step):
            self._fast_next(peer)

    def _client_send(self, peer: _Peer, payload: bytes) -> None:
        now = self.clock.now()
        for delay in peer.decide("up", payload):
            self._at(now + delay, lambda p=payload, a=peer.address:
                     self.server.handle_datagram(p, a))

    def _request(self, peer: _Peer, payload: Callable[[], bytes], done: Callable[[], bool],
                 timeout: float, fast: bool) -> bool:
        """Send, and send again every ``retry`` s, until ``done()`` or ``timeout``."""
        deadline = self.clock.now() + timeout
        while not done():
            if self.clock.now() >= deadline:
                return False
            self._client_send(peer, payload())
            self._run(min(deadline, self.clock.now() + self.timing.retry), done, fast)
        return True

    # -- phases ----------------------------------------------------------------------------
    def _handshake(self, peer: _Peer, fast: bool) -> None:
        core = peer.core
        t = self.timing
        if not self._request(peer, core.hello, lambda: core.session is not None
                             or bool(core.errors), t.handshake_timeout, fast):
            raise ClientError(f"{peer.spec.name}: no welcome within {t.handshake_timeout} s")
        if core.session is None:
            code, reason = core.errors[-1]
            raise ClientError(f"{peer.spec.name}: the server refused the session ({code}): "
                              f"{reason}")
        for key, values in core.settings.requests(int(core.acks.get("w", (1,))[0])):
            before = len(core.errors)
            core.acks.pop(key, None)
            message = core.set_message(key, values)
            expected = _expected_ack(key, values, core)
            ok = self._request(
                peer, lambda m=message: m,
                lambda k=key, e=expected, b=before: (
                    core.acks.get(k) is not None and _ack_matches(core.acks[k], e))
                or len(core.errors) > b, t.handshake_timeout, fast)
            if len(core.errors) > before:
                code, reason = core.errors[-1]
                raise ClientError(f"{peer.spec.name}: set {key} "
                                  f"{' '.join(map(str, values))} refused ({code}): {reason}")
            if not ok:
                raise ClientError(f"{peer.spec.name}: no ack for set {key}")
            core.confirm(key)
        peer.plan = core.plan()
        end = max((p.capture for p in peer.plan), default=0)
        peer.audio = np.zeros(max(end, len(peer.spec.audio)), np.float32)
        peer.audio[:len(peer.spec.audio)] = peer.spec.audio

    def _send_transports(self, peer: _Peer, upto: int) -> None:
        while (peer.next_transport < len(peer.transports)
               and peer.transports[peer.next_transport].at <= upto):
            t = peer.transports[peer.next_transport]
            self._client_send(peer, peer.core.transport(t.bpm, t.beat_position,
                                                        t.beats_per_bar, t.beat_in_bar))
            peer.next_transport += 1

    # fast mode: one hop, wait for its step, the next hop
    def _fast_next(self, peer: _Peer) -> None:
        peer.waiting = None
        peer.timer += 1
        if peer.next_step >= len(peer.plan):
            peer.streaming_done = True
            return
        p = peer.plan[peer.next_step]
        peer.next_step += 1
        core = peer.core
        if p.capture > peer.sent:
            for payload in core.audio_messages(peer.sent, peer.audio[peer.sent:p.capture],
                                               core.audio_block()):
                self._client_send(peer, payload)
            peer.sent = p.capture
        self._send_transports(peer, p.capture)
        mark = core.mark(p.capture)
        self._client_send(peer, mark)
        now = self.clock.now()
        core.captured(p.step, now)
        peer.waiting = (p, mark, now)
        self._arm(peer, now + self.timing.retry)

    def _arm(self, peer: _Peer, when: float) -> None:
        peer.timer += 1
        token = peer.timer
        self._at(when, lambda: self._fast_timer(peer, token))

    def _fast_timer(self, peer: _Peer, token: int) -> None:
        if token != peer.timer or peer.waiting is None:
            return
        p, mark, since = peer.waiting
        now = self.clock.now()
        t = self.timing
        last = peer.core.last_arrival(p.step)
        if now - since >= t.step_timeout:
            self._fast_next(peer)
        elif last is not None:
            # Compared as the timer was set (last + quiet): now - last can round below quiet
            # at that very time, which would re-arm the timer at the same instant forever.
            if now >= last + t.quiet:
                self._fast_next(peer)  # some chunks never came: done with what arrived
            else:
                self._arm(peer, last + t.quiet)
        else:
            self._client_send(peer, mark)  # the mark (or the whole output) may be lost
            self._arm(peer, now + t.retry)

    # real time: capture on the simulated clock
    def _schedule_capture(self, peer: _Peer, t0: float) -> float:
        core = peer.core
        rate = core.client_rate
        block = min(self.timing.block, core.audio_block())
        end, sends = core.capture_schedule(len(peer.audio), block)
        audio = peer.audio
        for p in peer.plan:
            core.captured(p.step, t0 + p.capture / rate)

        def start() -> None:
            self._send_transports(peer, 0)
            self._client_send(peer, core.mark(0))

        self._at(t0, start)
        for a, b, marks in sends:
            def capture(a: int = a, b: int = b, marks: list[int] = marks) -> None:
                chunk = np.zeros(b - a, np.float32)
                if a < len(audio):
                    piece = audio[a:min(b, len(audio))]
                    chunk[:len(piece)] = piece
                for payload in core.audio_messages(a, chunk, block):
                    self._client_send(peer, payload)
                for position in marks:
                    self._send_transports(peer, position)
                    self._client_send(peer, core.mark(position))
            self._at(t0 + b / rate, capture)
        return t0 + end / rate

    def _tick(self) -> None:
        if not self._ticking:
            return
        self.server.tick()
        self._at(self.clock.now() + self.timing.tick_interval, self._tick)

    def _finish(self, peer: _Peer, fast: bool) -> None:
        core = peer.core
        core.status = {}
        self._request(peer, core.status_request, lambda: bool(core.status), 2.0, fast)
        self._request(peer, core.bye, lambda: "bye" in core.acks, 1.0, fast)

    # -- the whole run ---------------------------------------------------------------------
    def run(self, clients: Sequence[SimClient]) -> list[StreamClient]:
        """Play every client's audio through the server; returns their finished cores (the
        ``writers`` hold the output, ``stats()`` the figures), in order.

        May be called again with more clients: the server (its step-time estimate, the
        clock) carries on like a long-running one."""
        if not clients:
            return []
        modes = {c.settings.realtime for c in clients}
        if len(modes) != 1:
            raise ValueError("all clients of one simulation must share realtime on or off")
        fast = not modes.pop()
        if fast and not self.latency.zero:
            raise ValueError("a simulated latency only matters in real time: give the "
                             "clients ClientSettings(realtime=True)")
        start_index = len(self._peers)
        peers = [_Peer(start_index + i, c, self.link) for i, c in enumerate(clients)]
        for peer in peers:
            self._peers[peer.address] = peer
        if not fast and self.warmup and not self._warmed:
            # As `sideman serve` does: two throw-away calls calibrate the step-time estimate.
            self.server.engine.warmup(clients[0].rate)
            self._warmed = True
        for peer in peers:
            self._handshake(peer, fast)
        if fast:
            for peer in peers:
                self._at(self.clock.now(), lambda q=peer: self._fast_next(q))
            self._run(None, lambda: all(q.streaming_done for q in peers), fast)
        else:
            t0 = self.clock.now() + self.timing.start
            end = max(self._schedule_capture(peer, t0) for peer in peers)
            self._ticking = True
            self._at(t0, self._tick)

            def complete() -> bool:
                return self.clock.now() >= end and all(
                    q.core.step_complete(p.step) for q in peers for p in q.plan)

            self._run(end + self.timing.tail, complete, fast)
            self._run(self.clock.now() + self.timing.tail, lambda: False, fast)
            self._ticking = False
        for peer in peers:
            self._finish(peer, fast)
        self.stats.simulated_seconds = self.clock.now()
        return [peer.core for peer in peers]


def run_offline(generator: Generator, audio: np.ndarray, rate: int, settings: ClientSettings,
                *, config: ServerConfig | None = None, link: Link | None = None,
                block: int | None = None) -> StreamClient:
    """Stream ``audio`` in fast mode through an in-memory server; returns the client core.

    One client of a :class:`Simulation` (kept for its short signature); ``block`` is not
    used any more (fast clients send datagrams of the session's audio capacity)."""
    if settings.realtime:
        raise ValueError("run_offline drives realtime=0 sessions; pass ClientSettings("
                         "realtime=False) or use Simulation for real time")
    del block
    sim = Simulation(generator, config=config, link=link)
    return sim.run([SimClient(audio=np.asarray(audio, np.float32), rate=rate,
                              settings=settings, name="offline")])[0]
