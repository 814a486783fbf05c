"""Simulated model latency, the one model of it: :class:`Latency` says how long a model call
takes, :class:`SimulatedModel` wraps a generator so that each call takes that long.

Where the time goes is the caller's choice (``advance``): the simulator's clock with the
simulation running meanwhile (:mod:`.simulate`), a :class:`~sideman.server.clock.ManualClock`
in scheduler tests, or ``time.sleep`` for a live server with slow steps (the soak).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sideman.models.base import Generator, StepRequest, StepResult, StreamState
from sideman.server.clock import ManualClock


@dataclass(frozen=True)
class Latency:
    """Seconds of one model call.

    ``(per_call + per_step · num_steps) · (1 + batch_slope · (items − 1))`` (``num_steps``:
    the most sampling steps in the batch; ``items``: the stems of all its requests;
    ``batch_slope`` 1: a batch costs the sum of its items, like a CPU; 0: no more than one,
    like an idle GPU); with ``jitter`` > 0 a log-normal draw with that mean and standard
    deviation; with ``measured`` set, the call's measured wall time times ``measured``
    instead. ``steps`` gives the time of calls that run given grid steps k (the largest over
    the batch; the other steps of the batch count with the formula).
    """

    per_call: float = 0.0
    per_step: float = 0.0
    jitter: float = 0.0
    measured: float | None = None
    batch_slope: float = 0.0
    steps: Mapping[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("per_call", "per_step", "jitter", "batch_slope"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"latency {name} must be >= 0 seconds, got {value!r}")
        if any(not (math.isfinite(d) and d >= 0) for d in self.steps.values()):
            raise ValueError("delays must be >= 0 seconds")
        if self.measured is not None and not (math.isfinite(self.measured)
                                              and self.measured > 0):
            raise ValueError(f"measured latency factor must be > 0, got {self.measured!r}")
        if self.measured is not None and (self.per_call or self.per_step or self.jitter):
            raise ValueError("a measured latency takes no per_call, per_step or jitter")
        if self.jitter and not (self.per_call or self.per_step):
            raise ValueError("latency jitter needs a mean (per_call or per_step > 0)")

    @property
    def zero(self) -> bool:
        return self.measured is None and not (self.per_call or self.per_step or self.steps)

    def seconds(self, requests: Sequence[StepRequest], wall: float, rng: random.Random
                ) -> float:
        if self.measured is not None:
            return wall * self.measured
        steps = max((r.num_steps for r in requests), default=0)
        items = sum(len(r.stems) for r in requests)
        mean = (self.per_call + self.per_step * steps) \
            * (1 + self.batch_slope * max(0, items - 1))
        if self.steps and any(r.step in self.steps for r in requests):
            return max(self.steps.get(r.step, mean) for r in requests)
        if self.jitter <= 0 or mean <= 0:
            return mean
        sigma2 = math.log1p((self.jitter / mean) ** 2)
        return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    def describe(self) -> str:
        if self.measured is not None:
            return f"measured wall time x {self.measured:g}"
        text = f"{self.per_call * 1e3:g} ms per call + {self.per_step * 1e3:g} ms per step"
        return text + (f", log-normal jitter {self.jitter * 1e3:g} ms" if self.jitter else "")


@dataclass
class TimedCall:
    """One call of a :class:`SimulatedModel`: its grid steps, its latency and when it ran."""

    steps: list[int]
    delay: float
    started: float
    ended: float


class SimulatedModel(Generator):
    """Wraps a generator: each call takes the time :class:`Latency` gives, spent by
    ``advance(seconds)`` (``time.sleep`` by default); ``now`` reads the clock for
    :attr:`calls` (``time.monotonic`` by default)."""

    def __init__(self, inner: Generator, latency: Latency, *,
                 advance: Callable[[float], object] = time.sleep,
                 now: Callable[[], float] = time.monotonic, seed: int = 0) -> None:
        self.inner = inner
        self.info = inner.info
        self.latency = latency
        self._advance = advance
        self._now = now
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.calls: list[TimedCall] = []
        #: Wall seconds spent in the wrapped generator, over all calls.
        self.wall_seconds = 0.0

    @classmethod
    def on_clock(cls, inner: Generator, clock: ManualClock, **latency: Any) -> SimulatedModel:
        """Calls that advance ``clock`` (``latency``: :class:`Latency`'s fields)."""
        return cls(inner, Latency(**latency), advance=clock.advance, now=clock.now)

    def new_stream(self) -> StreamState:
        return self.inner.new_stream()

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        started = self._now()
        wall = time.perf_counter()
        results = self.inner.generate(requests)
        wall = time.perf_counter() - wall
        delay = self.latency.seconds(requests, wall, self._rng)
        self._advance(delay)
        with self._lock:
            self.wall_seconds += wall
            self.calls.append(TimedCall([r.step for r in requests], delay, started,
                                        self._now()))
        return results
