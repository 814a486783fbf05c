"""Counters, per-step timings, percentiles, the status reply and a Prometheus text endpoint.

Per session: :class:`SessionCounters` (the protocol's status keys) and a bounded history of
:class:`StepTiming` records (wait, encode, sample, decode, send, total, slack). Server-wide:
:class:`ServerCounters` (datagrams, per-reason rejections, sessions, batches). Everything is
plain data read under the server's lock; :func:`prometheus_text` renders it for
``--metrics-port``.
"""

from __future__ import annotations

import http.server
import threading
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

import numpy as np

#: Step timing records kept per session (and server-wide) for percentiles.
HISTORY = 512
#: Distinct source addresses whose undecodable datagrams are counted individually.
MAX_TRACKED_SOURCES = 256
#: Why a datagram (or a message in it) from a source was dropped; counted per source address.
DROP_REASONS: tuple[str, ...] = (
    "not_allowed", "rate_limited", "malformed", "unknown_address", "bad_message",
    "unknown_session", "bad_token", "foreign",
)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), or ``None`` for no values."""
    arr = np.fromiter(values, dtype=np.float64)
    if arr.size == 0:
        return None
    return float(np.percentile(arr, q))


@dataclass
class StepTiming:
    """Seconds spent by one step: ready -> batch start (``wait``), the generator's
    ``encode``/``sample``/``decode``, building and sending datagrams (``send``), ready -> last
    datagram sent (``total``); ``slack`` = deadline - last datagram sent (None offline)."""

    step: int
    num_steps: int
    batch: int
    wait: float
    encode: float
    sample: float
    decode: float
    send: float
    total: float
    slack: float | None


#: Where the beat grid of a step came from, as the status key ``grid`` numbers them.
GRID_SOURCES: tuple[str, ...] = ("none", "tracked", "host")


@dataclass
class SessionCounters:
    """The integer status keys of one session (PROTOCOL.md, "Status keys")."""

    steps: int = 0
    misses: int = 0
    superseded: int = 0
    degraded: int = 0
    refined: int = 0
    chunks_out: int = 0
    audio_in: int = 0
    lost_in: int = 0
    dup_in: int = 0
    late_in: int = 0
    rejected: int = 0
    model_errors: int = 0


@dataclass
class SessionTelemetry:
    counters: SessionCounters = field(default_factory=SessionCounters)
    timings: deque[StepTiming] = field(default_factory=lambda: deque(maxlen=HISTORY))
    #: the beat grid the latest step was given: where from (GRID_SOURCES) and its tempo
    grid_source: str = "none"
    grid_bpm: float | None = None

    def record(self, timing: StepTiming) -> None:
        self.timings.append(timing)

    def slack_ms(self) -> tuple[float | None, float | None]:
        slacks = [t.slack * 1e3 for t in self.timings if t.slack is not None]
        return percentile(slacks, 50), (min(slacks) if slacks else None)

    def status_pairs(self, *, queue: int, r: float, w: int) -> list[tuple[str, int | float]]:
        """The status reply's key/value pairs; an unknown figure is sent as -1."""
        c = self.counters
        slack_p50, slack_min = self.slack_ms()
        totals = [t.total * 1e3 for t in self.timings]
        step_p50, step_p95 = percentile(totals, 50), percentile(totals, 95)
        # The paced send alone (first datagram built to last datagram sent): with a step's
        # output spread over part of the time left, this is most of step_p50_ms.
        send_p50 = percentile((t.send * 1e3 for t in self.timings), 50)

        def ms(value: float | None) -> float:
            return -1.0 if value is None else round(value, 3)

        return [
            ("steps", c.steps), ("misses", c.misses), ("superseded", c.superseded),
            ("degraded", c.degraded), ("refined", c.refined), ("chunks_out", c.chunks_out),
            ("audio_in", c.audio_in), ("lost_in", c.lost_in), ("dup_in", c.dup_in),
            ("late_in", c.late_in), ("rejected", c.rejected),
            ("model_errors", c.model_errors),
            ("slack_p50_ms", ms(slack_p50)), ("slack_min_ms", ms(slack_min)),
            ("step_p50_ms", ms(step_p50)), ("step_p95_ms", ms(step_p95)),
            ("queue", queue), ("r", float(r)), ("w", int(w)),
            ("send_p50_ms", ms(send_p50)),
            ("grid", GRID_SOURCES.index(self.grid_source)),
            ("bpm", -1.0 if self.grid_bpm is None else round(self.grid_bpm, 2)),
        ]


