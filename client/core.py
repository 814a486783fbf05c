"""The client's session state without socket or clock: :class:`StreamClient`.

It builds the datagrams a client sends, digests the datagrams it receives
(``on_datagram(payload, now)``: chunks go to one :class:`~.writer.StemWriter` per stem), knows
the step plan (which steps the server will run, where their regions are) and computes the
statistics (keys documented in docs/SERVER.md, "Stats keys": :meth:`StreamClient.stats`).
What to send when (the phases of a session) is :class:`~.protocol.ClientProtocol`'s.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, overload

import numpy as np

from sideman.models.geometry import ClockMap, Geometry
from sideman.server import osc, protocol
from sideman.server.telemetry import percentile

from .writer import StemWriter

log = logging.getLogger(__name__)

Address = tuple[str, int]


class ClientError(RuntimeError):
    """The server refused the session or a setting, or never answered."""


@dataclass(frozen=True)
class ClientSettings:
    """What the client asks for; ``None`` keeps the server's default."""

    stems: tuple[str, ...] = ("drums",)
    r: float = 0.25
    w: int = 1
    steps: int | None = None
    seed: int = 0
    variation: float | None = None
    guidance: float | None = None
    grid_guidance: float | None = None
    track: bool | None = None
    stop: float | None = None
    xfade: int | None = None
    datagram: int | None = None
    delay: int = 0
    realtime: bool = True
    refine: bool = True

    def requests(self, current_w: int = 1) -> list[tuple[str, list]]:
        """``set`` requests, each key once with its final value (so a duplicated or reordered
        datagram can never bring back an older value). ``r`` and ``w`` go in the order that
        keeps ``(w+2)·r <= 1`` at every point: from the current ``w``, one order always does."""
        r_first = (current_w + 2) * self.r <= 1.0
        rw: list[tuple[str, list]] = [("r", [float(self.r)]), ("w", [self.w])]
        out = (rw if r_first else rw[::-1]) + [("stems", list(self.stems))]
        for key in ("steps", "seed", "variation", "guidance", "grid_guidance", "stop", "xfade",
                    "datagram", "delay"):
            value = getattr(self, key)
            if value is not None:
                out.append((key, [value]))
        if self.track is not None:
            out.append(("track", [int(self.track)]))
        out.append(("realtime", [int(self.realtime)]))
        out.append(("refine", [int(self.refine)]))
        return out


@dataclass(frozen=True)
class TransportUpdate:
    """A ``/sideman/transport`` the client sends once it has captured up to ``at``."""

    at: int  #: client sample position
    bpm: float
    beat_position: int  #: client sample position of a beat
    beats_per_bar: int = 4
    beat_in_bar: int = 0


def transport_updates(beats: Sequence[float] | np.ndarray, rate: int, *, beats_per_bar: int = 4,
                      downbeats: Sequence[float] | np.ndarray | None = None
                      ) -> tuple[TransportUpdate, ...]:
    """One ``/sideman/transport`` per beat (times in seconds), sent once the client has
    captured that beat: the tempo there (from the beat to the next) and the beat's place in
    the bar, counted from the last downbeat (``None``: unknown, every beat is sent as beat 0
    of its bar). The first goes out at capture start (it may announce a beat still to
    come)."""
    times = np.asarray(beats, dtype=np.float64)
    if len(times) < 2:
        raise ValueError(f"a beat grid needs at least two beats, got {len(times)}")
    marks = np.asarray(downbeats if downbeats is not None else (), np.float64)
    periods = np.diff(times)
    updates = []
    for i, beat in enumerate(times):
        period = periods[min(i, len(periods) - 1)]
        bpm = float(np.clip(60.0 / max(period, 1e-6), 20.0, 400.0))
        if marks.size:
            before = marks[marks <= beat + 1e-3]
            first = int(np.searchsorted(times, (before[-1] if before.size else marks[0]) - 1e-3))
            in_bar = (i - first) % beats_per_bar  # before the first downbeat: a pickup
        else:
            in_bar = 0
        position = round(beat * rate)
        updates.append(TransportUpdate(at=0 if i == 0 else max(0, position), bpm=bpm,
                                       beat_position=position, beats_per_bar=beats_per_bar,
                                       beat_in_bar=int(in_bar)))
    return tuple(updates)


@dataclass(frozen=True)
class PlannedStep:
    """A step the server will run: its capture position and region on the client clock."""

    step: int
    capture: int
    region: tuple[int, int]
    out_start: int  #: region start minus the crossfade


