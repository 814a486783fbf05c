"""Many real-time clients in one thread, audited: the workhorse of the reliability scenarios.

* :class:`AuditedClient` is the reference client's protocol core
  (:class:`~sideman.client.StreamClient`) that also checks every chunk it receives
  against the step plan: its ``start``, ``xfade``, ``position``, ``index``, ``count`` and
  length must be exactly what the geometry and the chunk layout say (``alignment_errors``);
* :class:`LiveClient` streams one input in real time the way a patch does (blocks as they are
  "captured", a ``mark`` at every hop boundary, silence... here: dithered noise, so that a
  lost sample is recognisable) and can drop its socket for a while and come back from a new
  port with ``/sideman/resume``;
* :class:`Prober` pings the server at a fixed interval and keeps the round trips (is the
  receive loop answering?);
* :func:`run_realtime` drives any number of them from one thread with a selector, so that
  eight clients cost no more threads than one;
* :class:`ServerSampler` samples the server process: RSS, the engine queue, sessions, a few
  counters, at a fixed interval;
* :func:`click_errors` checks a click-track output to the sample.
"""

from __future__ import annotations

import logging
import resource
import selectors
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TypedDict

import numpy as np

from sideman.client import ClientRunner, ClientSettings, RunOptions, StreamClient
from sideman.server import osc, protocol
from sideman.server.app import Server

log = logging.getLogger(__name__)

Address = tuple[str, int]
#: Seconds between two resends of an unanswered ``resume``.
RESUME_RETRY = 0.25


class StepRow(TypedDict):
    """One planned step as a client saw it (:meth:`LiveClient.step_table`)."""

    step: int
    play: float | None  #: monotonic seconds the region's start plays
    latency_ms: float | None
    slack_ms: float | None
    miss: bool  #: the server reported it late
    state: str  #: ok, late, partial, lost or superseded


def dithered_noise(n: int, seed: int, level: float = 0.1) -> np.ndarray:
    """Noise with no sample exactly 0 (a zero in a step's context then always means lost)."""
    x = (level * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)
    x[x == 0] = np.float32(1e-4)
    return x


class AuditedClient(StreamClient):
    """A :class:`StreamClient` that checks every chunk's placement against the plan."""

    def __init__(self, settings: ClientSettings, client_rate: int, length: int, **kw) -> None:
        super().__init__(settings, client_rate, length, **kw)
        self.alignment_errors = 0
        self.alignment_examples: list[str] = []
        self.welcomes = 0
        #: Copies received per chunk (stem, step, final, index), duplicates included.
        self.copies: Counter = Counter()
        #: Client positions ``[position, end)`` of every distinct chunk received, per stem.
        self.received: dict[str, list[tuple[int, int]]] = {s: [] for s in settings.stems}

    def _on_message(self, m: osc.Message, now: float) -> None:
        if m.address == protocol.WELCOME:
            self.welcomes += 1
        super()._on_message(m, now)

    def _on_chunk(self, chunk: protocol.Chunk, now: float) -> None:
        key = (chunk.stem, chunk.step, int(chunk.final), chunk.index)
        self.copies[key] += 1
        if self.copies[key] == 1 and chunk.stem in self.received:
            self.received[chunk.stem].append((chunk.position,
                                              chunk.position + len(chunk.samples)))
        if chunk.stem in self.writers and self.ready:
            problem = self._misplaced(chunk)
            if problem is not None:
                self.alignment_errors += 1
                if len(self.alignment_examples) < 10:
                    self.alignment_examples.append(problem)
        super()._on_chunk(chunk, now)

    def _misplaced(self, chunk: protocol.Chunk) -> str | None:
        """What is wrong with a chunk's placement (None: exactly where the plan puts it)."""
        g, cm = self.geometry()
        k = chunk.step  # a fresh session without reset or regrid numbers steps by k
        a, b = cm.client_span(*g.region(k))
        xfade = min(int(self.setting("xfade", (0,))[0]), b - a)
        start = a - xfade
        datagram = int(self.setting("datagram", (protocol.DEFAULT_DATAGRAM,))[0])
        layout = protocol.chunk_layout(b - max(0, start), chunk.stem, datagram)
        if chunk.start != start or chunk.xfade != xfade:
            return f"step {k}: start/xfade {chunk.start}/{chunk.xfade}, expected {start}/{xfade}"
        if chunk.count != len(layout) or not 0 <= chunk.index < len(layout):
            return f"step {k}: index {chunk.index} of {chunk.count}, expected {len(layout)}"
        offset, length = layout[chunk.index]
        if chunk.position != max(0, start) + offset or len(chunk.samples) != length:
            return (f"step {k} chunk {chunk.index}: position {chunk.position} length "
                    f"{len(chunk.samples)}, expected {max(0, start) + offset} {length}")
        return None


