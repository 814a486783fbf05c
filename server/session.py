"""One client's state: settings, geometry, input on the client clock, clock estimate, counters.

The input lives in :class:`InputBuffer`, a ring on the client's sample clock with a
per-sample "received" mask: a duplicate sample is never applied twice (it is counted), a
sample that never arrived reads as silence and is counted as lost when the step that needs
it runs, and a sample that arrives after that step ran is counted as late (and still used by
later steps). Memory is bounded: the ring holds a few windows; audio too far ahead of what the
steps still need is refused.

:class:`ClientClockEstimate` turns arrival times into an estimate of the client's capture
clock (for deadlines and watchdogs): the client captured sample ``p`` no later than the
moment a datagram holding ``p`` arrived, so the earliest ``arrival - p/rate`` over a sliding
window bounds the client's time origin.
"""

from __future__ import annotations

import ipaddress
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sideman.models.base import (
    Generator,
    ModelInfo,
    StepRequest,
    StreamState,
    Transport,
    network_copies,
)
from sideman.models.geometry import ClockMap, Geometry

from . import protocol
from .delivery import play_order
from .guard import Bucket
from .protocol import chunk_datagrams, chunk_layout, unwrap_position
from .resample import Resampler
from .scheduler import StepJob, StepScheduler
from .settings import SettingContext, Settings, default_settings
from .telemetry import SessionCounters, SessionTelemetry, StepTiming

Address = tuple[str, int]

#: Seconds of arrivals the clock estimate looks back over (follows slow clock drift).
CLOCK_WINDOW = 30.0


class PositionError(ValueError):
    """Audio at a position the session cannot take (negative or too far ahead)."""


@dataclass
class WriteResult:
    new: int = 0
    duplicate: int = 0
    late: int = 0
    too_old: int = 0


class InputBuffer:
    """A ring of client samples at absolute positions, with a received mask."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.data = np.zeros(capacity, np.float32)
        self.mask = np.zeros(capacity, bool)
        self.base = 0  # lowest position still held
        self.high = 0  # one past the highest position received
        self.used_upto = 0  # positions below this were consumed by a step

    def _spans(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """``(ring_lo, ring_hi, offset)`` pieces of absolute ``[start, end)`` (held range)."""
        out = []
        pos = start
        while pos < end:
            lo = pos % self.capacity
            n = min(end - pos, self.capacity - lo)
            out.append((lo, lo + n, pos - start))
            pos += n
        return out

    def write(self, position: int, samples: np.ndarray) -> WriteResult:
        end = position + len(samples)
        if position < 0:
            raise PositionError(f"audio position {position} is negative; positions start at 0")
        limit = self.base + self.capacity
        if end > limit:
            raise PositionError(f"audio [{position}, {end}) is too far ahead: this session holds "
                                f"positions up to {limit} now")
        result = WriteResult()
        start = min(max(position, self.base), end)
        result.too_old = start - position
        for lo, hi, off in self._spans(start, end):
            src = samples[start - position + off:start - position + off + hi - lo]
            fresh = ~self.mask[lo:hi]
            n_fresh = int(fresh.sum())
            result.new += n_fresh
            result.duplicate += (hi - lo) - n_fresh
            if n_fresh:
                self.data[lo:hi][fresh] = src[fresh]
                self.mask[lo:hi] = True
                # Fresh samples below used_upto arrived after their step ran.
                first_abs = start + off
                before = min(hi - lo, max(0, self.used_upto - first_abs))
                if before:
                    result.late += int(fresh[:before].sum())
        if result.too_old:
            result.late += result.too_old
        self.high = max(self.high, end)
        return result

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)``; silence where not received, negative or not held."""
        out = np.zeros(max(0, end - start), np.float32)
        lo_abs, hi_abs = max(start, self.base, 0), min(end, self.high)
        if hi_abs > lo_abs:
            for lo, hi, off in self._spans(lo_abs, hi_abs):
                out[lo_abs - start + off:lo_abs - start + off + hi - lo] = self.data[lo:hi]
        return out

    def complete(self, start: int, end: int) -> bool:
        """Whether every sample of ``[start, end)`` (positions >= 0) has been received."""
        start = max(start, 0)
        if end <= start:
            return True
        if start < self.base or end > self.high:
            return False
        return all(bool(self.mask[lo:hi].all()) for lo, hi, _ in self._spans(start, end))

    def consume(self, upto: int) -> int:
        """Mark ``[used_upto, upto)`` as used by a step; returns how many of them (>= 0)
        were missing."""
        start = max(self.used_upto, self.base, 0)
        missing = 0
        if upto > start:
            for lo, hi, _ in self._spans(start, upto):
                missing += int((~self.mask[lo:hi]).sum())
        # Positions below the held range were never received either.
        missing += max(0, min(upto, self.base) - max(self.used_upto, 0))
        self.used_upto = max(self.used_upto, upto)
        return missing

    def release(self, before: int) -> None:
        """Forget positions below ``before`` (the ring slots are cleared for reuse)."""
        before = min(before, self.used_upto)
        if before <= self.base:
            return
        clear_to = min(before, self.base + self.capacity)
        for lo, hi, _ in self._spans(self.base, clear_to):
            self.data[lo:hi] = 0.0
            self.mask[lo:hi] = False
        self.base = before

    def reset(self) -> None:
        # Only the held positions are cleared: a reset costs what was received, not the
        # ring's size (a 768 kHz ring is tens of MB; resets may come often).
        for lo, hi, _ in self._spans(self.base, min(self.high, self.base + self.capacity)):
            self.data[lo:hi] = 0.0
            self.mask[lo:hi] = False
        self.base = self.high = self.used_upto = 0


