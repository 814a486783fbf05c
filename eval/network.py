"""Seeded network impairment, the decisions: what happens to each datagram of a direction.

:class:`Impairment` describes one direction (loss, bursts of loss as a Gilbert–Elliott
channel, duplicates, reordering, jitter, delay, a bandwidth limit); :class:`Decider` draws
the fate of its datagrams from a seed, so the n-th datagram's fate depends only on the seed.
The simulator (:mod:`.simulate`) and the UDP proxy of the soak
(:class:`sideman.bench.impair.ImpairProxy`) use the same decisions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Impairment:
    """What happens to datagrams in one direction (probabilities per datagram, seconds)."""

    loss: float = 0.0  #: loss probability (in the good state when bursts are on)
    duplicate: float = 0.0
    reorder: float = 0.0  #: probability a datagram is held back by ``reorder_delay``
    reorder_delay: float = 0.01
    jitter: float = 0.0  #: extra delay drawn uniformly from [0, jitter]
    delay: float = 0.0  #: fixed delay
    burst_enter: float = 0.0  #: P(good -> bad) per datagram (0: no bursts)
    burst_exit: float = 1.0  #: P(bad -> good) per datagram: mean burst 1/burst_exit datagrams
    burst_loss: float = 1.0  #: loss probability in the bad state
    rate: float = 0.0  #: bandwidth in bytes per second (0: unlimited)
    queue: float = 0.5  #: with ``rate``: a datagram that would wait longer is dropped

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder", "burst_enter", "burst_exit",
                     "burst_loss"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if self.burst_enter > 0 and self.burst_exit == 0:
            raise ValueError("burst_exit must be > 0 when bursts are on (else the channel "
                             "stays bad forever)")
        for name in ("reorder_delay", "jitter", "delay", "rate", "queue"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def with_bursts(cls, loss: float, mean_burst: float, **others: float) -> Impairment:
        """Bursty loss: every loss falls in bursts of ``mean_burst`` datagrams on average
        (geometric lengths) and ``loss`` of all datagrams are lost in the long run."""
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss must be in [0, 1), got {loss}")
        if mean_burst < 1.0:
            raise ValueError(f"mean_burst must be >= 1 datagram, got {mean_burst}")
        exit_ = 1.0 / mean_burst
        return cls(loss=0.0, burst_enter=loss * exit_ / (1.0 - loss), burst_exit=exit_,
                   burst_loss=1.0, **others)

    @property
    def expected_loss(self) -> float:
        """Long-run fraction of datagrams lost (before any bandwidth queue drops)."""
        if self.burst_enter == 0:
            return self.loss
        bad = self.burst_enter / (self.burst_enter + self.burst_exit)
        return (1.0 - bad) * self.loss + bad * self.burst_loss


@dataclass(frozen=True)
class Fate:
    """The decision for one datagram: delivery delays (empty: lost), whether it was held back
    for reordering, whether the channel was in its bad (burst) state."""

    delays: list[float]
    held: bool
    burst: bool


class Decider:
    """The seeded decisions of one direction."""

    def __init__(self, impairment: Impairment, seed: int) -> None:
        self.impairment = impairment
        self.rng = random.Random(seed)
        self.bad = False

    def fate(self) -> Fate:
        imp = self.impairment
        rng = self.rng
        # Draw every number for every datagram, so one decision never shifts the next ones.
        u_loss = rng.random()
        dup = rng.random() < imp.duplicate
        held = rng.random() < imp.reorder
        jitters = (rng.uniform(0.0, imp.jitter), rng.uniform(0.0, imp.jitter))
        u_state = rng.random()
        burst = self.bad
        lost = u_loss < (imp.burst_loss if burst else imp.loss)
        # The channel state for the next datagram (Gilbert–Elliott).
        self.bad = u_state >= imp.burst_exit if burst else u_state < imp.burst_enter
        if lost:
            return Fate([], held, burst)
        first = imp.delay + jitters[0] + (imp.reorder_delay if held else 0.0)
        delays = [first, imp.delay + jitters[1]] if dup else [first]
        return Fate(delays, held, burst)

    def decide(self) -> list[float]:
        """Delivery delays of the next datagram (empty: lost)."""
        return self.fate().delays
