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
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sideman.models.base import Generator, ModelInfo, StepRequest, StreamState, Transport
from sideman.models.geometry import ClockMap, Geometry

from .delivery import play_order
from .guard import Bucket
from .protocol import chunk_datagrams, chunk_layout, unwrap_position
from .resample import Resampler
from .scheduler import StepJob, StepScheduler
from .settings import SettingContext, Settings, default_settings
from .telemetry import SessionTelemetry

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
    return source if not reply_port else (source[0], reply_port, *source[2:])  # type: ignore[return-value]


@dataclass
class StepInput:
    """What a step read from its session (:meth:`Session.read_window`), to run without it."""

    segment: np.ndarray  #: client samples from ``segment_start`` up to the capture point
    segment_start: int
    out_start_model: int  #: model position of the output's first sample (crossfade included)
    xfade: int  #: crossfade samples on the client clock
    request: StepRequest  #: the model request, its mixture filled in by :meth:`model_window`


class Session:
    """One client: identity and binding, settings, input ring, clock estimate, telemetry."""

    def __init__(self, *, session_id: int, token: str, address: Address, nonce: int, name: str,
                 client_rate: int, generator: Generator, max_datagram: int, now: float,
                 reply_port: int = 0) -> None:
        self.id = session_id
        self.token = token
        #: The source address the session is bound to (requests from elsewhere are refused).
        self.address = address
        #: Where replies go: the bound address, or its IP with the client's reply port.
        self.reply_to = reply_address(address, reply_port)
        self.nonce = nonce
        self.name = name
        self.client_rate = client_rate
        self.info: ModelInfo = generator.info
        self.context = SettingContext(info=self.info, client_rate=client_rate,
                                      max_datagram=max_datagram)
        self.settings: Settings = default_settings(self.context)
        self.clock_map: ClockMap = self.context.clock_map
        self.resampler = Resampler(self.clock_map)
        self._new_stream = generator.new_stream
        self.stream: StreamState = generator.new_stream()
        self.input = InputBuffer(self.context.input_span)
        self.clock = ClientClockEstimate(client_rate)
        self.telemetry = SessionTelemetry()
        self.transport: Transport | None = None
        self.created = now
        self.last_seen = now
        self.closed = False
        #: An authenticated message (carrying the token) has arrived since the hello.
        self.confirmed = False
        #: Bumped by reset and close: queued steps of an older epoch are superseded.
        self.epoch = 0
        #: Highest ``mark`` position received (-1: none).
        self.mark = -1
        #: Whether audio or a mark has arrived since hello/reset (steps wait for it).
        self.started = False
        #: Wire step of the last step whose output was generated (-1: none yet).
        self.last_generated_step = -1
        self.scheduler = StepScheduler(self)
        #: The session's own budgets (:mod:`.guard`); the server sets its limits.
        self.budget = Bucket(float("inf"), float("inf"), now)
        self.control = Bucket(float("inf"), float("inf"), now)

    # -- geometry ------------------------------------------------------------------------
    @property
    def geometry(self) -> Geometry:
        return self.settings.geometry(self.context)

    @property
    def counters(self):
        return self.telemetry.counters

    def bound_to(self, address: Address) -> bool:
        return self.address == address

    def source_ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return ipaddress.ip_address(self.address[0])

    # -- input ---------------------------------------------------------------------------
    def position_reference(self) -> int:
        """Where the session's input is now: int32 positions from the wire unwrap near it."""
        return max(self.input.high, self.mark, self.input.base)

    def unwrap(self, position: int) -> int:
        """A position from the wire (modulo 2**wrap) as the session's 64-bit position."""
        return unwrap_position(position, self.position_reference(), self.settings.wrap)

    def receive_audio(self, position: int, samples: np.ndarray, now: float) -> WriteResult:
        position = self.unwrap(position)
        result = self.input.write(position, samples)
        c = self.counters
        c.audio_in += result.new
        c.dup_in += result.duplicate
        c.late_in += result.late
        self.started = True
        if self.settings.realtime:
            self.clock.observe(now, position + len(samples))
        return result

    def receive_mark(self, position: int, now: float) -> None:
        position = self.unwrap(position)
        if position < 0:
            raise PositionError(f"mark position {position} is negative")
        limit = self.input.base + self.input.capacity
        if position > limit:
            # A client cannot have sent audio this far ahead (it would have been refused);
            # believing it would move the clock estimate and make every step up to it ready.
            raise PositionError(f"mark position {position} is too far ahead: this session "
                                f"holds positions up to {limit} now")
        self.mark = max(self.mark, position)
        self.started = True
        if self.settings.realtime:
            self.clock.observe(now, position)

    def play_position(self, now: float) -> float | None:
        """Estimated client sample being played now (capture clock minus output delay)."""
        captured = self.clock.position_at(now)
        return None if captured is None else captured - self.settings.delay

    def deadline_of(self, client_position: int) -> float | None:
        """Wall time at which the client plays ``client_position`` (None if unknown)."""
        return self.clock.time_of(client_position + self.settings.delay)

    # -- the engine's port (server/engine.py reads and writes a session only through these) -
    def read_window(self, job: StepJob, num_steps: int) -> StepInput:
        """Take what step ``job`` reads (server lock held): the input up to its capture point
        (what is missing reads as silence and is counted lost), the settings in force; the
        job is built (its input may be released)."""
        g = job.geometry
        settings = self.settings
        n_model = g.step_position(job.grid)
        window_start, _ = g.window(job.grid)
        if not job.refine:
            self.counters.lost_in += self.input.consume(job.capture)
        c0, c1 = self.resampler.client_range(window_start, n_model)
        segment = self.input.read(c0, min(c1, job.capture))
        region_start_model = g.region(job.grid)[0]
        xfade = min(settings.xfade, job.region[1] - job.region[0])
        out_start = self.resampler.model_output_start(region_start_model, xfade)
        self.mark_built(job)
        self.scheduler.release_input()
        request = StepRequest(
            stream=self.stream, step=job.grid, geometry=g, mixture=np.empty(0, np.float32),
            stems=settings.stems, num_steps=num_steps, seed=settings.seed,
            variation=settings.variation, guidance=settings.guidance,
            grid_guidance=settings.grid_guidance, xfade=region_start_model - out_start,
            transport=self.transport, track_beats=settings.track)
        return StepInput(segment=segment, segment_start=c0, out_start_model=out_start,
                         xfade=xfade, request=request)

    def model_window(self, job: StepJob, step: StepInput) -> np.ndarray:
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

    def mark_built(self, job: StepJob) -> None:
        """``job`` left the queue (built, dropped or refused): the scheduler stops keeping
        its window's input."""
        self.scheduler.built(job)

    def output_datagrams(self, job: StepJob, step: StepInput, audio: Mapping[str, np.ndarray],
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
                                     client_audio, final, datagram, self.settings.wrap)
            stems.append([(c0 + skip + offset, payload)
                          for (offset, _), payload in zip(layout, chunks, strict=True)])
        return play_order(stems), bad

    def queue_refinement(self, job: StepJob) -> None:
        """A quick result went out: its refinement reads the same window again."""
        self.scheduler.queued[job.step] = job.window_start

    def reset_stream(self) -> None:
        """``/sideman/reset``: forget audio and generated state; settings and counters stay."""
        self.epoch += 1
        self.input.reset()
        self.clock.reset()
        # A fresh stream rather than reset() in place: a step of the old epoch may be inside
        # the model right now (its result will be dropped as superseded).
        self.stream = self._new_stream()
        self.mark = -1
        self.started = False
        self.transport = None
        self.scheduler.reset()