def click_errors(buffer: np.ndarray, period: int, spans: Sequence[tuple[int, int]]) -> int:
    """Samples of a click-track output that are wrong: sound off the click grid, plus clicks
    missing (or sounding) against the union of the received chunks' spans."""
    n = len(buffer)
    covered = np.zeros(n, bool)
    for a, b in spans:
        covered[max(0, a):min(n, b)] = True
    hits = np.flatnonzero(buffer)
    off_grid = int(np.count_nonzero(hits % period))
    grid = np.arange(0, n, period)
    expected = set(grid[covered[grid]].tolist())
    got = set(hits[hits % period == 0].tolist())
    return off_grid + len(expected ^ got)


@dataclass
class Reconnect:
    """Drop the socket ``at`` seconds into the stream and come back ``gap`` seconds later
    from a new port with ``/sideman/resume`` (audio captured meanwhile is not sent)."""

    at: float
    gap: float


class LiveClient:
    """One real-time client: streams ``audio`` (every sample nonzero) block by block.

    Its capture is the reference client's real-time stream phase
    (:class:`~sideman.client.protocol.ClientProtocol`), driven from :func:`run_realtime`'s
    loop; while its socket is down (``reconnect``) what the phase sends is not sent."""

    def __init__(self, name: str, settings: ClientSettings, audio: np.ndarray, rate: int,
                 server: Address, *, length: int | None = None, block: int = 1024,
                 start_delay: float = 0.0, reconnect: Reconnect | None = None,
                 options: RunOptions | None = None) -> None:
        self.name = name
        self.audio = np.asarray(audio, np.float32)
        self.rate = rate
        self.block = block
        self.start_delay = start_delay
        self.reconnect = reconnect
        self.core = AuditedClient(settings, rate, length or len(audio), name=name)
        options = replace(options or RunOptions(pings=3), fast=False, realtime_block=block,
                          start=0.0)
        self.runner = ClientRunner(self.core, server, options=options)
        self.protocol = self.runner.protocol
        self.sent_mask = np.zeros(len(self.audio), bool)
        self.lost_mask = np.zeros(len(self.audio), bool)  # set by a proxy observer
        self.resumed_at: float | None = None
        self.dropped_at: float | None = None
        self.resumes_sent = 0
        self.active = False
        self._selector: selectors.BaseSelector | None = None
        # Touch the big buffers now, so that the process's RSS does not grow with them
        # during the run (what grows then is the server's).
        for array in (self.sent_mask, self.lost_mask,
                      *(w.buffer for w in self.core.writers.values())):
            array.fill(0)

    @property
    def sock(self) -> socket.socket:
        return self.runner.sock

    # -- phases ----------------------------------------------------------------------------
    def handshake(self) -> None:
        self.runner.handshake()
        core = self.core
        self.plan = core.plan()
        if not self.plan:
            raise ValueError(f"{self.name}: the input is shorter than one step")
        g, cm = core.geometry()
        delay = int(core.setting("delay", (0,))[0])
        self.end = max(core.length, self.plan[-1].region[1] + delay)
        if self.end > len(self.audio):
            raise ValueError(f"{self.name}: {len(self.audio)} samples of audio, the stream "
                             f"needs {self.end}")
        self.hop_seconds = g.hop_seconds
        self.hop = cm.to_client(g.hop_samples)
        self.window = cm.to_client(g.window_samples)

    def begin(self, t0: float, selector: selectors.BaseSelector) -> None:
        self.t0 = t0
        self.down_until: float | None = None
        self.resume_pending = False
        self.active = True
        self._selector = selector
        selector.register(self.sock, selectors.EVENT_READ, self)
        self.protocol.start_stream(self.audio, t0)

    def due(self) -> float:
        wake = self.protocol.wake
        due = wake if wake is not None else self.t0
        if self.down_until is not None:
            return min(self.down_until, due)
        if self.resume_pending:
            return min(self._next_resend, due)
        return due

    def act(self, now: float) -> None:
        if self.down_until is not None and now >= self.down_until:
            self._come_back(now)
        if self.resume_pending and now >= self._next_resend:
            self._send_resume(now)
        before = self.protocol.captured_upto
        payloads = self.protocol.poll(now)
        if self.down_until is None and not self.resume_pending:
            for payload in payloads:
                self.runner.send(payload)
            self.sent_mask[before:self.protocol.captured_upto] = True
        pos = self.protocol.captured_upto
        if (self.reconnect is not None and self.dropped_at is None
                and pos >= self.reconnect.at * self.rate):
            self._drop(now)
        if pos >= self.end or not self.protocol.busy:
            self.active = False

    # -- reconnecting ----------------------------------------------------------------------
    def _drop(self, now: float) -> None:
        assert self.reconnect is not None and self._selector is not None
        self.dropped_at = now
        self._selector.unregister(self.sock)
        self.sock.close()
        self.down_until = now + self.reconnect.gap

    def _come_back(self, now: float) -> None:
        assert self._selector is not None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        sock.bind(("127.0.0.1", 0))
        self.runner.sock = sock
        self._selector.register(sock, selectors.EVENT_READ, self)
        self.down_until = None
        self.resume_pending = True
        self._welcomes_before = self.core.welcomes
        self._send_resume(now)

    def _send_resume(self, now: float) -> None:
        self.runner.send(self.core.resume())
        self.resumes_sent += 1
        self._next_resend = now + RESUME_RETRY

    def on_datagram(self, payload: bytes, now: float) -> None:
        self.core.on_datagram(payload, now)
        if self.resume_pending and self.core.welcomes > self._welcomes_before:
            self.resume_pending = False
            self.resumed_at = now

    # -- results ---------------------------------------------------------------------------
    def step_table(self) -> list[StepRow]:
        """Per planned step: ``state`` (``ok``, ``late``: the first version's last chunk
        came after the region started playing, ``partial``: chunks of its best version are
        missing, ``lost``: a stem got nothing, ``superseded``), whether the server reported a
        miss, the play time of the region's start (monotonic seconds), latency and slack."""
        core = self.core
        rows: list[StepRow] = []
        for p in self.plan:
            entry = core.steps.get(p.step)
            play = core.play_time(p.step, p.region[0])
            miss = entry is not None and entry.miss_late is not None
            latency_ms: float | None = None
            slack_ms: float | None = None
            if entry is None or not entry.arrivals:
                state = "superseded" if entry is not None and entry.superseded else "lost"
                rows.append(StepRow(step=p.step, play=play, latency_ms=None, slack_ms=None,
                                    miss=miss, state=state))
                continue
            state, done = "ok", 0.0
            for stem in core.settings.stems:
                versions = sorted({k[1] for k in entry.arrivals if k[0] == stem})
                if not versions:
                    state = "lost"
                    break
                best = max(versions)
                got = sum(1 for k in entry.arrivals if k[0] == stem and k[1] == best)
                if got < entry.counts.get((stem, best), got):
                    state = "partial"
                first = min(versions)
                done = max(done, max(t for k, t in entry.arrivals.items()
                                     if k[0] == stem and k[1] == first))
            if state != "lost" and entry.capture_time is not None:
                latency_ms = (done - entry.capture_time) * 1e3
                if play is not None:
                    slack_ms = (play - done) * 1e3
                    if state == "ok" and done > play:
                        state = "late"
            rows.append(StepRow(step=p.step, play=play, latency_ms=latency_ms,
                                slack_ms=slack_ms, miss=miss, state=state))
        return rows

    def delivered(self) -> np.ndarray:
        """Per sample the client streamed: sent and not dropped by the network."""
        return (self.sent_mask & ~self.lost_mask)[:self.end]

    def stats(self, *, click_period: int | None = None) -> dict[str, object]:
        core = self.core
        stats = {k: v for k, v in core.stats().items() if k not in ("errors", "warnings")}
        stats["name"] = self.name
        stats["session"] = core.session
        stats["alignment_errors"] = core.alignment_errors
        stats["alignment_examples"] = list(core.alignment_examples)
        stats["errors"] = [f"{code}: {reason}" for code, reason in core.errors]
        stats["samples_sent"] = int(self.sent_mask.sum())
        stats["samples_lost_by_network"] = int((self.sent_mask & self.lost_mask).sum())
        if click_period is not None:
            stats["click_errors"] = sum(
                click_errors(core.writers[stem].buffer, click_period, core.received[stem])
                for stem in core.settings.stems)
        if self.reconnect is not None:
            stats["reconnect"] = {"dropped_at_s": _rel(self.dropped_at, self.t0),
                                  "resumed_at_s": _rel(self.resumed_at, self.t0),
                                  "resumes_sent": self.resumes_sent}
        return stats


