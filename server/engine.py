"""The engine: owns the generator, batches ready steps of all sessions, sends the results.

Ready :class:`~sideman.server.scheduler.StepJob` objects wait in a bounded queue. One call of
:meth:`Engine.process_ready` runs **one batch**: it drops superseded jobs (reporting
``/sideman/miss … superseded``), takes the oldest job of each session, decides each job's
sampling steps against its deadline (degrading when time is short), and runs the most urgent
job together with those that share its ``num_steps`` and do not make a member of the call
late (:meth:`Engine._admit`) in a single ``generator.generate([...])`` call. Each
result goes to the delivery (:class:`~.delivery.Delivery`: back on the client clock, cut
into datagrams no larger than the session's ``datagram`` setting, paced to the client in play
order, booked when its last datagram has left: timing, slack, miss, degradation).

The engine reads and books a session only through its port (:class:`~.session.Session`:
``read_window``, ``model_window``, ``mark_built``, ``work_items``, ``refinable``,
``queue_refinement``; the delivery adds ``generated``, ``output_datagrams`` and the
``book_*`` methods).

The live server calls :meth:`Engine.run` in its own thread (the receive loop never waits on
the model); an offline driver calls :meth:`Engine.process_ready` directly with a simulated
clock. Lock order: the server's lock, then the engine's queue lock, never the reverse.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from sideman.models.base import Generator, StepRequest, StepResult, network_copies
from sideman.models.tempo import pulse, warm_up

from .clock import Clock
from .delivery import Delivery, Pace
from .scheduler import SAFETY, CostModel, choose_num_steps, refine_fits
from .session import Address, SessionJob, StepInput
from .telemetry import ServerCounters

log = logging.getLogger(__name__)

#: Seconds over which the model time a session used counts for its fair share.
SHARE_WINDOW = 1.0

Emit = Callable[[bytes, Address], None]


@dataclass
class _Prepared:
    """A job with everything read from its session (under the lock) to run without it."""

    job: SessionJob
    num_steps: int
    final: bool
    degraded: bool
    input: StepInput

    @property
    def request(self) -> StepRequest:
        return self.input.request


class Engine:
    """Runs ready steps in batches on one generator."""

    def __init__(self, generator: Generator, *, clock: Clock, emit: Emit,
                 lock: threading.RLock, counters: ServerCounters, max_queue: int = 64,
                 max_batch: int = 8, cost: CostModel | None = None,
                 max_per_session: int = 16, pace: Pace | None = None) -> None:
        if max_queue < 1 or max_batch < 1 or max_per_session < 1:
            raise ValueError("max_queue, max_batch and max_per_session must be >= 1")
        self.generator = generator
        self.clock = clock
        self._lock = lock  # the server's lock (session state)
        self._cv = threading.Condition()
        self._jobs: deque[SessionJob] = deque()
        self._refines: deque[SessionJob] = deque()
        self.counters = counters
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.max_per_session = max_per_session
        #: session id -> (model seconds used, when), decaying: the fair-share ledger.
        self._usage: dict[int, tuple[float, float]] = {}
        self.cost = cost or CostModel()
        #: Where results go: cut, paced, booked (its sender's thread is started by the live
        #: server; until then a step is sent at once).
        self.delivery = Delivery(emit, clock, lock, counters, pace)

    # -- queue ---------------------------------------------------------------------------
    def pending(self) -> int:
        with self._cv:
            return len(self._jobs)

    def pending_for(self, session_id: int) -> int:
        with self._cv:
            return sum(1 for j in self._jobs if j.session.id == session_id)

    def submit(self, jobs: list[SessionJob]) -> None:
        """Queue ready jobs (caller holds the server's lock). A session holds at most
        ``max_per_session`` queued jobs (its oldest is superseded); when the whole queue is
        full, the oldest job of the session holding the most goes: one session's backlog
        never pushes out another's steps."""
        if not jobs:
            return
        overflow: list[SessionJob] = []
        with self._cv:
            counts: dict[int, int] = {}
            for job in self._jobs:
                counts[job.session.id] = counts.get(job.session.id, 0) + 1
            for job in jobs:
                self._jobs.append(job)
                counts[job.session.id] = counts.get(job.session.id, 0) + 1
            while True:
                heaviest = max(counts, key=counts.__getitem__)
                if (counts[heaviest] <= self.max_per_session
                        and len(self._jobs) <= self.max_queue):
                    break
                index = next(i for i, j in enumerate(self._jobs)
                             if j.session.id == heaviest)
                overflow.append(self._jobs[index])
                del self._jobs[index]
                counts[heaviest] -= 1
            self._cv.notify()
        for job in overflow:
            self._supersede(job, "overload")

    def wake(self) -> None:
        with self._cv:
            self._cv.notify()

    def drop_superseded(self, now: float) -> int:
        """Drop queued jobs that can no longer run (caller holds the server's lock)."""
        dropped: list[tuple[SessionJob, str]] = []
        with self._cv:
            for queue in (self._jobs, self._refines):
                keep: deque[SessionJob] = deque()
                for job in queue:
                    why = job.superseded(now)
                    if why is None:
                        keep.append(job)
                    else:
                        dropped.append((job, why))
                queue.clear()
                queue.extend(keep)
        for job, why in dropped:
            self._supersede(job, why)
        return len(dropped)

    def _supersede(self, job: SessionJob, why: str) -> None:
        """Report a dropped job (server lock held; :meth:`Delivery.supersede`)."""
        self.delivery.supersede(job, why)

    # -- running -------------------------------------------------------------------------
    def warmup(self, client_rate: int = 44100) -> dict[str, float]:
        """Run two throw-away steps (the model's default sampling steps, then one) so the
        first real step is not slowed by lazy initialisation and the cost model can degrade
        it correctly; then, when the model has two stems or more, one call of one step on two
        stems, so the cost model knows what a batch costs on this hardware before deciding
        whether sessions can share a call. Returns seconds per call, by a label of the call
        (``"2 steps"``, ``"1 step"``, ``"1 step, 2 stems"``)."""
        info = self.generator.info
        frames = max(1, info.window_frames // 4)
        geometry = info.geometry(hop_frames=frames, lookahead=min(1, info.window_frames //
                                                                  frames - 2),
                                 client_rate=info.sample_rate or client_rate)
        calls = [(n, 1) for n in sorted({info.default_steps, 1}, reverse=True)]
        if len(info.stems) >= 2:
            calls.append((1, 2))
        seconds: dict[str, float] = {}
        if info.uses_beat_grid:
            # the beat tracker's first use compiles (numba, seconds): here, untimed, not in
            # the cost model's figures (it would refuse live hops) nor in a session's step
            warm_up(geometry.sample_rate)
        # a steady pulse with beat tracking on, so the figures include the tracker
        mixture = np.zeros(geometry.window_samples, np.float32)
        beat = pulse(geometry.sample_rate, geometry.window_samples / geometry.sample_rate)
        mixture[:beat.size] = beat[:mixture.size]
        for num_steps, stems in calls:
            request = StepRequest(
                stream=self.generator.new_stream(), step=0, geometry=geometry,
                mixture=mixture, stems=info.stems[:stems], num_steps=num_steps,
                track_beats=True)
            started = self.clock.now()
            self.generator.generate([request])
            label = f"{num_steps} step{'s' if num_steps > 1 else ''}"
            if stems > 1:
                label += f", {stems} stems"
            seconds[label] = self.clock.now() - started
            self.cost.observe(num_steps, seconds[label], items=stems)
        return seconds

    def process_ready(self) -> int:
        """Run one batch of ready steps; returns how many steps ran (0: nothing to do)."""
        now = self.clock.now()
        with self._lock:
            batch = self._take_batch(now)
            if not batch:
                return 0
            prepared = []
            for job, steps in batch:
                try:
                    prepared.append(self._prepare(job, steps))
                except Exception as exc:  # one session's state, one refusal
                    log.warning("step %d of session %d could not be prepared: %s", job.step,
                                job.session.id, exc)
                    job.session.mark_built(job)
            if not prepared:
                return len(batch)
        refused: list[tuple[_Prepared, str]] = []
        good: list[_Prepared] = []
        for p in prepared:
            try:
                why = self._invalid(self._request(p))
            except Exception as exc:  # one session's input, one refusal
                why = f"its input could not be prepared: {exc}"
            if why is None:
                good.append(p)
            else:
                refused.append((p, why))
        if refused:
            self._fail(refused)
        if not good:
            return len(prepared)
        started = self.clock.now()
        try:
            results = self._generate([p.request for p in good])
        except Exception as exc:
            if len(good) == 1:
                log.exception("model call failed")
                self._fail([(good[0], str(exc))])
                return len(prepared)
            # One request must not fail the others of its call: run each alone, so only
            # the one the model cannot do is refused.
            log.warning("model call of %d steps failed (%s); running them one by one",
                        len(good), exc)
            for p in good:
                started = self.clock.now()
                try:
                    result = self._generate([p.request])[0]
                except Exception as alone:
                    log.exception("model call failed")
                    self._fail([(p, str(alone))])
                    continue
                self._served([p], [result], started)
            return len(prepared)
        self._served(good, results, started)
        return len(prepared)

    def _generate(self, requests: list[StepRequest]) -> list[StepResult]:
        results = self.generator.generate(requests)
        if len(results) != len(requests):
            raise RuntimeError(f"generator returned {len(results)} results for "
                               f"{len(requests)} requests")
        return results

    def _invalid(self, request: StepRequest) -> str | None:
        """Why the model must not be given this request (checked alone, before the batched
        call, so that it cannot fail the call of other sessions); ``None`` if it may run."""
        try:
            request.validate(self.generator.info)
        except Exception as exc:  # reported, never raised
            return str(exc)
        if not np.all(np.isfinite(request.mixture)):
            return "the input is not finite after resampling"
        return None

    def _fail(self, failed: list[tuple[_Prepared, str]]) -> None:
        """Tell each session of ``failed`` its step could not be generated (error 8)."""
        with self._lock:
            for p, why in failed:
                self.delivery.model_error(p.job.session,
                                          f"the model failed on step {p.job.step}: {why}")

    def _served(self, prepared: list[_Prepared], results: list[StepResult],
                started: float) -> None:
        """Record one model call's cost and deliver its results."""
        generated = self.clock.now()
        self._charge(prepared, generated - started, generated)
        self.cost.observe(prepared[0].num_steps, generated - started,
                          items=sum(len(p.request.stems) * network_copies(
                              p.request.guidance, p.request.grid_guidance,
                              self.generator.info.uses_beat_grid) for p in prepared))
        self.counters.batches += 1
        self.counters.batched_steps += len(prepared)
        for p, result in zip(prepared, results, strict=True):
            try:
                self.delivery.deliver(p.job, p.input, result, num_steps=p.num_steps,
                                      final=p.final, degraded=p.degraded, started=started,
                                      batch=len(prepared), refine=self._queue_refinement)
            except Exception:  # one session's delivery must not stop the others'
                log.exception("step %d of session %d could not be delivered", p.job.step,
                              p.job.session.id)

    def _take_batch(self, now: float) -> list[tuple[SessionJob, int]]:
        """Pick the jobs of the next model call and their sampling steps (server lock held)."""
        superseded: list[tuple[SessionJob, str]] = []
        with self._cv:
            candidates: dict[int, SessionJob] = {}
            keep: deque[SessionJob] = deque()
            for job in self._jobs:
                why = job.superseded(now)
                if why is not None:
                    superseded.append((job, why))
                    continue
                keep.append(job)
                candidates.setdefault(job.session.id, job)
            self._jobs = keep
            refine = False
            if not candidates:
                keep = deque()
                for job in self._refines:
                    if (job.superseded(now) is None
                            and job.session.refinable(job)
                            and refine_fits(job, now, self.cost, self.delivery.send_time)):
                        keep.append(job)
                        candidates.setdefault(job.session.id, job)
                    else:
                        superseded.append((job, "refine"))
                self._refines = keep
                refine = True
        for job, why in superseded:
            self._supersede(job, why)
        if not candidates:
            return []
        decided = []
        for job in candidates.values():
            steps = job.requested_steps if refine else choose_num_steps(
                job.requested_steps, job.time_left(now), self.cost, self.delivery.send_time,
                items=self._items(job))
            decided.append((job, steps))
        over = self._over_share(decided, now)

        def order(d: tuple[SessionJob, int]) -> tuple[bool, float, float]:
            # Fair share first, then earliest deadline: a session that has had more than
            # its share of the model lately yields to one that has not.
            return d[0].session.id in over, d[0].time_left(now), d[0].ready_at

        urgent = min(decided, key=order)
        same = [d for d in decided if d[1] == urgent[1]]
        same.sort(key=order)
        batch = self._admit(same, now)
        chosen = {id(d[0]) for d in batch}
        with self._cv:
            queue = self._refines if refine else self._jobs
            remaining = deque(j for j in queue if id(j) not in chosen)
            if refine:
                self._refines = remaining
            else:
                self._jobs = remaining
        return batch

    def _usage_of(self, session_id: int, now: float) -> float:
        """Model seconds the session used lately (decaying with :data:`SHARE_WINDOW`)."""
        used, at = self._usage.get(session_id, (0.0, now))
        return used * math.exp(-(now - at) / SHARE_WINDOW) if now > at else used

    def _charge(self, prepared: list[_Prepared], seconds: float, now: float) -> None:
        """Split one call's time between its sessions by their share of its work."""
        items = {p.job.session.id: self._items(p.job) for p in prepared}
        total = sum(items.values())
        for sid, n in items.items():
            self._usage[sid] = (self._usage_of(sid, now) + seconds * n / total, now)
        if len(self._usage) > 4 * self.max_queue:  # forget sessions long idle or gone
            self._usage = {sid: u for sid, u in self._usage.items()
                           if self._usage_of(sid, now) > 1e-6}

    def _over_share(self, decided: list[tuple[SessionJob, int]], now: float) -> set[int]:
        """Sessions among the candidates that used more model time lately than the least
        served candidate plus one call of theirs: they go after the others."""
        usage = {d[0].session.id: self._usage_of(d[0].session.id, now) for d in decided}
        if len(usage) < 2:
            return set()
        floor = min(usage.values())
        over = set()
        for job, steps in decided:
            sid = job.session.id
            if usage[sid] > floor + self.cost.predict(steps, self._items(job)):
                over.add(sid)
        return over

    def _admit(self, candidates: list[tuple[SessionJob, int]], now: float
               ) -> list[tuple[SessionJob, int]]:
        """The jobs of the next call: the most urgent one, then each further candidate (most
        urgent first, up to ``max_batch``) whose stems do not make a member late that would
        be on time without them. A batch is one call for all its stems, so its cost grows
        with them (:class:`CostModel`: linearly on a CPU, little on a GPU); a job left out
        runs in the next call. Offline jobs have no deadline and always join."""
        num_steps = candidates[0][1]
        batch = [candidates[0]]
        items = self._items(candidates[0][0])
        for cand in candidates[1:]:
            if len(batch) >= self.max_batch:
                break
            trial = items + self._items(cand[0])
            before = self._finish(num_steps, items, len(batch))
            after = self._finish(num_steps, trial, len(batch) + 1)
            harmed = any(before <= job.time_left(now) < after for job, _ in batch)
            if not harmed:
                batch.append(cand)
                items = trial
        if len(batch) < min(len(candidates), self.max_batch):
            self.counters.batch_deferred += min(len(candidates), self.max_batch) - len(batch)
        return batch

    def _items(self, job: SessionJob) -> int:
        """What a job adds to a call's work (:meth:`Session.work_items`)."""
        return job.session.work_items(self.generator.info.uses_beat_grid)

    def _finish(self, num_steps: int, items: int, jobs: int) -> float:
        """Predicted seconds from now until the last of ``jobs`` jobs of a call is sent."""
        return self.cost.predict(num_steps, items) + self.delivery.send_time * jobs + SAFETY

    def _prepare(self, job: SessionJob, num_steps: int) -> _Prepared:
        """Read what the step needs from its session (server lock held)."""
        step = job.session.read_window(job, num_steps)
        degraded = num_steps < job.requested_steps
        final = job.refine or not (degraded and step.refine_quick)
        return _Prepared(job=job, num_steps=num_steps, final=final, degraded=degraded,
                         input=step)

    def _request(self, p: _Prepared) -> StepRequest:
        """The window on the model clock (no lock: resampling can take milliseconds)."""
        p.request.mixture = p.job.session.model_window(p.job, p.input)
        return p.request

    def _queue_refinement(self, job: SessionJob) -> None:
        """A quick first version went out: its full-quality re-run waits for idle time
        (server lock held)."""
        job.session.queue_refinement(job)
        with self._cv:
            self._refines.append(replace(job, refine=True))

    def run(self, stop: threading.Event, idle_wait: float = 0.05) -> None:
        """The engine thread: run batches until ``stop`` is set."""
        while not stop.is_set():
            with self._cv:
                if not self._jobs and not self._refines:
                    self._cv.wait(idle_wait)
            try:
                ran = self.process_ready()
            except Exception:  # never let one bad step kill the engine thread
                log.exception("engine step failed")
                ran = 0
            if not ran and self._refines:
                # Refinements wait for idle time; poll them gently.
                stop.wait(0.005)