class ClientClockEstimate:
    """Estimated client capture clock from (arrival time, highest position) observations."""

    def __init__(self, rate: int, window: float = CLOCK_WINDOW) -> None:
        self.rate = rate
        self.window = window
        self._mins: deque[tuple[float, float]] = deque()  # (time, origin), origins increasing

    @property
    def known(self) -> bool:
        return bool(self._mins)

    def observe(self, now: float, position: int) -> None:
        """The client had captured ``position`` samples by ``now`` (a position of 0 says
        nothing about its clock: it can be sent before capture starts)."""
        if position <= 0:
            return
        origin = now - position / self.rate
        while self._mins and self._mins[-1][1] >= origin:
            self._mins.pop()
        self._mins.append((now, origin))
        while len(self._mins) > 1 and self._mins[0][0] < now - self.window:
            self._mins.popleft()

    @property
    def origin(self) -> float | None:
        """Wall time at which the client captured sample 0."""
        return self._mins[0][1] if self._mins else None

    def position_at(self, now: float) -> float | None:
        origin = self.origin
        return None if origin is None else (now - origin) * self.rate

    def time_of(self, position: float) -> float | None:
        origin = self.origin
        return None if origin is None else origin + position / self.rate

    def reset(self) -> None:
        self._mins.clear()


def reply_address(source: Address, reply_port: int) -> Address:
    """Replies to a request from ``source``: its own port, or ``reply_port`` on the same IP
    (a client that sends and receives on different sockets, like Max's udpsend/udpreceive)."""
    # IPv6 sources carry flow info and scope id after the port: keep them.
    return source if not reply_port else (source[0], reply_port, *source[2:])


@dataclass
class StepInput:
    """What a step read from its session (:meth:`Session.read_window`), to run without it."""

    segment: np.ndarray  #: client samples from ``segment_start`` up to the capture point
    segment_start: int
    out_start_model: int  #: model position of the output's first sample (crossfade included)
    xfade: int  #: crossfade samples on the client clock
    request: StepRequest  #: the model request, its mixture filled in by :meth:`model_window`
    #: A quick (degraded) result of this step is refined later (``refine`` on, live).
    refine_quick: bool = False