@dataclass
class _StepLog:
    capture_time: float | None = None
    arrivals: dict[tuple[str, int, int], float] = field(default_factory=dict)
    counts: dict[tuple[str, int], int] = field(default_factory=dict)
    miss_late: int | None = None
    superseded: bool = False


class StreamClient:
    """Protocol state of one client session, without socket or clock (``now`` is passed)."""

    def __init__(self, settings: ClientSettings, client_rate: int, length: int, *,
                 nonce: int | None = None, name: str = "sideman-client") -> None:
        self.settings = settings
        self.client_rate = client_rate
        self.length = length
        self.nonce = secrets.randbelow(2**31) if nonce is None else nonce
        self.name = name
        self.session: int | None = None
        self.token = ""
        self.welcome: dict[str, Any] = {}
        self.allowed: dict[str, tuple] = {}
        self.acks: dict[str, tuple] = {}
        self.errors: list[tuple[int, str]] = []
        self.warnings: list[str] = []
        self.status: dict[str, int | float] = {}
        self.pongs: dict[int, float] = {}
        self.closed_reason: str | None = None
        #: Set once ``bye`` has been sent: the session may be gone from then on.
        self.bye_sent = False
        #: Set by :func:`run_client` when Ctrl-C stopped the stream: the output is partial.
        self.interrupted = False
        self.writers = {stem: StemWriter(length) for stem in settings.stems}
        self.steps: dict[int, _StepLog] = {}
        self.counts = {"duplicate": 0, "stale": 0, "superseded": 0, "late": 0, "received": 0,
                       "foreign": 0, "undecodable": 0}
        self.first_step = 0  # after a reset: chunks of older steps are ignored
        #: Settings the runner saw acknowledged for its own requests (a late duplicate of an
        #: earlier ack, e.g. from a repeated welcome, cannot overwrite these).
        self.confirmed: dict[str, tuple] = {}
        self._plan_cache: tuple[tuple, dict[int, PlannedStep]] | None = None
        self._pings: dict[int, float] = {}
        #: (stem, step, final) -> (first position, end) of the chunks received.
        self.spans: dict[tuple[str, int, int], tuple[int, int]] = {}
        #: The highest position sent: int32 positions from the wire unwrap near it, as the
        #: server unwraps ours near its input (PROTOCOL.md, "Positions").
        self.reference = 0

    # -- outgoing --------------------------------------------------------------------------
    def hello(self) -> bytes:
        return protocol.encode_hello(self.client_rate, self.nonce, self.name)

    def _session_message(self, address: str, *args: object) -> bytes:
        if self.session is None:
            raise ClientError("no session yet: say hello first")
        return protocol.encode_session_message(address, self.session, self.token, *args)

    def set_message(self, key: str, values: Iterable) -> bytes:
        return self._session_message(protocol.SET, key, *values)

    def audio_messages(self, position: int, samples: np.ndarray, block: int) -> list[bytes]:
        assert self.session is not None
        self.reference = max(self.reference, position + len(samples))
        return [protocol.encode_audio(self.session, self.token,
                                      protocol.wire32(position + i), samples[i:i + block])
                for i in range(0, len(samples), block)]

    def resume(self) -> bytes:
        """``/sideman/resume``: re-bind the session to the address this is sent from."""
        return self._session_message(protocol.RESUME, self.client_rate)

    def mark(self, position: int) -> bytes:
        self.reference = max(self.reference, position)
        return self._session_message(protocol.MARK, protocol.wire32(position))

    def status_request(self) -> bytes:
        return self._session_message(protocol.STATUS)

    def transport(self, bpm: float, beat_position: int, beats_per_bar: int = 4,
                  beat_in_bar: int = 0) -> bytes:
        """``/sideman/transport``: a beat falls at client position ``beat_position`` (beat
        ``beat_in_bar`` of a ``beats_per_bar`` bar); ``bpm`` 0 clears the tempo."""
        return self._session_message(protocol.TRANSPORT, float(bpm),
                                     protocol.wire32(beat_position),
                                     int(beats_per_bar), int(beat_in_bar))

    def bye(self) -> bytes:
        message = self._session_message(protocol.BYE)
        self.bye_sent = True
        return message

    def ping(self, stamp: int) -> bytes:
        if self.session is None:
            return protocol.encode_ping(stamp)
        return protocol.encode_ping(stamp, self.session, self.token)

    def max_datagram(self) -> int:
        """Largest datagram this client sends (the server's limit and the session's)."""
        limit = int(self.welcome.get("max_datagram", protocol.DEFAULT_DATAGRAM))
        datagram = self.setting("datagram", (protocol.DEFAULT_DATAGRAM,))[0]
        return min(limit, int(datagram))

    def audio_block(self) -> int:
        return protocol.audio_capacity(self.token, self.max_datagram())

    # -- incoming --------------------------------------------------------------------------
    def _position(self, value: int) -> int:
        """A position from the wire (int32, wrapping past 2**31) near the client's own."""
        return protocol.unwrap_position(int(value), self.reference)

    def _step(self, value: int) -> int:
        """A step number from the wire, near the latest step this client knows of."""
        known = max(self.steps, default=self.first_step)
        return protocol.unwrap_position(int(value), max(known, self.first_step))

    def on_datagram(self, payload: bytes, now: float) -> None:
        try:
            packet = osc.decode(payload, max_size=65536, float_runs=True)
        except osc.OscDecodeError:
            self.counts["undecodable"] += 1
            return
        for message in packet.messages:
            self._on_message(message, now)

    def _on_message(self, m: osc.Message, now: float) -> None:
        a = m.address
        if a == protocol.PONG:
            self.pongs[int(m.args[0])] = now
            return
        if a == protocol.WELCOME:
            keys = ("session", "token", "version", "model_rate", "client_rate", "hop_length",
                    "window_frames", "max_datagram", "model")
            self.welcome = dict(zip(keys, m.args, strict=False))
            self.session, self.token = int(m.args[0]), str(m.args[1])
            return
        if self.session is None or not m.args or m.args[0] != self.session:
            if a == protocol.ERROR and m.args and m.args[0] == 0:
                if self.bye_sent and int(m.args[1]) == protocol.ErrorCode.UNKNOWN_SESSION:
                    # The answer to a repeated bye whose first copy closed the session (its
                    # ack was lost): the session is closed, as asked.
                    self.acks.setdefault("bye", ())
                    return
                self.errors.append((int(m.args[1]), str(m.args[2])))
            else:
                self.counts["foreign"] += 1
            return
        if a == protocol.CHUNK:
            chunk = protocol.parse_chunk(m)
            self._on_chunk(replace(chunk, step=self._step(chunk.step),
                                   start=self._position(chunk.start),
                                   position=self._position(chunk.position)), now)
        elif a == protocol.ACK:
            self.acks[str(m.args[1])] = tuple(m.args[2:])
            if m.args[1] == "reset" and len(m.args) > 2:
                self.first_step = self._step(m.args[2])
        elif a == protocol.ALLOWED:
            self.allowed[str(m.args[1])] = tuple(m.args[2:])
        elif a == protocol.MISS:
            log_ = self.steps.setdefault(self._step(m.args[1]), _StepLog())
            if m.args[4] == "superseded":
                log_.superseded = True
            else:
                log_.miss_late = int(m.args[3])
        elif a == protocol.STATUS:
            self.status = protocol.status_dict(m)
        elif a == protocol.WARNING:
            self.warnings.append(str(m.args[1]))
        elif a == protocol.ERROR:
            self.errors.append((int(m.args[1]), str(m.args[2])))
        elif a == protocol.BYE:
            self.closed_reason = str(m.args[1])

    def _on_chunk(self, chunk: protocol.Chunk, now: float) -> None:
        writer = self.writers.get(chunk.stem)
        if writer is None or chunk.step < self.first_step:
            self.counts["foreign"] += 1
            return
        outcome = writer.add(chunk.step, chunk.start, chunk.xfade, chunk.position, chunk.index,
                             chunk.final, chunk.samples)
        if outcome != "new":
            self.counts[outcome] += 1
            return
        self.counts["received"] += 1
        key = (chunk.stem, chunk.step, int(chunk.final))
        lo, hi = self.spans.get(key, (chunk.position, chunk.position))
        self.spans[key] = (min(lo, chunk.position), max(hi, chunk.position + len(chunk.samples)))
        entry = self.steps.setdefault(chunk.step, _StepLog())
        entry.arrivals[(chunk.stem, int(chunk.final), chunk.index)] = now
        entry.counts[(chunk.stem, int(chunk.final))] = chunk.count
        play = self.play_time(chunk.step, chunk.position)
        if play is not None and now > play:
            self.counts["late"] += 1

    # -- the plan --------------------------------------------------------------------------
    @overload
    def setting(self, key: str) -> tuple | None: ...

    @overload
    def setting(self, key: str, default: tuple) -> tuple: ...

    def setting(self, key: str, default: tuple | None = None) -> tuple | None:
        """A setting's value in effect: confirmed for our own request, else the last ack
        (else ``default``)."""
        return self.confirmed.get(key, self.acks.get(key, default))

    def settings_in_effect(self) -> dict[str, object]:
        """Every setting the server acknowledged, as it applies it (``r`` rounded to whole
        latent frames, say): one value, or a list for ``stems``."""
        keys = [k for k in {**self.acks, **self.confirmed} if k not in ("bye", "reset")]
        out: dict[str, object] = {}
        for key in sorted(keys):
            value = self.setting(key) or ()
            out[key] = value[0] if len(value) == 1 and key != "stems" else list(value)
        return out

    def confirm(self, key: str) -> None:
        self.confirmed[key] = self.acks[key]

    @property
    def ready(self) -> bool:
        return bool(self.welcome) and self.setting("r") is not None \
            and self.setting("w") is not None

    def geometry(self) -> tuple[Geometry, ClockMap]:
        w = self.welcome
        r, lookahead = self.setting("r"), self.setting("w")
        if r is None or lookahead is None:
            raise ValueError("no geometry before the server has acknowledged r and w")
        window_frames = int(w["window_frames"])
        hop_frames = round(float(r[0]) * window_frames)
        g = Geometry(sample_rate=int(w["model_rate"]), hop_length=int(w["hop_length"]),
                     window_frames=window_frames, hop_frames=hop_frames,
                     lookahead=int(lookahead[0]))
        return g, ClockMap(model_rate=g.sample_rate, client_rate=self.client_rate)

    def plan(self) -> list[PlannedStep]:
        """Every step whose region starts before the end of the output, in order."""
        g, cm = self.geometry()
        xfade = int(self.setting("xfade", (0,))[0])
        out = []
        k = max(0, -g.lookahead)
        while True:
            a, b = cm.client_span(*g.region(k))
            if a >= self.length:
                break
            out.append(PlannedStep(step=k, capture=cm.to_client(g.step_position(k)),
                                   region=(a, b), out_start=a - min(xfade, b - a)))
            k += 1
        return out

    def capture_schedule(self, audio_length: int, block: int
                         ) -> tuple[int, list[tuple[int, int, list[int]]]]:
        """How a patch streams in real time: ``(end, sends)``. Capture runs from sample 0 to
        ``end`` (the input, then silence until the last planned region has been played);
        each send ``(start, stop, marks)`` is one audio datagram of samples ``[start, stop)``,
        sent once sample ``stop`` is captured, followed by a ``mark`` at each position in
        ``marks`` (the capture points reached). A ``mark`` at 0 goes out as capture starts.
        Datagrams hold at most ``block`` samples and never straddle a capture point."""
        plan = self.plan()
        g, cm = self.geometry()
        delay = int(self.setting("delay", (0,))[0])
        end = max(audio_length, (plan[-1].region[1] + delay) if plan else 0)
        captures = []
        k = 0
        while (c := cm.to_client(g.step_position(k))) <= end:
            captures.append(c)
            k += 1
        sends: list[tuple[int, int, list[int]]] = []
        pos, next_capture = 0, 1
        while pos < end:
            stop = min(pos + block, end)
            if next_capture < len(captures):
                stop = min(stop, captures[next_capture])
            marks = []
            while next_capture < len(captures) and captures[next_capture] <= stop:
                marks.append(captures[next_capture])
                next_capture += 1
            sends.append((pos, stop, marks))
            pos = stop
        return end, sends

    def expected_chunks(self, step: PlannedStep, stem: str) -> int:
        total = step.region[1] - max(0, step.out_start)
        datagram = int(self.setting("datagram", (protocol.DEFAULT_DATAGRAM,))[0])
        return len(protocol.chunk_layout(total, stem, datagram))

    def captured(self, step: int, when: float) -> None:
        """Record when the client captured step ``step``'s capture position."""
        entry = self.steps.setdefault(step, _StepLog())
        if entry.capture_time is None:
            entry.capture_time = when

    def play_time(self, step: int, position: int) -> float | None:
        """Wall time the client plays ``position``, from the step's capture time."""
        entry = self.steps.get(step)
        if entry is None or entry.capture_time is None or not self.ready:
            return None
        planned = self._plan_index().get(step)
        if planned is None:
            return None
        delay = int(self.setting("delay", (0,))[0])
        return entry.capture_time + (position - planned.capture + delay) / self.client_rate

    def _plan_index(self) -> dict[int, PlannedStep]:
        key = (self.setting("r"), self.setting("w"), self.setting("xfade"))
        if self._plan_cache is None or self._plan_cache[0] != key:
            self._plan_cache = (key, {p.step: p for p in self.plan()})
        return self._plan_cache[1]

    def step_complete(self, step: int) -> bool:
        """Every chunk of every stem of ``step`` has arrived (in its final version)."""
        entry = self.steps.get(step)
        if entry is None:
            return False
        if entry.superseded:
            return True
        for stem in self.settings.stems:
            count = entry.counts.get((stem, 1))
            if count is None:
                return False
            got = sum(1 for k in entry.arrivals if k[0] == stem and k[1] == 1)
            if got < count:
                return False
        return True

    def last_arrival(self, step: int) -> float | None:
        entry = self.steps.get(step)
        if entry is None or not entry.arrivals:
            return None
        return max(entry.arrivals.values())

    # -- results ---------------------------------------------------------------------------
    def stats(self) -> dict[str, object]:
        """Counts and latency figures; every key is documented in docs/SERVER.md."""
        plan = self.plan() if self.ready else []
        lost = expected_total = late_steps = complete = 0
        latencies: list[float] = []
        slacks: list[float] = []
        misses = sum(1 for e in self.steps.values() if e.miss_late is not None)
        # only the expected steps: under load the watchdog may run (and drop) a few steps
        # past the end of the input while the client plays out its last region
        superseded = sum(1 for p in plan if self.steps.get(p.step, _StepLog()).superseded)
        lost_steps = 0
        for p in plan:
            entry = self.steps.get(p.step, _StepLog())
            if entry.superseded:
                continue
            done_times: list[float | None] = []
            step_whole = True
            for stem in self.settings.stems:
                expected = self.expected_chunks(p, stem)
                expected_total += expected
                versions = sorted({k[1] for k in entry.arrivals if k[0] == stem})
                if not versions:
                    lost += expected
                    step_whole = False
                    done_times.append(None)
                    continue
                best = max(versions)
                got = sum(1 for k in entry.arrivals if k[0] == stem and k[1] == best)
                lost += max(0, entry.counts.get((stem, best), expected) - got)
                first = min(versions)
                done_times.append(max(t for k, t in entry.arrivals.items()
                                      if k[0] == stem and k[1] == first))
            if not step_whole:
                lost_steps += 1
                continue
            complete += 1
            done = max(t for t in done_times if t is not None)  # every stem arrived
            if entry.capture_time is not None:
                latencies.append((done - entry.capture_time) * 1e3)
                play = self.play_time(p.step, p.region[0])
                if play is not None:
                    slacks.append((play - done) * 1e3)
                    if play < done:
                        late_steps += 1

        def ms(values: list[float], q: float) -> float | None:
            v = percentile(values, q)
            return None if v is None else round(v, 3)

        rtts = [(self.pongs[s] - t) * 1e3 for s, t in self._pings.items() if s in self.pongs]
        return {
            "steps": len(plan),
            "steps_complete": complete,
            "steps_lost": lost_steps,
            "steps_late": late_steps,
            "misses": misses,
            "superseded": superseded,
            "chunks_expected": expected_total,
            "chunks_received": self.counts["received"],
            "lost_chunks": lost,
            "late_chunks": self.counts["late"],
            "duplicate_chunks": self.counts["duplicate"],
            "stale_chunks": self.counts["stale"],
            "quick_chunks_ignored": self.counts["superseded"],
            "latency_p50_ms": ms(latencies, 50),
            "latency_p95_ms": ms(latencies, 95),
            "latency_p99_ms": ms(latencies, 99),
            "slack_p50_ms": ms(slacks, 50),
            "slack_min_ms": None if not slacks else round(min(slacks), 3),
            "rtt_p50_ms": ms(rtts, 50),
            "errors": [f"{code}: {reason}" for code, reason in self.errors],
            "warnings": list(self.warnings),
            "server_status": dict(self.status),
        }

    def note_ping(self, stamp: int, when: float) -> None:
        self._pings[stamp] = when