def _rel(t: float | None, t0: float) -> float | None:
    return None if t is None else round(t - t0, 4)


class Prober:
    """Pings the server every ``interval`` seconds from its own socket; keeps round trips."""

    def __init__(self, server: Address, interval: float = 0.02) -> None:
        self.server = server
        self.interval = interval
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sent: dict[int, float] = {}
        self.rtts: list[tuple[float, float]] = []  # (sent at, round trip seconds)
        self.active = True
        self._stamp = 0

    def begin(self, t0: float, selector: selectors.BaseSelector) -> None:
        self._next = t0
        selector.register(self.sock, selectors.EVENT_READ, self)

    def due(self) -> float:
        return self._next

    def act(self, now: float) -> None:
        self._stamp += 1
        self.sent[self._stamp] = now
        self.sock.sendto(protocol.encode_ping(self._stamp), self.server)
        self._next = now + self.interval

    def on_datagram(self, payload: bytes, now: float) -> None:
        try:
            message = osc.decode(payload, max_size=65536).messages[0]
        except osc.OscDecodeError:
            return
        if message.address == protocol.PONG:
            sent = self.sent.pop(int(message.args[0]), None)
            if sent is not None:
                self.rtts.append((sent, now - sent))

    def close(self) -> None:
        self.sock.close()

    def unanswered(self, before: float) -> int:
        """Pings sent before ``before`` that never got a pong."""
        return sum(1 for t in self.sent.values() if t < before)