class Session:
    """One client: identity and binding, settings, input ring, clock estimate, telemetry.

    The identity (``id``, ``token``, ``nonce``, ``name``, ``client_rate``, the model's
    ``info``, the clock ``context``, ``clock_map`` and ``resampler``) is fixed at the hello.
    Everything that changes is private and changes through methods, each for one caller:
    the server's routing (:mod:`.app`: bind, confirm, budget, set, reset, close), the
    scheduler (the input's progress), the engine and the delivery (the port: read the window,
    mark built, deliver, book). Callers hold the server's lock unless a method says not."""

    def __init__(self, *, session_id: int, token: str, address: Address, nonce: int, name: str,
                 client_rate: int, generator: Generator, max_datagram: int, now: float,
                 reply_port: int = 0, budget: Bucket | None = None,
                 control: Bucket | None = None) -> None:
        self.id = session_id
        self.token = token
        self.nonce = nonce
        self.name = name
        self.client_rate = client_rate
        self.info: ModelInfo = generator.info
        self.context = SettingContext(info=self.info, client_rate=client_rate,
                                      max_datagram=max_datagram)
        self.clock_map: ClockMap = self.context.clock_map
        self.resampler = Resampler(self.clock_map)
        self.created = now
        # The source address the session is bound to (requests from elsewhere are refused)
        # and where replies go: that address, or its IP with the client's reply port.
        self._address = address
        self._reply_to = reply_address(address, reply_port)
        self._settings: Settings = default_settings(self.context)
        self._new_stream = generator.new_stream
        self._stream: StreamState = generator.new_stream()
        self._input = InputBuffer(self.context.input_span)
        self._clock = ClientClockEstimate(client_rate)
        self._telemetry = SessionTelemetry()
        self._transport: Transport | None = None
        self._last_seen = now
        self._closed = False
        # An authenticated message (carrying the token) has arrived since the hello.
        self._confirmed = False
        # Bumped by reset and close: queued steps of an older epoch are superseded.
        self._epoch = 0
        # Highest ``mark`` position received (-1: none).
        self._mark = -1
        # Whether audio or a mark has arrived since hello/reset (steps wait for it).
        self._started = False
        # Wire step of the last step whose output was generated (-1: none yet).
        self._last_generated = -1
        self._scheduler = StepScheduler(self)
        # The session's own budgets (:mod:`.guard`); the server gives their limits.
        self._budget = Bucket(float("inf"), float("inf"), now) if budget is None else budget
        self._control = Bucket(float("inf"), float("inf"), now) if control is None else control

    # -- state, read-only ----------------------------------------------------------------
    @property
    def geometry(self) -> Geometry:
        return self._settings.geometry(self.context)

    @property
    def settings(self) -> Settings:
        """The settings in force (frozen: a ``set`` replaces them, :meth:`apply_settings`)."""
        return self._settings

    @property
    def counters(self) -> SessionCounters:
        return self._telemetry.counters

    @property
    def telemetry(self) -> SessionTelemetry:
        return self._telemetry

    @property
    def address(self) -> Address:
        return self._address

    @property
    def reply_to(self) -> Address:
        return self._reply_to

    @property
    def stream(self) -> StreamState:
        """The generator's streaming state of the current epoch."""
        return self._stream

    @property
    def transport(self) -> Transport | None:
        return self._transport

    @property
    def last_seen(self) -> float:
        return self._last_seen

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def confirmed(self) -> bool:
        return self._confirmed

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def mark(self) -> int:
        return self._mark

    @property
    def started(self) -> bool:
        return self._started

    def buffer_bytes(self) -> int:
        """Bytes the input ring holds (what a session costs the server's memory)."""
        return self._input.data.nbytes + self._input.mask.nbytes

    # -- the server's routing (server/app.py) --------------------------------------------
    def bound_to(self, address: Address) -> bool:
        return self._address == address

    def source_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self._address[0])

    def rebind(self, address: Address, reply_port: int) -> None:
        """Bind to ``address`` (a resume, or a repeated hello) with its reply port."""
        self._address = address
        self._reply_to = reply_address(address, reply_port)

    def reply_via(self, reply_to: Address) -> None:
        """Send replies to ``reply_to`` (a repeated hello naming another reply port)."""
        self._reply_to = reply_to

    def seen(self, now: float, *, authenticated: bool = True) -> None:
        """A message of the session arrived (``authenticated``: it carried the token)."""
        self._last_seen = now
        if authenticated:
            self._confirmed = True

    def admit(self, now: float, control: bool) -> bool:
        """Whether the session's budget (and for a control message its control budget)
        allows one more message now."""
        return self._budget.admit(now) and (not control or self._control.admit(now))

    def charge(self, now: float, cost: float, control: bool) -> None:
        """Spend ``cost`` of the budget (a control message also one of the control budget)."""
        self._budget.charge(now, cost)
        if control:
            self._control.charge(now)

    def count_rejected(self) -> None:
        self.counters.rejected += 1

    def apply_settings(self, new: Settings, *, regrid: bool) -> None:
        """Put ``new`` in force; ``regrid``: ``r`` or ``w`` was set, the step grid follows."""
        old_geometry = self.geometry
        self._settings = new
        if regrid:
            self._scheduler.regrid(old_geometry, self.geometry)

    def set_transport(self, transport: Transport | None) -> None:
        self._transport = transport

    def poll(self, now: float, grace: float) -> list[SessionJob]:
        """Steps that became ready (:meth:`StepScheduler.poll`)."""
        return self._scheduler.poll(now, grace)

    def next_step_number(self) -> int:
        return self._scheduler.next_step_number()

    def close(self) -> None:
        """Closed: queued steps are superseded, the big buffers freed now (whoever still holds
        a reference to the session)."""
        self._closed = True
        self._epoch += 1
        self._input = InputBuffer(1)

    def status_pairs(self, queue: int) -> list[tuple[str, int | float]]:
        return self._telemetry.status_pairs(queue=queue, r=self._settings.r(self.context),
                                            w=self._settings.w)

    # -- input ---------------------------------------------------------------------------
    def position_reference(self) -> int:
        """Where the session's input is now: int32 positions from the wire unwrap near it."""
        return max(self._input.high, self._mark, self._input.base)

    def unwrap(self, position: int) -> int:
        """A position from the wire (modulo 2**wrap) as the session's 64-bit position."""
        return unwrap_position(position, self.position_reference(), self._settings.wrap)

    def receive_audio(self, position: int, samples: np.ndarray, now: float) -> WriteResult:
        position = self.unwrap(position)
        result = self._input.write(position, samples)
        c = self.counters
        c.audio_in += result.new
        c.dup_in += result.duplicate
        c.late_in += result.late
        self._started = True
        if self._settings.realtime:
            self._clock.observe(now, position + len(samples))
        return result

    def receive_mark(self, position: int, now: float) -> None:
        position = self.unwrap(position)
        if position < 0:
            raise PositionError(f"mark position {position} is negative")
        limit = self._input.base + self._input.capacity
        if position > limit:
            # A client cannot have sent audio this far ahead (it would have been refused);
            # believing it would move the clock estimate and make every step up to it ready.
            raise PositionError(f"mark position {position} is too far ahead: this session "
                                f"holds positions up to {limit} now")
        self._mark = max(self._mark, position)
        self._started = True
        if self._settings.realtime:
            self._clock.observe(now, position)

    # -- the scheduler's view (server/scheduler.py) --------------------------------------
    def capture_position(self, now: float) -> float | None:
        """Estimated client sample being captured now (None before any estimate)."""
        return self._clock.position_at(now)

    def received(self, start: int, end: int) -> bool:
        """Whether every input sample of ``[start, end)`` has arrived."""
        return self._input.high >= end and self._input.complete(start, end)

    def release_input(self) -> None:
        """Forget the input no queued or future step reads any more."""
        self._input.release(self._scheduler.needed_from())

    def play_position(self, now: float) -> float | None:
        """Estimated client sample being played now (capture clock minus output delay)."""
        captured = self._clock.position_at(now)
        return None if captured is None else captured - self._settings.delay

    def deadline_of(self, client_position: int) -> float | None:
        """Wall time at which the client plays ``client_position`` (None if unknown)."""
        return self._clock.time_of(client_position + self._settings.delay)

    # -- the engine's port (server/engine.py, server/delivery.py use only these) ----------
    def work_items(self, uses_beat_grid: bool) -> int:
        """What one of the session's steps adds to a model call's work: its stems, once more
        per guidance in use (every network call then also runs without the mix, or without
        the grid)."""
        settings = self._settings
        return max(1, len(settings.stems)) * network_copies(
            settings.guidance, settings.grid_guidance, uses_beat_grid)

    def read_window(self, job: SessionJob, num_steps: int) -> StepInput:
        """Take what step ``job`` reads (server lock held): the input up to its capture point
        (what is missing reads as silence and is counted lost), the settings in force; the
        job is built (its input may be released)."""
        g = job.geometry
        settings = self._settings
        n_model = g.step_position(job.grid)
        window_start, _ = g.window(job.grid)
        if not job.refine:
            self.counters.lost_in += self._input.consume(job.capture)
        c0, c1 = self.resampler.client_range(window_start, n_model)
        segment = self._input.read(c0, min(c1, job.capture))
        region_start_model = g.region(job.grid)[0]
        xfade = min(settings.xfade, job.region[1] - job.region[0])
        out_start = self.resampler.model_output_start(region_start_model, xfade)
        self.mark_built(job)
        self.release_input()
        request = StepRequest(
            stream=self._stream, step=job.grid, geometry=g, mixture=np.empty(0, np.float32),
            stems=settings.stems, num_steps=num_steps, seed=settings.seed,
            variation=settings.variation, guidance=settings.guidance,
            grid_guidance=settings.grid_guidance, xfade=region_start_model - out_start,
            transport=self._transport, track_beats=settings.track, stop_seconds=settings.stop)
        return StepInput(segment=segment, segment_start=c0, out_start_model=out_start,
                         xfade=xfade, request=request,
                         refine_quick=settings.refine and settings.realtime)

    def model_window(self, job: SessionJob, step: StepInput) -> np.ndarray:
        """The step's window on the model clock (no lock: resampling can take milliseconds):
        the input before the capture point, silence after (the future)."""
        g = job.geometry
        window_start, _ = g.window(job.grid)
        n_model = g.step_position(job.grid)
        mixture = np.zeros(g.window_samples, np.float32)
        # Samples before the capture point: T - (w+1)·H >= H > 0, as the geometry keeps
        # (w+2)·H <= T.
        known = n_model - window_start
        c1 = self.resampler.client_range(window_start, n_model)[1]
        segment = np.pad(step.segment,
                         (0, max(0, c1 - step.segment_start - len(step.segment))))
        mixture[:known] = self.resampler.from_client(segment, step.segment_start,
                                                     window_start, n_model)
        return mixture

    def mark_built(self, job: SessionJob) -> None:
        """``job`` left the queue (built, dropped or refused): the scheduler stops keeping
        its window's input."""
        self._scheduler.built(job)

    def refinable(self, job: SessionJob) -> bool:
        """Whether ``job``'s step is still the last one generated (a refinement of an older
        step would replace chunks a later step has overwritten)."""
        return self._last_generated == job.step

    def generated(self, job: SessionJob) -> int:
        """``job``'s output exists (it is the last step generated now); returns the datagram
        size in force, what its output is cut to."""
        self._last_generated = max(self._last_generated, job.step)
        return self._settings.datagram

    def output_datagrams(self, job: SessionJob, step: StepInput, audio: Mapping[str, np.ndarray],
                         final: bool, datagram: int) -> tuple[list[bytes], list[str]]:
        """The step's output as ``/sideman/chunk`` datagrams in play order (no lock): each
        stem back on the client clock (:mod:`.resample`), cut into datagrams of at most
        ``datagram`` bytes, stems interleaved (:func:`~.delivery.play_order`). The second
        list says what the model returned wrongly (a stem missing or of the wrong length)."""
        request = step.request
        c0 = job.region[0] - step.xfade
        c1 = job.region[1]
        skip = max(0, -c0)
        expected = request.xfade + job.geometry.hop_samples
        stems: list[list[tuple[int, bytes]]] = []
        bad: list[str] = []
        for stem in request.stems:
            samples = audio.get(stem)
            if samples is None or len(samples) != expected:
                bad.append(f"the model returned {None if samples is None else len(samples)} "
                           f"samples of {stem} for step {job.step}, expected {expected}")
                continue
            client_audio = self.resampler.to_client(samples, step.out_start_model, c0,
                                                    c1)[skip:]
            layout = chunk_layout(len(client_audio), stem, datagram)
            chunks = chunk_datagrams(self.id, stem, job.step, c0, step.xfade, c0 + skip,
                                     client_audio, final, datagram, self._settings.wrap)
            stems.append([(c0 + skip + offset, payload)
                          for (offset, _), payload in zip(layout, chunks, strict=True)])
        return play_order(stems), bad

    def queue_refinement(self, job: SessionJob) -> None:
        """A quick result went out: its refinement reads the same window again."""
        self._scheduler.requeue(job)

    def book_superseded(self, job: SessionJob) -> bytes:
        """Count a step dropped before it could run; its ``/sideman/miss`` report."""
        self.counters.superseded += 1
        return protocol.encode_miss(self.id, job.step, job.region[0], 0, "superseded",
                                    self._settings.wrap)

    def book_model_error(self, text: str) -> bytes:
        """Count a step the model could not do; its ``/sideman/error`` report."""
        self.counters.model_errors += 1
        return protocol.encode_error(self.id, protocol.ErrorCode.MODEL, text)

    def book_delivery(self, job: SessionJob, timing: StepTiming, *, sent: int, degraded: bool,
                      grid_source: str, grid_bpm: float | None) -> bytes | None:
        """Book a step whose datagrams have all left (or were dropped): ``sent`` chunks; a
        first version's step, degradation, timing and beat grid, and, when its last datagram
        left after the deadline, the miss (its ``/sideman/miss`` report is returned)."""
        c = self.counters
        c.chunks_out += sent
        if job.refine:
            c.refined += 1
            return None
        c.steps += 1
        if degraded:
            c.degraded += 1
        report = None
        if timing.slack is not None and timing.slack < 0:
            c.misses += 1
            late = math.ceil(-timing.slack * self.client_rate)
            report = protocol.encode_miss(self.id, job.step, job.region[0], late, "late",
                                          self._settings.wrap)
        self._telemetry.record(timing)
        self._telemetry.grid_source = grid_source
        self._telemetry.grid_bpm = grid_bpm
        return report

    def reset_stream(self) -> None:
        """``/sideman/reset``: forget audio and generated state; settings and counters stay."""
        self._epoch += 1
        self._input.reset()
        self._clock.reset()
        # A fresh stream rather than reset() in place: a step of the old epoch may be inside
        # the model right now (its result will be dropped as superseded).
        self._stream = self._new_stream()
        self._mark = -1
        self._started = False
        self._transport = None
        self._scheduler.reset()


#: A job of a :class:`Session` (what the engine queues and the delivery books).
SessionJob = StepJob[Session]
