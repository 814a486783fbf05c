"""When each step is ready, its deadline, when it is superseded, and how much quality it gets.

Geometry comes from :mod:`sideman.models.geometry` (model clock) mapped to the client clock by
:class:`~sideman.models.geometry.ClockMap`. For step ``k`` of the current grid:

* **ready** when the client has captured up to ``n_k`` (client clock ``to_client(k·H)``):
  every input sample before it has arrived, or a ``mark`` at or after it has, or (real time
  only) the watchdog: the estimated client clock passed ``n_k`` plus a grace period;
* **deadline**: the wall time the client plays the region's first sample (plus its
  ``delay``), from the session's clock estimate; offline (``realtime 0``) there is none;
* **superseded** when the session was reset or closed, or (real time) the region has been
  played entirely before the step could run;
* **degraded**: :func:`choose_num_steps` picks the most sampling steps whose predicted time
  (:class:`CostModel`, a running fit of fixed + per-sampling-step cost of a model call) fits the
  time left; with ``refine`` the quick result goes out as ``final`` 0 and the step is run
  again at full quality when the engine is idle, no later step of the session has run, and
  :func:`refine_fits` (the refined result arrives before the region has finished playing and
  the session's next step can still make its deadline).

Step numbers on the wire grow by one per step and never repeat within a session: after a
change of ``r`` (a new grid) or a ``reset`` the numbering carries on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import numpy as np

from sideman.models.geometry import ClockMap, Geometry

if TYPE_CHECKING:  # for the type checker only: session.py imports this module, not the reverse
    from .resample import Resampler
    from .settings import Settings

#: Seconds kept between the predicted end of a step and its deadline.
SAFETY = 0.003
#: Steps one poll may make ready at once (a mark far ahead after a stall).
MAX_STEPS_PER_POLL = 256


class SessionView(Protocol):
    """What the scheduler reads of a session (:class:`~.session.Session` is one; the
    scheduler does not import it at run time: session.py builds on this module, not the
    reverse)."""

    @property
    def closed(self) -> bool: ...
    @property
    def started(self) -> bool: ...
    @property
    def epoch(self) -> int: ...
    @property
    def mark(self) -> int:
        """The highest ``mark`` position received (-1: none)."""
    @property
    def geometry(self) -> Geometry: ...
    @property
    def settings(self) -> Settings: ...
    client_rate: int
    clock_map: ClockMap
    resampler: Resampler

    def capture_position(self, now: float) -> float | None: ...

    def received(self, start: int, end: int) -> bool: ...

    def play_position(self, now: float) -> float | None: ...

    def deadline_of(self, client_position: int) -> float | None: ...


#: The session type a job carries: the scheduler reads it as a :class:`SessionView`; the
#: engine and the delivery get the :class:`~.session.Session` and use its port.
S = TypeVar("S", bound=SessionView)


@dataclass
class StepJob(Generic[S]):
    """A step that is ready to run (or a refinement of one that ran quick)."""

    session: S  #: the session it belongs to
    epoch: int
    grid: int  #: k on the model-clock grid (what the generator sees)
    step: int  #: the step number on the wire
    geometry: Geometry
    capture: int  #: client position n_k the step waited for
    region: tuple[int, int]  #: the region on the client clock
    window_start: int  #: client position of the window's first sample
    ready_at: float
    realtime: bool  #: deadlines on the wall clock (the session's ``realtime`` setting)
    requested_steps: int
    refine: bool = False

    @property
    def deadline(self) -> float | None:
        """Wall time the client plays the region's first sample (plus its ``delay``), from
        the session's current clock estimate; ``None`` offline or before any estimate."""
        return self.session.deadline_of(self.region[0]) if self.realtime else None

    def superseded(self, now: float) -> str | None:
        """Why this job must not run any more (``None``: it may run)."""
        s = self.session
        if s.closed:
            return "closed"
        if self.epoch != s.epoch:
            return "reset"
        if self.realtime:
            played = s.play_position(now)
            if played is not None and played >= self.region[1]:
                return "played"
        return None

    def time_left(self, now: float) -> float:
        """Seconds until the client plays the region's first sample."""
        deadline = self.deadline
        return float("inf") if deadline is None else deadline - now

    def time_to_end(self, now: float) -> float:
        """Seconds until the client has played the whole region."""
        duration = (self.region[1] - self.region[0]) / self.session.client_rate
        return self.time_left(now) + duration


