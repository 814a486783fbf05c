"""The reference client: streams a file to ``sideman serve`` the way a Max/Pd patch does.

Three layers, so tests, the Max-patch tests and the reliability soak can reuse them:

* :class:`StemWriter` writes returned chunks into one stem's output buffer with the
  PROTOCOL.md rule (one crossfade over the first ``xfade`` samples of each step's output;
  duplicates never applied twice; ``final`` 1 replaces ``final`` 0, never the reverse). The
  buffer is a pure function of the set of chunks received, whatever their arrival order:
  overlapping steps are composed in step order;
* :class:`StreamClient` is the protocol core without a socket or a clock: it builds the
  datagrams to send, digests the datagrams received (``on_datagram(payload, now)``), knows
  the step plan (which steps the server will run, where their regions are) and computes the
  statistics;
* :class:`ClientRunner` drives a :class:`StreamClient` over a UDP socket, either in real
  time (paced on the wall clock as if captured live, a ``mark`` after each hop) or fast
  (``realtime 0``: as fast as the server answers, waiting for each step's chunks).

Statistics (keys documented in docs/SERVER.md, "Stats keys"): see :meth:`StreamClient.stats`.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from sideman.models.geometry import ClockMap, Geometry, hop_frames_for_ratio

from . import osc, protocol
from .telemetry import percentile

log = logging.getLogger(__name__)

Address = tuple[str, int]

#: Steps kept open for late chunks before their audio is frozen into the buffer.
KEEP_STEPS = 64


class ClientError(RuntimeError):
    """The server refused the session or a setting, or never answered."""


# -- writing chunks ------------------------------------------------------------------------
@dataclass
class _Layer:
    """One step's output as received: chunks per (final, index)."""

    start: int
    xfade: int
    chunks: dict[tuple[int, int], tuple[int, np.ndarray]] = field(default_factory=dict)
    lo: int = 2**62
    hi: int = -(2**62)

    def values(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """This step's samples over ``[lo, hi)`` and where it has any (final over quick)."""
        x = np.zeros(hi - lo, np.float32)
        have = np.zeros(hi - lo, bool)
        for (_final, _index), (pos, arr) in sorted(self.chunks.items()):
            a, b = max(lo, pos), min(hi, pos + len(arr))
            if a < b:
                x[a - lo:b - lo] = arr[a - pos:b - pos]
                have[a - lo:b - lo] = True
        return x, have


class StemWriter:
    """One stem's output buffer, written chunk by chunk with the PROTOCOL.md rule."""

    def __init__(self, length: int) -> None:
        self.buffer = np.zeros(length, np.float32)
        #: Which samples some received chunk covered (lost output stays False).
        self.covered = np.zeros(length, bool)
        self._layers: dict[int, _Layer] = {}
        self._seen: set[tuple[int, int, int]] = set()
        self._frozen_below = -(2**62)  # steps below this are baked into the buffer
        self._freeze_point = -(2**62)  # positions below this are final

    def add(self, step: int, start: int, xfade: int, position: int, index: int, final: bool,
            samples: np.ndarray) -> str:
        """Apply one chunk; returns ``"new"``, ``"duplicate"``, ``"stale"`` (its step was
        frozen already) or ``"superseded"`` (a quick chunk after the final one)."""
        key = (step, int(final), index)
        if step < self._frozen_below:
            return "stale"
        if key in self._seen:
            return "duplicate"
        self._seen.add(key)
        layer = self._layers.get(step)
        if layer is None:
            layer = self._layers[step] = _Layer(start=start, xfade=xfade)
        elif final:
            layer.start, layer.xfade = start, xfade
        if not final and any(k[0] == 1 and k[1] == index for k in layer.chunks):
            return "superseded"
        layer.chunks[(int(final), index)] = (position, np.asarray(samples, np.float32))
        end = position + len(samples)
        self.covered[max(0, position):max(0, min(end, len(self.covered)))] = True
        layer.lo, layer.hi = min(layer.lo, position), max(layer.hi, end)
        self._compose(max(position, self._freeze_point), end)
        if len(self._layers) > 2 * KEEP_STEPS:
            self._freeze()
        return "new"

    def _compose(self, lo: int, hi: int) -> None:
        lo, hi = max(lo, 0), min(hi, len(self.buffer))
        if lo >= hi:
            return
        v = np.zeros(hi - lo, np.float64)
        p = np.arange(lo, hi)
        for step in sorted(self._layers):
            layer = self._layers[step]
            if layer.hi <= lo or layer.lo >= hi:
                continue
            x, have = layer.values(lo, hi)
            fade = have & (p < layer.start + layer.xfade)
            direct = have & ~fade
            v[direct] = x[direct]
            if fade.any():
                g = (p[fade] - layer.start + 1) / (layer.xfade + 1)
                v[fade] = (1.0 - g) * v[fade] + g * x[fade]
        self.buffer[lo:hi] = v

    def _freeze(self) -> None:
        steps = sorted(self._layers)
        keep = steps[-KEEP_STEPS:]
        point = min(self._layers[s].lo for s in keep)
        for s in steps[:-KEEP_STEPS]:
            if self._layers[s].hi <= point:
                del self._layers[s]
                self._frozen_below = max(self._frozen_below, s + 1)
        self._seen = {k for k in self._seen if k[0] >= self._frozen_below}
        self._freeze_point = max(self._freeze_point, point)


# -- the protocol core ---------------------------------------------------------------------
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
        for key in ("steps", "seed", "variation", "guidance", "grid_guidance", "xfade",
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


def transport_updates(beats: Sequence[float], rate: int, *, beats_per_bar: int = 4,
                      downbeats: Sequence[float] | None = None) -> tuple[TransportUpdate, ...]:
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
        self.welcome: dict[str, object] = {}
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
        limit = int(self.welcome.get("max_datagram", protocol.DEFAULT_DATAGRAM))  # type: ignore[arg-type]
        datagram = self.setting("datagram", (protocol.DEFAULT_DATAGRAM,))[0]  # type: ignore[index]
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
    def setting(self, key: str, default: tuple | None = None) -> tuple | None:
        """A setting's value in effect: confirmed for our own request, else the last ack."""
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
        window_frames = int(w["window_frames"])  # type: ignore[arg-type]
        hop_frames = round(float(self.setting("r")[0]) * window_frames)  # type: ignore[index]
        g = Geometry(sample_rate=int(w["model_rate"]), hop_length=int(w["hop_length"]),  # type: ignore[arg-type]
                     window_frames=window_frames, hop_frames=hop_frames,
                     lookahead=int(self.setting("w")[0]))  # type: ignore[index]
        return g, ClockMap(model_rate=g.sample_rate, client_rate=self.client_rate)

    def plan(self) -> list[PlannedStep]:
        """Every step whose region starts before the end of the output, in order."""
        g, cm = self.geometry()
        xfade = int(self.setting("xfade", (0,))[0])  # type: ignore[index]
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
        delay = int(self.setting("delay", (0,))[0])  # type: ignore[index]
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
        datagram = int(self.setting("datagram", (protocol.DEFAULT_DATAGRAM,))[0])  # type: ignore[index]
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
        delay = int(self.setting("delay", (0,))[0])  # type: ignore[index]
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
            done_times = []
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
            done = max(done_times)  # type: ignore[type-var]
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


# -- the socket driver ---------------------------------------------------------------------
@dataclass(frozen=True)
class RunOptions:
    """Timing knobs of :class:`ClientRunner` (seconds)."""

    fast: bool = False
    retry: float = 0.25  #: resend an unanswered hello / set / mark / status after this
    handshake_timeout: float = 5.0
    step_timeout: float = 10.0  #: fast mode: give up waiting for one step's chunks
    quiet: float = 0.3  #: fast mode: a step is done this long after its last chunk
    tail: float = 0.3  #: collect late chunks this long after the last step
    realtime_block: int = 1024  #: real time: samples per audio datagram (like a patch)
    pings: int = 5


class ClientRunner:
    """Drives a :class:`StreamClient` over UDP against ``server``."""

    def __init__(self, core: StreamClient, server: Address, *, options: RunOptions | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 transports: Sequence[TransportUpdate] = (),
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.core = core
        self.server = server
        self.options = options or RunOptions()
        self.clock = clock
        #: Beat-grid updates, each sent before the capture point at or after its ``at``.
        self.transports = sorted(transports, key=lambda t: t.at)
        self._next_transport = 0
        #: Called with (samples captured, samples to capture) as the stream goes on.
        self.progress = progress
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, option, 4 * 1024 * 1024)
            except OSError:
                pass
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0)
                       if server[0] in ("127.0.0.1", "::1", "localhost") else ("", 0))
        self.sent = 0

    def close(self) -> None:
        self.sock.close()

    def _send_transports(self, upto: int) -> None:
        while (self._next_transport < len(self.transports)
               and self.transports[self._next_transport].at <= upto):
            t = self.transports[self._next_transport]
            self.send(self.core.transport(t.bpm, t.beat_position, t.beats_per_bar,
                                          t.beat_in_bar))
            self._next_transport += 1

    def _report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    def send(self, payload: bytes) -> None:
        self.sock.sendto(payload, self.server)
        self.sent += 1

    def pump(self, until: float) -> None:
        """Receive and digest datagrams until the clock reaches ``until``."""
        while True:
            left = until - self.clock()
            if left <= 0:
                self.sock.settimeout(0.0)
            else:
                self.sock.settimeout(left)
            try:
                payload, _ = self.sock.recvfrom(65536)
            except (TimeoutError, BlockingIOError):
                return
            self.core.on_datagram(payload, self.clock())

    def wait_for(self, done: Callable[[], bool], timeout: float,
                 resend: Callable[[], None] | None = None) -> bool:
        deadline = self.clock() + timeout
        next_resend = self.clock() + self.options.retry
        while not done():
            now = self.clock()
            if now >= deadline:
                return False
            if resend is not None and now >= next_resend:
                resend()
                next_resend = now + self.options.retry
            self.pump(min(deadline, next_resend, now + 0.02))
        return True

    # -- phases ----------------------------------------------------------------------------
    def handshake(self) -> None:
        core = self.core
        self.send(core.hello())
        if not self.wait_for(lambda: core.session is not None or bool(core.errors),
                             self.options.handshake_timeout, lambda: self.send(core.hello())):
            raise ClientError(f"no welcome from {self.server[0]}:{self.server[1]} within "
                              f"{self.options.handshake_timeout} s (is `sideman serve` running?)")
        if core.session is None:
            code, reason = core.errors[-1]
            raise ClientError(f"the server refused the session ({code}): {reason}")
        current_w = int(core.acks.get("w", (1,))[0])
        for key, values in core.settings.requests(current_w):
            self.configure(key, values)
        for i in range(self.options.pings):
            stamp = i + 1
            core.note_ping(stamp, self.clock())
            self.send(core.ping(stamp))
        self.pump(self.clock() + 0.02)

    def configure(self, key: str, values: list) -> None:
        core = self.core
        errors_before = len(core.errors)
        core.acks.pop(key, None)
        message = core.set_message(key, values)
        expected = _expected_ack(key, values, core)
        self.send(message)
        ok = self.wait_for(
            lambda: (core.acks.get(key) is not None and _ack_matches(core.acks[key], expected))
            or len(core.errors) > errors_before,
            self.options.handshake_timeout, lambda: self.send(message))
        if len(core.errors) > errors_before:
            code, reason = core.errors[-1]
            raise ClientError(f"set {key} {' '.join(map(str, values))} refused ({code}): {reason}")
        if not ok:
            raise ClientError(f"no ack for set {key} within {self.options.handshake_timeout} s")
        core.confirm(key)

    def stream(self, audio: np.ndarray) -> None:
        """Send the whole input (plus silence up to the last step's capture point)."""
        plan = self.core.plan()
        if not plan:
            return
        end = max(p.capture for p in plan)
        padded = np.zeros(max(end, len(audio)), np.float32)
        padded[:len(audio)] = audio
        if self.options.fast:
            self._stream_fast(padded, plan)
        else:
            self._stream_realtime(padded, plan)
        self.pump(self.clock() + self.options.tail)

    def _stream_fast(self, audio: np.ndarray, plan: list[PlannedStep]) -> None:
        core = self.core
        block = core.audio_block()
        sent = 0
        for p in plan:
            if p.capture > sent:
                for payload in core.audio_messages(sent, audio[sent:p.capture], block):
                    self.send(payload)
                sent = p.capture
            self._send_transports(p.capture)
            mark = core.mark(p.capture)
            self.send(mark)
            core.captured(p.step, self.clock())
            self._wait_step(p.step, mark)
            self._report(p.capture, plan[-1].capture)

    def _wait_step(self, step: int, mark: bytes) -> None:
        core = self.core
        deadline = self.clock() + self.options.step_timeout
        next_resend = self.clock() + self.options.retry
        while not core.step_complete(step):
            now = self.clock()
            last = core.last_arrival(step)
            if now >= deadline or (last is not None and now - last >= self.options.quiet):
                return
            if last is None and now >= next_resend:
                self.send(mark)  # the mark (or the whole output) may have been lost
                next_resend = now + self.options.retry
            self.pump(min(deadline, next_resend, now + 0.02))

    def _stream_realtime(self, audio: np.ndarray, plan: list[PlannedStep]) -> None:
        """Capture on the wall clock like a patch (:meth:`StreamClient.capture_schedule`):
        blocks of audio as they are "recorded", a ``mark`` at every hop boundary, and silence
        after the input until the last planned region has been played."""
        core = self.core
        block = min(self.options.realtime_block, core.audio_block())
        rate = core.client_rate
        end, sends = core.capture_schedule(len(audio), block)
        t0 = self.clock() + 0.05
        for p in plan:
            core.captured(p.step, t0 + p.capture / rate)
        self.pump(t0)
        self._send_transports(0)
        self.send(core.mark(0))  # step 0 is due as capture starts
        for start, stop, marks in sends:
            self.pump(t0 + stop / rate)
            chunk = np.zeros(stop - start, np.float32)
            if start < len(audio):
                piece = audio[start:min(stop, len(audio))]
                chunk[:len(piece)] = piece
            for payload in core.audio_messages(start, chunk, block):
                self.send(payload)
            for position in marks:
                self._send_transports(position)
                self.send(core.mark(position))
            self._report(stop, end)
        self.wait_for(lambda: all(core.step_complete(p.step) for p in plan), self.options.tail)

    def finish(self) -> None:
        """Ask for the server's status, then say bye."""
        core = self.core
        core.status = {}
        request = core.status_request()
        self.send(request)
        self.wait_for(lambda: bool(core.status), 2.0, lambda: self.send(request))
        self.goodbye(1.0)

    def goodbye(self, timeout: float) -> None:
        """Say bye (resent until acknowledged or ``timeout``) so the server frees the session
        at once; nothing when there is no session (yet) or bye was said."""
        core = self.core
        if core.session is None or "bye" in core.acks:
            return
        bye = core.bye()
        try:
            self.send(bye)
            self.wait_for(lambda: "bye" in core.acks, timeout, lambda: self.send(bye))
        except OSError:  # the socket is gone: the server's idle timeout frees the session
            pass