@dataclass
class ServerCounters:
    """Server-wide counters. ``malformed`` is keyed by the decoder's reason."""

    datagrams_in: int = 0
    datagrams_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    malformed: Counter = field(default_factory=Counter)
    bad_message: int = 0
    unknown_address: int = 0
    not_allowed: int = 0
    foreign: int = 0
    bad_token: int = 0
    unknown_session: int = 0
    timetags_ignored: int = 0
    sessions_opened: int = 0
    sessions_closed: int = 0
    sessions_expired: int = 0
    #: Sessions closed to make room because they never sent an authenticated message.
    sessions_evicted: int = 0
    steps: int = 0
    misses: int = 0
    superseded: int = 0
    degraded: int = 0
    refined: int = 0
    model_errors: int = 0
    batches: int = 0
    batched_steps: int = 0
    #: Ready steps left out of a model call so as not to make its members late (run next).
    batch_deferred: int = 0
    send_errors: int = 0
    #: Unexpected errors in one session's housekeeping (the others carried on).
    session_faults: int = 0
    #: Datagrams dropped unread because their source spent its budget (SourceGuard).
    rate_limited: int = 0
    #: Undecodable datagrams per source address (bounded, oldest forgotten first).
    by_source: OrderedDict = field(default_factory=OrderedDict)
    #: Dropped datagrams per source address and reason (bounded, least recent forgotten).
    drops_by_source: OrderedDict = field(default_factory=OrderedDict)
    timings: deque[StepTiming] = field(default_factory=lambda: deque(maxlen=HISTORY))

    def count_malformed(self, reason: str, source: str) -> None:
        self.malformed[reason] += 1
        self.count_source(source)

    def count_source(self, source: str) -> None:
        """One more unanswered datagram (undecodable or unknown address) from ``source``."""
        self.by_source[source] = self.by_source.pop(source, 0) + 1
        while len(self.by_source) > MAX_TRACKED_SOURCES:
            self.by_source.popitem(last=False)

    def count_drop(self, source: str, reason: str) -> None:
        """One more datagram (or message) from ``source`` dropped for ``reason``
        (:data:`DROP_REASONS`)."""
        counts = self.drops_by_source.get(source)
        if counts is None:
            counts = self.drops_by_source[source] = Counter()
            while len(self.drops_by_source) > MAX_TRACKED_SOURCES:
                self.drops_by_source.popitem(last=False)
        else:
            self.drops_by_source.move_to_end(source)
        counts[reason] += 1

    def source_drops(self) -> dict[str, dict[str, int]]:
        """Drops per source address and reason (the most recent sources)."""
        return {source: dict(counts) for source, counts in self.drops_by_source.items()}

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name in ("timings", "by_source", "drops_by_source"):
                continue
            value = getattr(self, f.name)
            out[f.name] = dict(value) if isinstance(value, Counter) else value
        return out


def log_line(counters: ServerCounters, *, sessions: int, queue: int) -> str:
    """The periodic one-line summary."""
    slacks = [t.slack * 1e3 for t in counters.timings if t.slack is not None]
    totals = [t.total * 1e3 for t in counters.timings]
    p50 = percentile(slacks, 50)
    step = percentile(totals, 50)
    malformed = sum(counters.malformed.values())
    return (f"sessions={sessions} queue={queue} steps={counters.steps} misses={counters.misses} "
            f"degraded={counters.degraded} superseded={counters.superseded} "
            f"rx={counters.datagrams_in} tx={counters.datagrams_out} malformed={malformed} "
            f"rejected={counters.foreign + counters.bad_token + counters.not_allowed} "
            f"rate_limited={counters.rate_limited} "
            f"step_p50={'-' if step is None else f'{step:.1f}ms'} "
            f"slack_p50={'-' if p50 is None else f'{p50:.1f}ms'}")