class StepScheduler(Generic[S]):
    """Turns a session's input progress into ready :class:`StepJob` objects."""

    def __init__(self, session: S) -> None:
        self.session = session
        self.next_grid: int | None = None
        self.offset = 0
        self.last_step = -1
        self.scheduled_capture = 0  # client position of the last step made ready
        self.last_region_end_model: int | None = None
        self.queued: dict[int, int] = {}  # wire step -> window start (client) of unbuilt jobs

    @staticmethod
    def first_grid(geometry: Geometry) -> int:
        """The first step whose region ends after position 0."""
        return max(0, -geometry.lookahead)

    def reset(self) -> None:
        """After ``reset``: positions restart at 0, step numbers carry on."""
        self.next_grid = None
        self.scheduled_capture = 0
        self.last_region_end_model = None
        self.queued.clear()

    def next_step_number(self) -> int:
        return self.last_step + 1

    def regrid(self, old: Geometry, new: Geometry) -> None:
        """``r`` or ``w`` changed: the output continues where the last region ended. The next
        step is the one of the new grid whose region contains that end (its region starts
        exactly there whenever the end lies on the new grid: no gap, no overlap); its capture
        point may have passed already, then it is ready at once. Numbering carries on."""
        if self.next_grid is None:
            return
        if self.last_region_end_model is None:
            self.next_grid = None  # nothing issued yet: start from the new first step
            return
        if new == old:
            return
        end = self.last_region_end_model
        self.next_grid = max(self.first_grid(new),
                             end // new.hop_samples - new.lookahead)
        self.offset = self.last_step + 1 - self.next_grid

    def _window_start(self, geometry: Geometry, grid: int) -> int:
        return self.session.clock_map.to_client(geometry.window(grid)[0])

    def needed_from(self) -> int:
        """Lowest client position a queued or future step still reads."""
        s = self.session
        g = s.geometry
        grid = self.next_grid if self.next_grid is not None else self.first_grid(g)
        lowest = self._window_start(g, grid)
        if self.queued:
            lowest = min(lowest, min(self.queued.values()))
        # Half a window more: after a smaller r the next window reaches further back.
        keep = s.clock_map.to_client(g.window_samples) // 2
        return lowest - keep - (s.resampler.margin + s.resampler.client_quantum + 8)

    def poll(self, now: float, grace: float) -> list[StepJob[S]]:
        """Steps that became ready since the last poll, in order."""
        s = self.session
        if not s.started or s.closed:
            return []
        g = s.geometry
        cm = s.clock_map
        realtime = s.settings.realtime
        if self.next_grid is None:
            # A fresh session numbers steps by their grid index k (PROTOCOL.md); after a
            # reset or a new grid the numbering carries on from the last step.
            self.next_grid = self.first_grid(g)
            self.offset = 0 if self.last_step < 0 else self.last_step + 1 - self.next_grid
        jobs: list[StepJob[S]] = []
        watch = s.capture_position(now) if realtime else None
        for _ in range(MAX_STEPS_PER_POLL):
            grid = self.next_grid
            n_model = g.step_position(grid)
            capture = cm.to_client(n_model)
            ready = s.mark >= capture or s.received(self.scheduled_capture, capture)
            if not ready and watch is not None:
                ready = watch >= capture + grace * s.client_rate
            if not ready:
                break
            region = cm.client_span(*g.region(grid))
            step = grid + self.offset
            job = StepJob(
                session=s, epoch=s.epoch, grid=grid, step=step, geometry=g, capture=capture,
                region=region, window_start=self._window_start(g, grid), ready_at=now,
                realtime=realtime, requested_steps=s.settings.steps)
            self.next_grid = grid + 1
            self.last_step = step
            self.scheduled_capture = capture
            self.last_region_end_model = g.region(grid)[1]
            self.queued[step] = job.window_start
            jobs.append(job)
        return jobs

    def built(self, job: StepJob[S]) -> None:
        """The engine has read the job's input (or dropped the job)."""
        self.queued.pop(job.step, None)

    def requeue(self, job: StepJob[S]) -> None:
        """``job`` runs again (a refinement): keep its window's input until it is built."""
        self.queued[job.step] = job.window_start


class CostModel:
    """Running estimate of one model call's time for ``num_steps`` sampling steps on ``items``
    stems in all (the stems of every session in the batch):
    ``(fixed + per_step · num_steps) · (1 + batch_slope · (items − 1))``.

    ``fixed`` and ``per_step`` are a least-squares fit over recent one-item calls (all calls,
    scaled back to one item, when there are none); with a single ``num_steps`` seen so far the
    cost is taken as proportional to it (the conservative choice when degrading).
    ``batch_slope`` is what each further item adds, as a share of one item's cost: the median
    over recent calls of several items. It starts at 1 (a batch costs the sum of its items, as
    on a CPU) until such calls are seen; on a GPU it falls towards 0 and batches grow.
    """

    #: batch_slope before any call of several items has been seen.
    PRIOR_SLOPE = 1.0

    def __init__(self, history: int = 64) -> None:
        self._obs: deque[tuple[int, int, float]] = deque(maxlen=history)
        # (fixed, per_step, batch_slope) of the current observations: predict() runs many
        # times per batch under the server's lock, the fits only after a new observation.
        self._fitted: tuple[float, float, float] | None = None

    def observe(self, num_steps: int, seconds: float, items: int = 1) -> None:
        self._obs.append((num_steps, max(1, items), max(0.0, seconds)))
        self._fitted = None

    @property
    def known(self) -> bool:
        return bool(self._obs)

    @staticmethod
    def _fit(obs: list[tuple[int, float]]) -> tuple[float, float]:
        if not obs:
            return 0.0, 0.0
        s = np.array([o[0] for o in obs], np.float64)
        t = np.array([o[1] for o in obs], np.float64)
        if np.ptp(s) == 0:
            return 0.0, float(np.mean(t / s))
        per_step, fixed = np.polyfit(s, t, 1)
        if per_step < 0:  # noisy fit: fall back to proportional
            return 0.0, float(np.mean(t / s))
        return max(0.0, float(fixed)), float(per_step)

    def _single_fit(self) -> tuple[float, float] | None:
        single = [(s, t) for s, n, t in self._obs if n == 1]
        return self._fit(single) if single else None

    def _fit_all(self) -> tuple[float, float, float]:
        if self._fitted is None:
            fixed, per_step = self._coefficients()
            self._fitted = (fixed, per_step, self._batch_slope())
        return self._fitted

    def batch_slope(self) -> float:
        """What each further item adds to a call, as a share of one item's cost."""
        return self._fit_all()[2]

    def coefficients(self) -> tuple[float, float]:
        """``(fixed, per_step)`` of a one-item call."""
        fixed, per_step, _ = self._fit_all()
        return fixed, per_step

    def _batch_slope(self) -> float:
        base = self._single_fit()
        if base is None:
            return self.PRIOR_SLOPE
        fixed, per_step = base
        slopes = []
        for s, n, t in self._obs:
            one = fixed + per_step * s
            if n > 1 and one > 0:
                slopes.append((t / one - 1.0) / (n - 1))
        if not slopes:
            return self.PRIOR_SLOPE
        return float(np.clip(np.median(slopes), 0.0, 2.0))

    def _coefficients(self) -> tuple[float, float]:
        base = self._single_fit()
        if base is not None:
            return base
        slope = self.PRIOR_SLOPE
        return self._fit([(s, t / (1.0 + slope * (n - 1))) for s, n, t in self._obs])

    def predict(self, num_steps: int, items: int = 1) -> float:
        fixed, per_step, slope = self._fit_all()
        factor = 1.0 if items <= 1 else 1.0 + slope * (items - 1)
        return (fixed + per_step * num_steps) * factor


def refine_fits(job: StepJob, now: float, cost: CostModel, send_time: float = 0.0) -> bool:
    """Whether a full-quality re-run of a quickly served step is worth starting now: it must
    arrive before the region has finished playing (its ``final`` chunks replace the quick ones
    not played yet) and leave the session's next step (due one hop later) time to run at
    least one sampling step before its own deadline."""
    if job.deadline is None or not cost.known:
        return False
    items = max(1, len(job.session.settings.stems))
    needed = (cost.predict(job.requested_steps, items) + cost.predict(1, items)
              + 2 * send_time + SAFETY)
    return needed <= job.time_to_end(now)


def choose_num_steps(requested: int, time_left: float, cost: CostModel,
                     send_time: float = 0.0, items: int = 1) -> int:
    """The most sampling steps (<= requested, >= 1) predicted to finish within ``time_left``
    seconds for a call on ``items`` stems; 1 if none does (the step will be late and
    counted)."""
    if not cost.known or time_left == float("inf"):
        return requested
    budget = time_left - send_time - SAFETY
    steps = requested
    while steps > 1 and cost.predict(steps, items) > budget:
        steps -= 1
    return steps
