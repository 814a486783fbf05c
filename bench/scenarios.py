"""Reliability scenarios on a live server over loopback UDP; each returns a JSON-able report.

The same functions run the short CI versions (the tests in ``tests/reliability/`` assert their
figures) and the long soaks (``sideman soak``):

* :func:`run_impairment`: N real-time clients through the seeded impairment proxy (loss,
  bursts, reordering, duplicates, jitter). Every chunk's placement is checked against the
  plan, every context the model saw is checked against what the client sent (the silent
  samples are exactly those the network lost), and the client's chunk copies are compared
  with what the proxy delivered, chunk by chunk;
* :func:`run_slow`: a model whose steps take longer than their budget now and then and stall
  once for seconds; a prober pings the server all along (the receive loop must answer), the
  queue is sampled, every step that did not play normally must have been reported, and the
  number of hops until normal output resumes is measured;
* :func:`run_fuzz`: hostile datagrams in-process (hundreds of thousands in a soak) and over
  UDP beside a real client, which must lose nothing;
* :func:`run_flood`: a flooder process sends garbage and session-less messages at tens of
  thousands of datagrams per second while real clients play; compared with a run without it;
* :func:`run_churn`: sessions opened and abandoned by the thousand (memory must come back to
  where it was) while a client drops its socket and resumes from a new port.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import re
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from sideman.client import ClientSettings, RunOptions
from sideman.eval.latency import Latency, SimulatedModel
from sideman.models import clicktrack as clicktrack_module
from sideman.models.base import Generator
from sideman.models.clicktrack import ClickTrack
from sideman.server import app as server_module
from sideman.server import osc, protocol
from sideman.server.app import Server, ServerConfig
from sideman.server.clock import ManualClock
from sideman.server.session import Session
from sideman.server.telemetry import percentile
from sideman.server.testing import AuditTrack, InputAudit
from sideman.server.transport import UdpServer, freeze_heap

from .driver import (
    LiveClient,
    Prober,
    Reconnect,
    ServerSampler,
    StepRow,
    dithered_noise,
    finish_all,
    rss_bytes,
    run_realtime,
)
from .flood import KINDS, start_flood
from .fuzz import DatagramFuzzer, Target, fuzz_server
from .impair import Impairment, ImpairProxy, Record

log = logging.getLogger(__name__)

Address = tuple[str, int]
Progress = Callable[[float, float], None]


# -- shared pieces -------------------------------------------------------------------------
@dataclass(frozen=True)
class Stream:
    """What each real-time client asks for and sends."""

    seconds: float = 4.0
    r: float = 0.25
    w: int = 1
    stems: tuple[str, ...] = ("drums",)
    steps: int | None = None
    datagram: int | None = None  #: None: the server's default (8192 bytes)
    xfade: int = 256  #: set explicitly: the welcome's acks of the defaults may be lost
    client_rate: int | None = None  #: None: the model's own rate (44100 for click tracks)
    block: int = 1024
    seed: int = 0

    def settings(self) -> ClientSettings:
        return ClientSettings(stems=self.stems, r=self.r, w=self.w, steps=self.steps,
                              datagram=self.datagram, xfade=self.xfade, seed=self.seed)


def sample_interval(stream: Stream) -> float:
    """Seconds between server samples: 4 a second, at most about 1200 samples a run."""
    return max(0.25, stream.seconds / 1200.0)


def client_rate_of(generator: Generator, stream: Stream) -> int:
    return stream.client_rate or generator.info.sample_rate or 44100


def click_period_of(generator: Generator) -> int | None:
    inner = generator
    while not isinstance(inner, ClickTrack) and hasattr(inner, "inner"):
        inner = inner.inner
    return inner.period if isinstance(inner, ClickTrack) else None


def audit_possible(generator: Generator, rate: int) -> bool:
    """The context can be compared with the input sample for sample only on one clock."""
    return generator.info.sample_rate in (None, rate)


@contextlib.contextmanager
def serve(generator: Generator, config: ServerConfig, *, warmup: bool = True
          ) -> Iterator[tuple[Server, Address]]:
    """A warmed-up server on a free loopback port, in its threads."""
    server = Server(generator, config)
    if warmup:
        server.engine.warmup()
    freeze_heap()  # as `sideman serve` does
    udp = UdpServer(server, "127.0.0.1", 0).start()
    try:
        yield server, udp.address
    finally:
        udp.stop()


def make_clients(n: int, stream: Stream, generator: Generator, server: Address, *,
                 name: str = "client", reconnect: dict[int, Reconnect] | None = None
                 ) -> list[LiveClient]:
    rate = client_rate_of(generator, stream)
    info = generator.info
    model_rate = info.sample_rate or rate
    window = math.ceil(info.window_frames * info.hop_length * rate / model_rate)
    length = int(stream.seconds * rate)
    clients = []
    for i in range(n):
        audio = dithered_noise(length + 2 * window + stream.block, stream.seed * 1000 + i)
        clients.append(LiveClient(
            f"{name}-{i}", stream.settings(), audio, rate, server, length=length,
            block=stream.block, start_delay=0.0137 * i,  # not in lockstep
            reconnect=(reconnect or {}).get(i),
            options=RunOptions(pings=3, retry=0.25, handshake_timeout=10.0)))
    return clients


def handshake_all(clients: Sequence[LiveClient], server: Server, audit: InputAudit | None,
                  ) -> dict[int, AuditTrack]:
    """Handshake every client (at once, each on its own socket); register each stream with
    the audit. Returns the audit tracks by session."""
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(lambda c: c.handshake(), clients))
    tracks = {}
    for c in clients:
        sid = c.core.session
        assert sid is not None
        if audit is not None:
            with server.lock:
                session = server.sessions[sid]
            # A position is judged in the last context that holds it (captured at least the
            # context's length minus a hop after it): by then every copy the network delivered
            # has normally arrived.
            g, _ = c.core.geometry()
            context = c.window - (g.lookahead + 1) * c.hop
            tracks[sid] = audit.watch(session.stream, c.audio, settle=max(1, context - c.hop))
    return tracks


class Ledger:
    """A proxy observer: what the network did to each client's audio and chunks."""

    def __init__(self) -> None:
        self.clients: dict[int, LiveClient] = {}
        self.chunk_copies: dict[int, Counter] = {}  # session -> key -> copies delivered
        self.sent_steps: dict[int, set[int]] = {}  # session -> steps with chunks sent
        self.superseded: dict[int, set[int]] = {}  # session -> steps reported superseded
        self.audio_duplicated: Counter = Counter()  # session -> samples delivered twice

    def add(self, client: LiveClient) -> None:
        sid = client.core.session
        assert sid is not None
        self.clients[sid] = client
        self.chunk_copies[sid] = Counter()
        self.sent_steps[sid] = set()
        self.superseded[sid] = set()

    def __call__(self, record: Record) -> None:
        payload = record.payload
        if record.direction == "up":
            if not payload.startswith(b"/sideman/audio\x00"):
                return
            m = osc.decode(payload, max_size=65536, float_runs=True).messages[0]
            client = self.clients.get(int(m.args[0]))
            if client is None:
                return
            position = int(m.args[2])
            n = sum(np.size(a) for a in m.args[3:])
            if record.copies == 0:
                client.lost_mask[position:position + n] = True
            elif record.copies > 1:
                self.audio_duplicated[int(m.args[0])] += n * (record.copies - 1)
            return
        if payload.startswith(b"/sideman/chunk\x00"):
            m = osc.decode(payload, max_size=65536, float_runs=True).messages[0]
            sid = int(m.args[0])
            if sid in self.chunk_copies:
                key = (str(m.args[1]), int(m.args[2]), int(m.args[8]), int(m.args[6]))
                self.chunk_copies[sid][key] += record.copies
                self.sent_steps[sid].add(int(m.args[2]))
        elif payload.startswith(b"/sideman/miss\x00"):
            m = osc.decode(payload, max_size=65536).messages[0]
            sid = int(m.args[0])
            if sid in self.superseded and m.args[4] == "superseded":
                self.superseded[sid].add(int(m.args[1]))

    def figures(self, client: LiveClient) -> dict[str, int]:
        """The network's view of the client's planned steps, computed the way the client
        counts them, and the chunk-by-chunk comparison with what the client received."""
        sid = client.core.session
        assert sid is not None
        copies = self.chunk_copies[sid]
        lost = duplicated = mismatches = unaccounted = 0
        for p in client.plan:
            if p.step in self.superseded[sid]:
                continue
            if p.step not in self.sent_steps[sid]:
                unaccounted += 1
            for stem in client.core.settings.stems:
                keys = {k: v for k, v in copies.items() if k[0] == stem and k[1] == p.step}
                delivered = {k[2] for k, v in keys.items() if v > 0}
                if not delivered:
                    lost += client.core.expected_chunks(p, stem)
                else:
                    best = max(delivered)
                    lost += sum(1 for k, v in keys.items() if k[2] == best and v == 0)
                for key, v in keys.items():
                    duplicated += max(0, v - 1)
                    mismatches += client.core.copies.get(key, 0) != v
        return {"network_lost_chunks": lost, "network_duplicated_chunks": duplicated,
                "chunk_copy_mismatches": mismatches, "steps_unaccounted": unaccounted,
                "network_duplicated_samples": self.audio_duplicated[sid]}