def run_realtime(clients: Sequence[LiveClient], *, probers: Sequence[Prober] = (),
                 tail: float = 1.0, lead: float = 0.1,
                 progress: Callable[[float, float], None] | None = None) -> None:
    """Stream every client in real time from this thread until all have sent their input,
    then collect chunks for up to ``tail`` seconds (or until every planned step is whole).
    ``progress(elapsed, total)`` is called about once a second."""
    selector = selectors.DefaultSelector()
    start = time.monotonic() + lead
    for c in clients:
        c.begin(start + c.start_delay, selector)
    for p in probers:
        p.begin(start, selector)
    actors: list = [*clients, *probers]
    total = max(c.start_delay + c.end / c.rate for c in clients)
    next_progress = start + 1.0

    def drain(timeout: float) -> None:
        for key, _ in selector.select(timeout):
            actor = key.data
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            sock.setblocking(False)
            for _ in range(256):
                try:
                    payload = sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:  # e.g. ICMP port unreachable surfaced on a UDP socket
                    continue
                actor.on_datagram(payload, time.monotonic())

    try:
        while any(c.active for c in clients):
            now = time.monotonic()
            due = min(a.due() for a in actors if a.active)
            drain(max(0.0, min(due - now, 0.02)))
            now = time.monotonic()
            for a in actors:
                while a.active and a.due() <= now:
                    a.act(now)
            if progress is not None and now >= next_progress:
                next_progress = now + 1.0
                progress(now - start, total)
        deadline = time.monotonic() + tail
        while time.monotonic() < deadline:
            if all(c.core.step_complete(p.step) for c in clients for p in c.plan):
                break
            now = time.monotonic()
            for p in probers:
                if p.due() <= now:
                    p.act(now)
            drain(0.02)
    finally:
        for key in list(selector.get_map().values()):
            selector.unregister(key.fileobj)
        selector.close()
        for c in clients:
            if c.sock.fileno() >= 0:
                c.sock.setblocking(True)


def finish_all(clients: Sequence[LiveClient]) -> None:
    """Ask each server session for its status, say bye, close the sockets (all at once)."""
    def finish(c: LiveClient) -> None:
        try:
            c.runner.finish()
        finally:
            c.runner.close()

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(finish, clients))


# -- the server's side ---------------------------------------------------------------------
def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class ServerSampler:
    """Samples ``server`` every ``interval`` seconds in a thread while running."""

    server: Server
    interval: float = 0.5
    samples: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="soak-sampler", daemon=True)
        self._t0 = time.monotonic()

    def sample(self) -> dict[str, float]:
        s = self.server
        c = s.counters
        with s.lock:
            # The server's own structures that could grow: session buffers and its tables.
            buffers = sum(x.buffer_bytes() for x in s.sessions.values())
            tables = (len(s._nonces) + len(s._bound) + len(c.drops_by_source)
                      + len(c.by_source) + (0 if s.guard is None else len(s.guard)))
            sessions = len(s.sessions)
        row = {"t": round(time.monotonic() - self._t0, 3), "rss_mb": rss_bytes() / 2**20,
               "queue": s.engine.pending(), "sessions": sessions,
               "input_buffers_mb": buffers / 2**20, "table_entries": tables,
               "datagrams_in": c.datagrams_in, "rate_limited": c.rate_limited,
               "steps": c.steps, "misses": c.misses}
        self.samples.append(row)
        return row

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> ServerSampler:
        self._t0 = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()

    def summary(self) -> dict[str, float]:
        rss = [r["rss_mb"] for r in self.samples]
        return {"rss_mb_start": round(rss[0], 2), "rss_mb_end": round(rss[-1], 2),
                "rss_mb_max": round(max(rss), 2),
                "table_entries_max": max(int(r["table_entries"]) for r in self.samples),
                "input_buffers_mb_max": round(max(r["input_buffers_mb"] for r in self.samples),
                                              2),
                "queue_max": max(int(r["queue"]) for r in self.samples),
                "sessions_max": max(int(r["sessions"]) for r in self.samples)}
