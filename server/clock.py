"""Injectable clocks: the live server reads the monotonic wall clock, an offline driver a
simulated one. Every time the server, scheduler and engine use comes from a :class:`Clock`.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds on a monotonic time line."""

    def now(self) -> float: ...


class WallClock:
    """The process's monotonic clock (``time.monotonic``)."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A simulated clock that only moves when told to (offline drivers, tests)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s)")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            if when < self._now:
                raise ValueError(f"a clock cannot go back ({when} < {self._now})")
            self._now = when