def _expected_ack(key: str, values: list, core: StreamClient) -> tuple | None:
    if key == "r":  # rounded to whole latent frames by the server, the same way
        frames = hop_frames_for_ratio(float(values[0]), int(core.welcome["window_frames"]))  # type: ignore[arg-type]
        return (float(np.float32(frames / int(core.welcome["window_frames"]))),)  # type: ignore[arg-type]
    if key in ("variation", "guidance", "grid_guidance"):
        return (float(np.float32(values[0])),)
    return tuple(values)


def _ack_matches(ack: tuple, expected: tuple | None) -> bool:
    return expected is None or tuple(ack) == tuple(expected)


# -- one call for the CLI, the demo and tests ----------------------------------------------
def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """A sound file as mono float32 (channels averaged) and its rate; a file soundfile
    cannot read raises :class:`ValueError` naming the file and the formats it can."""
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:  # LibsndfileError: soundfile >= 0.11
        raise ValueError(f"cannot read {path} as audio ({exc}); use WAV, AIFF, FLAC or "
                         f"OGG") from None
    if not len(data):
        raise ValueError(f"{path} holds no audio (0 samples)")
    return data.mean(axis=1).astype(np.float32), int(rate)


def stem_paths(out: Path, stems: tuple[str, ...]) -> dict[str, Path]:
    """Output file per stem: ``OUT`` itself for one stem, ``OUT-STEM.wav`` for several."""
    if len(stems) == 1:
        return {stems[0]: out}
    return {stem: out.with_name(f"{out.stem}-{stem}{out.suffix or '.wav'}") for stem in stems}


