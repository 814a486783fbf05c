"""Socket-free driver: the live server's own code on a simulated clock.

:class:`Simulation` joins one :class:`~sideman.server.app.Server` and any number of simulated
clients in memory and plays them out as a discrete-event simulation on a
:class:`~sideman.server.clock.ManualClock`. Each client is the reference client's sans-IO
protocol (:class:`~sideman.client.protocol.ClientProtocol`, the same phases ``sideman client``
runs over UDP); the server is the live server's session, scheduler, engine and chunker,
unchanged. Only the driver is new: events (datagram deliveries, the clients' timers, server
housekeeping) are taken in time order instead of from sockets and threads.

* **Fast** (``ClientSettings.realtime`` False, ``realtime 0``; the default for quality
  sweeps): each client sends one hop of audio and a ``mark`` and waits for that step's chunks
  before the next hop, like ``sideman client --fast``. Model calls take no simulated time.
  Full quality, nothing is late.
* **Real time** (``realtime`` True): each client captures its audio on the simulated clock at
  its own rate and sends it as a patch does
  (:meth:`~sideman.client.core.StreamClient.capture_schedule`); the server ticks every
  ``tick_interval`` like the UDP server. Each model call takes the simulated time a
  :class:`~.latency.Latency` gives (fixed, a seeded log-normal draw, or the measured wall
  time times a factor) while datagrams keep arriving and the server keeps ticking, as its
  receive thread would. Deadlines, degradation, refinement, misses, superseding and the
  watchdog are then the scheduler's own behaviour, deterministic for a given seed.

Several clients in one simulation are several sessions of one server: the engine batches
their ready steps into one model call, as it does live (a sweep uses this for speed; in real
time it also means they share the model). The output of each client equals what a live
client gets with the same settings and seed: the noise of each step is seeded by
(seed, step, stem) and the step grid is fixed by the settings (up to float rounding of a
batched model call).

A **link** decides the fate of each datagram per client and direction: a list of delivery
delays in seconds, one per copy (empty: lost). :class:`SimClient` takes
:class:`~.network.Impairment` settings and draws the decisions with the same seeded
:class:`~.network.Decider` the soak's UDP proxy uses, per client, so a client's fate does
not depend on which other clients share its simulation.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from sideman.client.core import ClientSettings, StreamClient, TransportUpdate
from sideman.client.protocol import ClientProtocol, RunOptions
from sideman.models.base import Generator
from sideman.server.app import Server, ServerConfig
from sideman.server.clock import ManualClock
from sideman.server.session import Address

from .latency import Latency, SimulatedModel
from .network import Decider, Impairment

log = logging.getLogger(__name__)

CLIENT_ADDRESS = ("127.0.0.1", 50000)

#: ``link(direction, payload)``: copies to deliver now (an int; 0 drops it) or the delivery
#: delay in seconds of each copy (a sequence; empty drops it). Directions "up" and "down".
Link = Callable[[str, bytes], "int | Sequence[float]"]

#: The clients' timing in a simulation: the live client's, without pings.
SIM_OPTIONS = RunOptions(pings=0)


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


@dataclass
class SimStats:
    """What the simulation itself measured."""

    model_calls: int = 0
    model_wall_seconds: float = 0.0
    simulated_seconds: float = 0.0
    events: int = 0


# -- the simulation ------------------------------------------------------------------------
@dataclass(order=True)
class _Event:
    time: float
    order: int
    action: Callable[[], None] = field(compare=False)


class _Peer:
    """A simulated client: its protocol, its link and its armed timer."""

    def __init__(self, index: int, spec: SimClient, link: Link | None,
                 options: RunOptions) -> None:
        if spec.audio.ndim != 1:
            raise ValueError(f"client {spec.name}: audio must be mono, got shape "
                             f"{spec.audio.shape}")
        self.spec = spec
        self.address: Address = (CLIENT_ADDRESS[0], CLIENT_ADDRESS[1] + index)
        self.core = StreamClient(spec.settings, spec.rate, len(spec.audio), nonce=index + 1,
                                 name=spec.name)
        self.protocol = ClientProtocol(
            self.core, replace(options, fast=not spec.settings.realtime),
            transports=spec.transport, server="the simulated server")
        deciders = {"up": Decider(spec.up or Impairment(), spec.link_seed * 2 + 1),
                    "down": Decider(spec.down or Impairment(), spec.link_seed * 2 + 2)}
        impaired = spec.up is not None or spec.down is not None

        def decide(direction: str, payload: bytes) -> Sequence[float]:
            if link is not None:
                fate = link(direction, payload)
                return [0.0] * fate if isinstance(fate, int) else list(fate)
            return deciders[direction].decide() if impaired else [0.0]

        self.decide = decide
        self.timer: float | None = None  # when the armed timer fires


class Simulation:
    """A server and simulated clients on one simulated clock (see the module docstring)."""

    def __init__(self, generator: Generator, *, config: ServerConfig | None = None,
                 latency: Latency | None = None, options: RunOptions = SIM_OPTIONS,
                 tick_interval: float = 0.005, link: Link | None = None,
                 warmup: bool = True, seed: int = 0) -> None:
        self.clock = ManualClock()
        self.options = options
        #: Real time: server housekeeping period (UdpServer's).
        self.tick_interval = tick_interval
        self.latency = latency or Latency()
        self.link = link
        self.warmup = warmup
        self.stats = SimStats()
        self._heap: list[_Event] = []
        self._order = itertools.count()
        self._peers: dict[Address, _Peer] = {}
        self._ticking = False
        self._warmed = False
        self.model = SimulatedModel(generator, self.latency, advance=self._advance_during_call,
                                    now=self.clock.now, seed=seed)
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
        while self._heap and self._heap[0].time <= end:
            self._pop()
        self.clock.set(end)

    def _run_engine(self, fast: bool) -> None:
        if fast:
            self.server.tick()
        while self.server.engine.process_ready():
            pass

    def _run(self, done: Callable[[], bool], fast: bool) -> None:
        """Process events (and run the engine whenever simultaneous events are done) until
        ``done()`` or no event is left."""
        while True:
            if not self._heap or self._heap[0].time > self.clock.now():
                self._run_engine(fast)
            if done() or not self._heap:
                return
            self._pop()

    # -- datagrams and the clients' protocol -----------------------------------------------
    def _server_send(self, payload: bytes, address: Address) -> None:
        peer = self._peers.get(address)
        if peer is None:
            return
        now = self.clock.now()
        for delay in peer.decide("down", payload):
            self._at(now + delay, functools.partial(self._deliver, peer, payload))

    def _deliver(self, peer: _Peer, payload: bytes) -> None:
        peer.protocol.on_datagram(payload, self.clock.now())
        self._poll(peer)

    def _poll(self, peer: _Peer) -> None:
        """Send what the client's protocol sends now; arm its timer for its next wake."""
        now = self.clock.now()
        for payload in peer.protocol.poll(now):
            for delay in peer.decide("up", payload):
                self._at(now + delay, functools.partial(self.server.handle_datagram,
                                                        payload, peer.address))
        wake = peer.protocol.wake
        if wake is not None and (peer.timer is None or wake < peer.timer
                                 or peer.timer <= now):
            peer.timer = wake
            self._at(wake, lambda: self._timer(peer, wake))

    def _timer(self, peer: _Peer, when: float) -> None:
        if peer.timer == when:
            peer.timer = None
            self._poll(peer)

    def _phase(self, peers: Sequence[_Peer], start: Callable[[_Peer], None], fast: bool
               ) -> None:
        """Start a phase of each peer's protocol and run until every one has ended."""
        for peer in peers:
            start(peer)
            self._poll(peer)
        self._run(lambda: not any(q.protocol.busy for q in peers), fast)
        for peer in peers:
            if peer.protocol.error is not None:
                raise type(peer.protocol.error)(f"{peer.spec.name}: {peer.protocol.error}")

    def _tick(self) -> None:
        if not self._ticking:
            return
        self.server.tick()
        self._at(self.clock.now() + self.tick_interval, self._tick)

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
        peers = [_Peer(start_index + i, c, self.link, self.options)
                 for i, c in enumerate(clients)]
        for peer in peers:
            self._peers[peer.address] = peer
        if not fast and self.warmup and not self._warmed:
            # As `sideman serve` does: two throw-away calls calibrate the step-time estimate.
            self.server.engine.warmup(clients[0].rate)
            self._warmed = True
        for peer in peers:  # one after the other: sessions are numbered in client order
            self._phase([peer], lambda q: q.protocol.start_handshake(self.clock.now()), fast)
        now = self.clock.now()
        if not fast:
            self._ticking = True
            self._at(now + self.options.start, self._tick)
        self._phase(peers, lambda q: q.protocol.start_stream(q.spec.audio, now), fast)
        self._ticking = False
        self._phase(peers, lambda q: q.protocol.start_finish(self.clock.now()), fast)
        self.stats.simulated_seconds = self.clock.now()
        self.stats.model_calls = len(self.model.calls)
        self.stats.model_wall_seconds = self.model.wall_seconds
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