def _ms(values: Sequence[float], q: float) -> float | None:
    v = percentile(values, q)
    return None if v is None else round(v, 3)


def summarize_steps(clients: Sequence[LiveClient]) -> dict[str, object]:
    latencies = [r["latency_ms"] for c in clients for r in c.step_table()
                 if r["latency_ms"] is not None]
    slacks = [r["slack_ms"] for c in clients for r in c.step_table()
              if r["slack_ms"] is not None]
    return {"latency_ms": {"p50": _ms(latencies, 50), "p95": _ms(latencies, 95),
                           "p99": _ms(latencies, 99),
                           "max": round(max(latencies), 3) if latencies else None},
            "slack_ms": {"p50": _ms(slacks, 50),
                         "min": round(min(slacks), 3) if slacks else None},
            "step_latencies_ms": [round(x, 3) for x in latencies],
            "step_slacks_ms": [round(x, 3) for x in slacks]}


TOTAL_KEYS = ("steps", "steps_complete", "steps_lost", "steps_late", "misses", "superseded",
              "chunks_expected", "chunks_received", "lost_chunks", "late_chunks",
              "duplicate_chunks", "stale_chunks", "alignment_errors", "click_errors",
              "network_lost_chunks", "network_duplicated_chunks", "chunk_copy_mismatches",
              "steps_unaccounted", "samples_sent", "samples_lost_by_network")