def default_stats_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.stats.json")


def run_client(audio: np.ndarray, rate: int, settings: ClientSettings, server: Address, *,
               options: RunOptions | None = None, name: str = "sideman-client",
               transports: Sequence[TransportUpdate] = (),
               on_ready: Callable[[StreamClient], None] | None = None,
               progress: Callable[[int, int], None] | None = None) -> StreamClient:
    """Stream ``audio`` through the server at ``server``; returns the finished core (its
    ``writers`` hold the output, ``stats()`` the figures).

    ``on_ready(core)`` runs once the settings are acknowledged (the plan is known), before
    any audio is sent; what it raises ends the run. Ctrl-C (``KeyboardInterrupt``) ends the
    stream early: the session is closed with ``bye`` and the core returned with
    ``interrupted`` set and what was received so far. On any other error ``bye`` is said too.
    """
    core = StreamClient(settings, rate, len(audio), name=name)
    runner = ClientRunner(core, server, options=options, transports=transports,
                          progress=progress)
    try:
        runner.handshake()
        if on_ready is not None:
            on_ready(core)
        runner.stream(audio)
        runner.finish()
    except KeyboardInterrupt:
        core.interrupted = True
        runner.goodbye(0.5)
    except BaseException:
        runner.goodbye(0.5)
        raise
    finally:
        runner.close()
    return core


def write_outputs(core: StreamClient, rate: int, paths: dict[str, Path],
                  stats_path: Path | None, extra: dict[str, object] | None = None
                  ) -> dict[str, Path]:
    """Write one WAV per stem (32-bit float, the input's rate and length) and the stats."""
    import soundfile as sf

    for stem, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), core.writers[stem].buffer, rate, subtype="FLOAT")
    if stats_path is not None:
        stats = {**core.stats(), "settings": asdict(core.settings),
                 "settings_in_effect": core.settings_in_effect(), "sample_rate": rate,
                 "samples": core.length, "outputs": {s: str(p) for s, p in paths.items()},
                 **(extra or {})}
        stats_path.parent.mkdir(parents=True, exist_ok=True)
        stats_path.write_text(json.dumps(stats, indent=2, default=_json_default) + "\n")
    return paths


def _json_default(value: object) -> object:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