def prometheus_text(counters: ServerCounters, sessions: dict[int, SessionTelemetry], *,
                    queue: int) -> str:
    """Prometheus text exposition (version 0.0.4) of the server's counters."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP sideman_{name} {help_text}")
        lines.append(f"# TYPE sideman_{name} {kind}")
        for labels, value in samples:
            lines.append(f"sideman_{name}{labels} {value}")

    c = counters
    for name in ("datagrams_in", "datagrams_out", "bytes_in", "bytes_out", "bad_message",
                 "unknown_address", "not_allowed", "foreign", "bad_token", "unknown_session",
                 "timetags_ignored", "sessions_opened", "sessions_closed", "sessions_expired",
                 "sessions_evicted",
                 "steps", "misses", "superseded", "degraded", "refined", "model_errors",
                 "batches", "batched_steps", "batch_deferred", "send_errors", "session_faults",
                 "rate_limited"):
        metric(f"{name}_total", "counter", name.replace("_", " "), [("", getattr(c, name))])
    metric("malformed_total", "counter", "undecodable datagrams by reason",
           [(f'{{reason="{reason}"}}', count) for reason, count in sorted(c.malformed.items())])
    metric("source_drops_total", "counter",
           "dropped datagrams by source address and reason (most recent sources)",
           [(f'{{source="{source}",reason="{reason}"}}', count)
            for source, counts in c.drops_by_source.items()
            for reason, count in sorted(counts.items())])
    metric("sessions", "gauge", "open sessions", [("", len(sessions))])
    metric("queue", "gauge", "steps waiting for the engine", [("", queue)])
    per_session = []
    for sid, tel in sorted(sessions.items()):
        for f in fields(tel.counters):
            per_session.append((f'{{session="{sid}",key="{f.name}"}}',
                                getattr(tel.counters, f.name)))
    metric("session_counter", "gauge", "per-session counters", per_session)
    slacks = [t.slack for t in c.timings if t.slack is not None]
    totals = [t.total for t in c.timings]
    quantiles = []
    for q in (50, 95, 99):
        value = percentile(totals, q)
        if value is not None:
            quantiles.append((f'{{quantile="0.{q}"}}', value))
    metric("step_seconds", "summary", "ready to last datagram sent (recent steps)", quantiles)
    stages = []
    for stage in ("wait", "encode", "sample", "decode", "send"):
        for q in (50, 95):
            value = percentile((getattr(t, stage) for t in c.timings), q)
            if value is not None:
                stages.append((f'{{stage="{stage}",quantile="0.{q}"}}', value))
    metric("stage_seconds", "summary", "per-step time by stage (recent steps)", stages)
    session_stages = []
    for sid, tel in sorted(sessions.items()):
        for stage in ("wait", "encode", "sample", "decode", "send", "total"):
            for q in (50, 95):
                value = percentile((getattr(t, stage) for t in tel.timings), q)
                if value is not None:
                    session_stages.append(
                        (f'{{session="{sid}",stage="{stage}",quantile="0.{q}"}}', value))
    metric("session_stage_seconds", "summary",
           "per-step time by session and stage (total: ready to last datagram sent)",
           session_stages)
    if slacks:
        metric("slack_seconds_min", "gauge", "smallest recent slack", [("", min(slacks))])
    return "\n".join(lines) + "\n"


class MetricsServer:
    """A tiny HTTP server answering ``GET /metrics`` with :func:`prometheus_text`."""

    def __init__(self, host: str, port: int, render: Callable[[], str]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404, "only /metrics is served")
                    return
                body = render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sideman-metrics",
                                        daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