AUDIT_KEYS = ("contexts", "positions", "lost_positions", "misplaced", "dropped_heard",
              "delivered_silent", "settled_positions")


def totals(rows: Sequence[dict[str, object]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in TOTAL_KEYS:
        values = [r[key] for r in rows if isinstance(r.get(key), int)]
        if values:
            out[key] = int(sum(values))  # type: ignore[arg-type]
    audits = [r["audit"] for r in rows if isinstance(r.get("audit"), dict)]
    for key in AUDIT_KEYS:
        if audits:
            out[f"audit_{key}"] = int(sum(a[key] for a in audits))  # type: ignore[index]
    return out


def server_figures(server: Server) -> dict[str, object]:
    with server.lock:
        counters = server.counters.as_dict()
        return {"counters": counters, "source_drops": server.counters.source_drops(),
                "sessions_open": len(server.sessions),
                "guard_sources": 0 if server.guard is None else len(server.guard)}


def udp_drops(port: int) -> int | None:
    """Datagrams the kernel dropped at a local UDP socket (Linux /proc/net/udp{,6})."""
    total, found = 0, False
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 12 and int(parts[1].split(":")[1], 16) == port:
                total += int(parts[12])
                found = True
    return total if found else None


# -- impairment ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ImpairmentRun:
    clients: int = 4
    loss: float = 0.05
    reorder: float = 0.05
    duplicate: float = 0.01
    jitter: float = 0.003
    reorder_delay: float = 0.01
    burst: float = 0.0  #: mean loss burst in datagrams (0: independent losses)
    stream: Stream = field(default_factory=Stream)
    tail: float = 1.0

    def impairment(self) -> Impairment:
        others = dict(duplicate=self.duplicate, reorder=self.reorder,
                      reorder_delay=self.reorder_delay, jitter=self.jitter)
        if self.burst > 0 and self.loss > 0:
            return Impairment.with_bursts(self.loss, self.burst, **others)
        return Impairment(loss=self.loss, **others)


def client_rows(clients: Sequence[LiveClient], ledger: Ledger | None,
                tracks: dict[int, AuditTrack], click_period: int | None) -> list[dict]:
    rows = []
    for c in clients:
        row = c.stats(click_period=click_period)
        if ledger is not None:
            row.update(ledger.figures(c))
        track = None if c.core.session is None else tracks.get(c.core.session)
        row["audit"] = None if track is None else track.report(c.delivered())
        rows.append(row)
    return rows


def run_impairment(generator: Generator, run: ImpairmentRun, *,
                   config: ServerConfig | None = None, seed: int = 0,
                   progress: Progress | None = None) -> dict[str, object]:
    """Real-time clients through the impairment proxy; see the module docstring."""
    config = config or ServerConfig(log_interval=0)
    rate = client_rate_of(generator, run.stream)
    audit = InputAudit(generator) if audit_possible(generator, rate) else None
    ledger = Ledger()
    with serve(audit or generator, config) as (server, address), \
            ImpairProxy(address, up=run.impairment(), down=run.impairment(), seed=seed,
                        keep_log=False, observer=ledger) as proxy:
        clients = make_clients(run.clients, run.stream, generator, proxy.address)
        tracks = handshake_all(clients, server, audit)
        for c in clients:
            ledger.add(c)
        with ServerSampler(server, interval=sample_interval(run.stream)) as sampler:
            run_realtime(clients, tail=run.tail, progress=progress)
            proxy.wait_idle()
            finish_all(clients)
            proxy.wait_idle()
        rows = client_rows(clients, ledger, tracks, click_period_of(generator))
        report: dict[str, object] = {
            "scenario": "impairment", "model": generator.info.name, "client_rate": rate,
            "settings": {**asdict(run), "impairment": asdict(run.impairment()), "seed": seed},
            "totals": totals(rows), "clients": rows, **summarize_steps(clients),
            "proxy": proxy.stats(), "server": {**server_figures(server), **sampler.summary()},
            "series": sampler.samples,
        }
    return report


# -- slow model ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SlowRun:
    slow_steps: tuple[int, ...] = (3, 5)  #: steps (grid k) that take ``slow_factor`` hops
    slow_factor: float = 1.3
    stall_step: int = 8
    stall: float = 2.0
    base_delay: float = 0.01  #: added to every call (the model's own time comes on top)
    stream: Stream = field(default_factory=lambda: Stream(seconds=8.0))
    probe_interval: float = 0.02
    tail: float = 1.0


def run_slow(generator: Generator, run: SlowRun, *, config: ServerConfig | None = None,
             progress: Progress | None = None) -> dict[str, object]:
    """One real-time client, a model with slow steps and a long stall; see the docstring."""
    config = config or ServerConfig(log_interval=0)
    rate = client_rate_of(generator, run.stream)
    info = generator.info
    model_rate = info.sample_rate or rate
    frames = max(1, round(run.stream.r * info.window_frames))
    hop_seconds = frames * info.hop_length / model_rate
    delays = {k: run.slow_factor * hop_seconds for k in run.slow_steps}
    delays[run.stall_step] = run.stall
    slow = SimulatedModel(generator, Latency(per_call=run.base_delay, steps=delays))
    with serve(slow, config) as (server, address):
        (client,) = make_clients(1, run.stream, generator, address)
        handshake_all([client], server, None)
        prober = Prober(address, run.probe_interval)
        try:
            with ServerSampler(server, interval=0.05) as sampler:
                run_realtime([client], probers=[prober], tail=run.tail, progress=progress)
                finish_all([client])
        finally:
            prober.close()
        calls = [c for c in slow.calls if c.steps and c.started >= client.t0 - 1.0]
        stall = next((c for c in calls if run.stall_step in c.steps), None)
        table = client.step_table()
        report: dict[str, object] = {
            "scenario": "slow", "model": info.name, "client_rate": rate,
            "settings": {**asdict(run), "hop_seconds": hop_seconds, "delays": delays},
            "client": client.stats(click_period=click_period_of(generator)),
            "steps": [{**r, "play": None if r["play"] is None else round(r["play"] -
                                                                         client.t0, 4)}
                      for r in table],
            "server": {**server_figures(server), **sampler.summary()},
            "series": sampler.samples,
            **summarize_steps([client]),
        }
    report.update(slow_figures(table, prober, stall, hop_seconds, client.t0, run))
    return report


def slow_figures(table: Sequence[StepRow], prober: Prober, stall, hop: float, t0: float,
                 run: SlowRun) -> dict[str, object]:
    """Probe round trips during the stall, unreported bad steps, hops until recovery."""
    out: dict[str, object] = {}
    if stall is None:
        out["stall"] = None
        return out
    during = [rtt for sent, rtt in prober.rtts if stall.started <= sent <= stall.ended]
    rtts = [rtt for _, rtt in prober.rtts]
    out["stall"] = {"start_s": round(stall.started - t0, 4), "end_s": round(stall.ended - t0, 4),
                    "seconds": round(stall.ended - stall.started, 4)}
    out["probe_series"] = [(round(sent - t0, 4), round(rtt, 6)) for sent, rtt in prober.rtts]
    out["probe"] = {
        "pings": len(prober.rtts) + len(prober.sent), "answered": len(prober.rtts),
        "unanswered": prober.unanswered(time.monotonic() - 1.0),
        "answered_during_stall": len(during),
        "rtt_ms_max": round(1e3 * max(rtts), 3) if rtts else None,
        "rtt_ms_p99": _ms([1e3 * x for x in rtts], 99),
        "rtt_ms_max_during_stall": round(1e3 * max(during), 3) if during else None}
    bad = [r for r in table if r["state"] != "ok"]
    unreported = [r["step"] for r in bad if r["state"] in ("late", "lost", "partial")
                  and not r["miss"]]
    out["bad_steps"] = {r["step"]: r["state"] for r in bad}
    out["unreported_bad_steps"] = unreported
    out["slow_steps_reported"] = sorted(r["step"] for r in table if r["miss"])
    # Recovery: the first step from which every later step played normally, measured from
    # the end of the stall to the moment its region started playing.
    after = [r for r in table if r["play"] is not None and r["play"] > stall.started]
    first_good = None
    for i in range(len(after)):
        if all(r["state"] == "ok" for r in after[i:]):
            first_good = after[i]
            break
    if first_good is None:
        out["recovery_hops"] = None
    else:
        out["recovery_hops"] = round(max(0.0, (first_good["play"] - stall.ended) / hop), 3)
        out["recovered_at_step"] = first_good["step"]
    return out


# -- fuzzing -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FuzzRun:
    datagrams: int = 100_000  #: in-process
    udp_datagrams: int = 20_000  #: over UDP beside a real client
    udp_rate: float = 4000.0  #: datagrams per second over UDP
    targets: int = 4
    stream: Stream = field(default_factory=lambda: Stream(seconds=3.0))


class _Welcomes:
    """Collects the session id and token of each welcome the in-process server sends."""

    def __init__(self) -> None:
        self.ids: dict[Address, tuple[int, str]] = {}

    def __call__(self, payload: bytes, address: Address) -> None:
        if payload.startswith(b"/sideman/welcome\x00"):
            m = osc.decode(payload, max_size=65536).messages[0]
            self.ids[address] = (int(m.args[0]), str(m.args[1]))


def run_fuzz(generator: Generator, run: FuzzRun, *, seed: int = 0,
             progress: Callable[[int], None] | None = None) -> dict[str, object]:
    """Fuzz in-process (every datagram timed), then over UDP beside a real-time client."""
    # In-process: the source guard is off so that every datagram reaches the decoder and the
    # session logic; sessions expire quickly so the fuzzer keeps opening new ones.
    clock = ManualClock()
    welcomes = _Welcomes()
    config = ServerConfig(log_interval=0, source_rate=0, max_sessions=32, idle_timeout=5.0)
    server = Server(generator, config, clock=clock, send=welcomes)
    ports = [41000 + i for i in range(run.targets)]

    def refresh() -> list[Target]:
        targets = []
        for i, port in enumerate(ports):
            address = ("127.0.0.1", port)
            ids = welcomes.ids.get(address)
            if ids is None or ids[0] not in server.sessions:
                server.handle_datagram(protocol.encode_hello(44100, i, "fuzz-target"), address)
                ids = welcomes.ids.get(address)
            if ids is not None and ids[0] in server.sessions:
                targets.append(Target(ids[0], ids[1], address))
        return targets

    fuzzer = DatagramFuzzer(seed)
    fuzzer.targets = refresh()
    freeze_heap()  # as `sideman serve` does after loading the model
    started = time.perf_counter()
    figures = fuzz_server(server, fuzzer, run.datagrams, clock, refresh=refresh,
                          progress=progress)
    elapsed = time.perf_counter() - started
    edges = np.logspace(-3, 2, 51)  # 1 µs ... 100 ms
    counts, _ = np.histogram(np.clip(figures.cpu_ms, edges[0], edges[-1]), edges)
    in_process = {**figures.summary(), "seconds": round(elapsed, 2),
                  "cpu_ms_histogram": {"edges": edges.round(6).tolist(),
                                       "counts": counts.tolist()},
                  "slowest": [{"wall_ms": round(w, 3), "cpu_ms": round(c, 3),
                               "head": d[:48].hex()} for w, c, d in figures.slowest],
                  "server": server_figures(server)}
    clock.advance(config.idle_timeout + 1.0)  # the fuzz sessions expire
    server.tick()
    in_process["server_answers_after"] = _answers(server, clock, welcomes)
    udp = fuzz_over_udp(generator, run, seed=seed + 1) if run.udp_datagrams else None
    return {"scenario": "fuzz", "model": generator.info.name,
            "settings": {**asdict(run), "seed": seed}, "in_process": in_process, "udp": udp}


def _answers(server: Server, clock: ManualClock, welcomes: _Welcomes) -> bool:
    """After the fuzz the server still opens a session and answers it."""
    address = ("127.0.0.1", 40999)
    server.handle_datagram(protocol.encode_hello(44100, 12345, "after-fuzz"), address)
    ids = welcomes.ids.get(address)
    if ids is None:
        return False
    server.handle_datagram(protocol.encode_audio(ids[0], ids[1], 0,
                                                 np.ones(64, np.float32)), address)
    with server.lock:
        session = server.sessions.get(ids[0])
        return session is not None and session.counters.audio_in == 64


def fuzz_over_udp(generator: Generator, run: FuzzRun, *, seed: int) -> dict[str, object]:
    """A real-time client streams while fuzz datagrams arrive from other ports."""
    import socket
    import threading

    config = ServerConfig(log_interval=0, source_rate=0)  # every datagram is read
    rate = client_rate_of(generator, run.stream)
    audit = InputAudit(generator) if audit_possible(generator, rate) else None
    with serve(audit or generator, config) as (server, address):
        clients = make_clients(1, run.stream, generator, address, name="beside-fuzz")
        tracks = handshake_all(clients, server, audit)
        fuzzer = DatagramFuzzer(seed)
        legit = clients[0].core
        assert legit.session is not None  # handshaken
        # Valid-looking messages name the real session with wrong tokens (from elsewhere).
        fuzzer.targets = [Target(legit.session, "0" * 16, ("127.0.0.1", 1))]
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
        stop = threading.Event()
        sent = [0]

        def send_fuzz() -> None:
            started = time.monotonic()
            for i in range(run.udp_datagrams):
                if stop.is_set():
                    break
                data = fuzzer.datagram()
                if 0 < len(data) <= 65507:
                    with contextlib.suppress(OSError):
                        socks[i % len(socks)].sendto(data, address)
                sent[0] += 1
                ahead = (i + 1) / run.udp_rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)

        thread = threading.Thread(target=send_fuzz, name="fuzz-udp", daemon=True)
        with ServerSampler(server, interval=sample_interval(run.stream)) as sampler:
            thread.start()
            try:
                run_realtime(clients, tail=1.0)
                finish_all(clients)
            finally:
                stop.set()
                thread.join(timeout=10)
                for sock in socks:
                    sock.close()
        rows = client_rows(clients, None, tracks, click_period_of(generator))
        return {"fuzz_sent": sent[0], "client": rows[0], "totals": totals(rows),
                "server": {**server_figures(server), **sampler.summary()},
                **summarize_steps(clients)}


# -- flood ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FloodRun:
    clients: int = 2
    rate: float = 20000.0
    sources: int = 4
    kinds: tuple[str, ...] = KINDS
    stream: Stream = field(default_factory=lambda: Stream(seconds=4.0))
    baseline: bool = True  #: also run the same clients without the flood first


def run_flood(generator: Generator, run: FloodRun, *, config: ServerConfig | None = None,
              seed: int = 0, progress: Progress | None = None) -> dict[str, object]:
    """Clients with and without a flood beside them; see the module docstring."""
    config = config or ServerConfig(log_interval=0)
    phases: dict[str, object] = {}
    for phase in (("baseline", "flood") if run.baseline else ("flood",)):
        phases[phase] = _flood_phase(generator, run, config, seed,
                                     flood=phase == "flood", progress=progress)
    return {"scenario": "flood", "model": generator.info.name,
            "settings": {**asdict(run), "seed": seed, "source_rate": config.source_rate,
                         "source_burst": config.source_burst}, **phases}


def _flood_phase(generator: Generator, run: FloodRun, config: ServerConfig, seed: int, *,
                 flood: bool, progress: Progress | None) -> dict[str, object]:
    rate = client_rate_of(generator, run.stream)
    audit = InputAudit(generator) if audit_possible(generator, rate) else None
    with serve(audit or generator, config) as (server, address):
        clients = make_clients(run.clients, run.stream, generator, address,
                               name="legit")
        tracks = handshake_all(clients, server, audit)
        gc.collect()
        rss_before = rss_bytes()
        drops_before = udp_drops(address[1])
        flooder = None
        # Long enough for the clients, the new client joining and the reports; it is
        # stopped as soon as they are done.
        seconds = max(c.end / c.rate for c in clients) + 60.0
        if flood:
            flooder = start_flood(address, rate=run.rate, seconds=seconds, kinds=run.kinds,
                                  sources=run.sources, seed=seed,
                                  session=clients[0].core.session)
            _wait_for_flood(server, flooder)
        try:
            with ServerSampler(server, interval=sample_interval(run.stream)) as sampler:
                run_realtime(clients, tail=1.0, progress=progress)
                # A new client can still join while the flood goes on.
                join = join_time(address, rate)
                finish_all(clients)
                flood_result = None if flooder is None else flooder.result(timeout=30)
        finally:
            if flooder is not None:
                flooder.stop()
        drops_after = udp_drops(address[1])
        rows = client_rows(clients, None, tracks, click_period_of(generator))
        figures = server_figures(server)
        return {
            "flooder": flood_result, "join_seconds": join, "clients": rows,
            "totals": totals(rows),
            **summarize_steps(clients),
            "server": {**figures, **sampler.summary(),
                       "rss_mb_before": round(rss_before / 2**20, 2),
                       "kernel_drops": None if drops_before is None or drops_after is None
                       else drops_after - drops_before},
            "series": sampler.samples,
        }


def join_time(address: Address, rate: int, timeout: float = 5.0) -> float | None:
    """Seconds until a new client's ``hello`` (resent every 0.25 s) is welcomed; None if it
    never is within ``timeout``."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        hello = protocol.encode_hello(rate, 424242, "late-joiner")
        while time.monotonic() - started < timeout:
            sock.sendto(hello, address)
            sock.settimeout(0.25)
            try:
                while True:
                    payload = sock.recv(65536)
                    if payload.startswith(b"/sideman/welcome\x00"):
                        m = osc.decode(payload, max_size=65536).messages[0]
                        sock.sendto(protocol.encode_session_message(
                            protocol.BYE, int(m.args[0]), str(m.args[1])), address)
                        return round(time.monotonic() - started, 4)
            except TimeoutError:
                continue
        return None
    finally:
        sock.close()


def _wait_for_flood(server: Server, flooder, timeout: float = 20.0) -> None:
    """Return once the flood is arriving (the flooder process takes a moment to start)."""
    before = server.counters.datagrams_in
    deadline = time.monotonic() + timeout
    while server.counters.datagrams_in - before < 2000:
        if flooder.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the flood never arrived")
        time.sleep(0.02)


# -- churn ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChurnRun:
    sessions: int = 1000  #: opened and abandoned in-process
    wave: int = 50  #: sessions open at once
    hops: int = 1  #: hops of audio each sends before it is abandoned
    warm_waves: int = 6  #: waves before the memory baseline (bounded histories full by then)
    idle_timeout: float = 2.0
    reconnect_at: float = 1.5  #: the live client drops its socket this far in (seconds)
    reconnect_gap: float = 0.4
    live_sessions: int = 50  #: sessions opened and abandoned over UDP beside the live client
    stream: Stream = field(default_factory=lambda: Stream(seconds=4.0))


def run_churn(generator: Generator, run: ChurnRun, *, seed: int = 0,
              progress: Callable[[int], None] | None = None) -> dict[str, object]:
    """Churn in-process (memory traced) and a live client that resumes from a new port."""
    in_process = churn_in_process(generator, run, progress=progress)
    live = churn_live(generator, run, seed=seed)
    return {"scenario": "churn", "model": generator.info.name,
            "settings": {**asdict(run), "seed": seed}, "in_process": in_process, "live": live}


def churn_in_process(generator: Generator, run: ChurnRun,
                     progress: Callable[[int], None] | None = None) -> dict[str, object]:
    """Sessions opened in waves, each sends ``hops`` hops of audio and a mark (its steps
    run), then all are abandoned and expire. Memory is traced from a baseline taken after
    ``warm_waves`` waves (bounded histories are full by then) to the end, counting what the
    server's and the model's code allocated."""
    clock = ManualClock()
    welcomes = _Welcomes()
    config = ServerConfig(log_interval=0, max_sessions=run.wave, idle_timeout=run.idle_timeout)
    server = Server(generator, config, clock=clock, send=welcomes)
    info = generator.info
    rate = 44100 if info.sample_rate is None else info.sample_rate
    frames = max(1, round(0.25 * info.window_frames))
    hop = math.ceil(frames * info.hop_length * rate / (info.sample_rate or rate))
    audio = dithered_noise(hop * run.hops, 7)
    block = 2048
    marker = f"churn-{id(server):x}"  # names this run's sessions
    port = 20000
    waves = math.ceil(run.sessions / run.wave)
    trace: list[dict[str, float]] = []
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    # Count what the server's and the model's code allocated (numpy buffers included), not
    # the scenario's bookkeeping or tracemalloc's own.
    mine = [tracemalloc.Filter(True, f"{os.path.dirname(str(module.__file__))}{os.sep}*")
            for module in (server_module, clicktrack_module)]
    baseline = final = 0
    opened = refused = 0
    started = time.perf_counter()
    try:
        for wave in range(waves + run.warm_waves):
            for _ in range(run.wave):
                address = ("127.0.0.1", port)
                port += 1
                server.handle_datagram(protocol.encode_hello(rate, port, marker), address)
                ids = welcomes.ids.pop(address, None)
                if ids is None:
                    refused += 1
                    continue
                opened += 1
                for i in range(0, len(audio), block):
                    server.handle_datagram(protocol.encode_audio(*ids, i, audio[i:i + block]),
                                           address)
                server.handle_datagram(protocol.encode_session_message(
                    protocol.MARK, *ids, len(audio)), address)
                while server.engine.process_ready():
                    pass
                clock.advance(0.001)
            clock.advance(run.idle_timeout + 0.5)  # everyone of this wave is abandoned
            server.tick()
            gc.collect()
            trace.append({"wave": wave, "opened": opened, "sessions": len(server.sessions),
                          "traced_kb": round(tracemalloc.get_traced_memory()[0] / 1024, 1),
                          "rss_mb": round(rss_bytes() / 2**20, 2)})
            if wave == run.warm_waves - 1:
                baseline = _traced(mine)
            if progress is not None:
                progress(opened)
        gc.collect()
        final = _traced(mine)
    finally:
        if not was_tracing:
            tracemalloc.stop()
    elapsed = time.perf_counter() - started
    with server.lock:
        tables = {"sessions": len(server.sessions), "nonces": len(server._nonces),
                  "bound": len(server._bound), "position_errors":
                  len(server._last_position_error), "queue": server.engine.pending(),
                  "guard_sources": 0 if server.guard is None else len(server.guard)}
    # type() rather than isinstance(): isinstance reads __class__, which wakes deprecated
    # module attributes (torch.distributed.reduce_op) into warnings.
    alive = sum(1 for o in gc.get_objects() if type(o) is Session and o.name == marker)
    return {"opened": opened, "refused": refused,
            "opened_after_baseline": opened - run.warm_waves * run.wave,
            "expired": server.counters.sessions_expired, "steps": server.counters.steps,
            "seconds": round(elapsed, 2),
            "traced_kb_baseline": round(baseline / 1024, 1),
            "traced_kb_final": round(final / 1024, 1),
            "traced_kb_growth": round((final - baseline) / 1024, 1),
            "session_objects_alive": alive, "tables": tables, "trace": trace}


def _traced(filters: list[tracemalloc.Filter]) -> int:
    """Bytes traced now, without what ``filters`` exclude."""
    snapshot = tracemalloc.take_snapshot().filter_traces(filters)
    return sum(stat.size for stat in snapshot.statistics("filename"))


def churn_live(generator: Generator, run: ChurnRun, *, seed: int = 0) -> dict[str, object]:
    """A real-time client drops its socket and resumes from a new port while sessions are
    opened and abandoned over UDP around it."""
    import socket

    config = ServerConfig(log_interval=0, max_sessions=max(16, run.live_sessions + 8),
                          idle_timeout=run.idle_timeout)
    rate = client_rate_of(generator, run.stream)
    audit = InputAudit(generator) if audit_possible(generator, rate) else None
    with serve(audit or generator, config) as (server, address):
        clients = make_clients(1, run.stream, generator, address, name="resumer",
                               reconnect={0: Reconnect(run.reconnect_at, run.reconnect_gap)})
        tracks = handshake_all(clients, server, audit)
        socks = []
        churn_sent = 0

        def churn(now: float) -> None:
            nonlocal churn_sent
            # A few abandoned sessions per progress tick and a burst at the start; the rest
            # at once from half-way (a busy machine may call this only a few times).
            burst = max(1, run.live_sessions // 5)
            if now >= run.stream.seconds / 2:
                burst = run.live_sessions
            for _ in range(burst):
                if churn_sent >= run.live_sessions:
                    return
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                sock.sendto(protocol.encode_hello(rate, churn_sent, "abandoned"), address)
                socks.append(sock)
                churn_sent += 1

        churn(0.0)
        sid = clients[0].core.session
        assert sid is not None  # handshaken
        with ServerSampler(server, interval=sample_interval(run.stream)) as sampler:
            run_realtime(clients, tail=1.0, progress=lambda elapsed, total: churn(elapsed))
            churn(float("inf"))
            wait_until = time.monotonic() + 10.0  # the server reads the last hellos
            while (server.counters.sessions_opened < 1 + run.live_sessions
                   and time.monotonic() < wait_until):
                time.sleep(0.01)
            with server.lock:
                # The session is bound to one address, whatever addresses it had before.
                tables_resumed = {
                    "nonces": sum(1 for v in server._nonces.values() if v == sid),
                    "bound": sum(1 for a in server._bound
                                 if a == server.sessions[sid].address)}
            finish_all(clients)
        for sock in socks:
            sock.close()
        rows = client_rows(clients, None, tracks, click_period_of(generator))
        client = clients[0]
        table = client.step_table()
        resumed = client.resumed_at
        hop = client.hop_seconds
        after = [r for r in table if resumed is not None and r["play"] is not None
                 and r["play"] >= resumed + 2 * hop]
        with server.lock:
            left = {"nonces": sum(1 for v in server._nonces.values() if v == sid),
                    "sessions": int(sid in server.sessions)}
        return {"client": rows[0], "totals": totals(rows),
                "steps_after_resume": len(after),
                "steps_after_resume_ok": sum(1 for r in after if r["state"] == "ok"),
                "abandoned_sessions": churn_sent,
                "tables_while_resumed": tables_resumed, "tables_after_bye": left,
                "server": {**server_figures(server), **sampler.summary()},
                **summarize_steps(clients)}


SCENARIOS = ("impairment", "slow", "fuzz", "flood", "churn")


def with_seconds(stream: Stream, seconds: float) -> Stream:
    return replace(stream, seconds=seconds)


def short_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "model"
