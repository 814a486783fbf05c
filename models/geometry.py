"""Streaming geometry: window, hop and look-ahead in whole latent frames, on exact sample clocks.

Everything that crosses the sample/latent boundary is derived here, once (docs/PROTOCOL.md,
"Geometry in one paragraph", says it for the wire). Two clocks exist:

* the **model clock**: the codec's sample rate ``sample_rate``; one latent frame is
  ``hop_length`` samples; the window T and the hop H are whole numbers of frames, so the
  latent shift and the audio shift of a step can never drift apart;
* the **client clock**: the patch's sample rate. Positions on the wire are absolute client
  sample indices. :class:`ClockMap` converts model positions to client positions by one
  explicit rounding rule, applied to region *boundaries* only, so consecutive regions tile
  the client timeline with no gap and no overlap whatever the two rates are.

Step ``k`` happens when the client has captured audio up to model sample ``n_k = k·H``.
It generates the region ``[n_k + w·H, n_k + (w+1)·H)``; its model window is the T frames
that end where that region ends. ``w = -1`` is retrospective, ``0`` immediate, ``1`` the
live look-ahead, ``≥ 2`` deeper look-ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

MIN_LOOKAHEAD = -1


class GeometryError(ValueError):
    """A geometry that does not fit whole latent frames or the model's window."""


def hop_frames_for_ratio(r: float, window_frames: int, *, exact: bool = False) -> int:
    """Turn a hop ratio ``r = H/T`` into a whole number of latent frames.

    With ``exact=True`` a ratio that is not a whole number of frames is refused; otherwise it
    is rounded to the nearest frame (callers report the rounding: see :func:`describe_rounding`).
    """
    if not (0.0 < r <= 1.0) or not math.isfinite(r):
        raise GeometryError(f"r must be in (0, 1], got {r!r}")
    ideal = r * window_frames
    frames = max(1, round(ideal))
    if exact and abs(frames - ideal) > 1e-9:
        raise GeometryError(
            f"r={r} is {ideal:.4f} latent frames of a {window_frames}-frame window, not a whole "
            f"number; nearest allowed: r={frames / window_frames} ({frames} frames)"
        )
    return frames


def describe_rounding(r: float, window_frames: int) -> str | None:
    """A human-readable note if ``r`` had to be rounded to whole frames, else ``None``."""
    frames = hop_frames_for_ratio(r, window_frames)
    actual = frames / window_frames
    if abs(actual - r) <= 1e-9:
        return None
    return f"r={r} rounded to {actual} ({frames} latent frames of {window_frames})"


@dataclass(frozen=True)
class Geometry:
    """Window, hop and look-ahead of one stream, on the model clock.

    Attributes:
        sample_rate: model (codec) sample rate in Hz.
        hop_length: model samples per latent frame.
        window_frames: context window T in latent frames.
        hop_frames: hop H in latent frames (``H = r·T``).
        lookahead: w, in hops (``-1`` retrospective ... ``≥ 2`` deep look-ahead).
    """

    sample_rate: int
    hop_length: int
    window_frames: int
    hop_frames: int
    lookahead: int

    def __post_init__(self) -> None:
        for name in ("sample_rate", "hop_length", "window_frames", "hop_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise GeometryError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.lookahead, int) or self.lookahead < MIN_LOOKAHEAD:
            raise GeometryError(f"w must be an int >= {MIN_LOOKAHEAD}, got {self.lookahead!r}")
        if self.hop_frames > self.window_frames:
            raise GeometryError(
                f"hop ({self.hop_frames} frames) exceeds the window ({self.window_frames} frames)"
            )
        # The window ends where the generated region ends; it must still hold at least one
        # hop of known mixture before the masked future: (w + 2)·H <= T.
        if (self.lookahead + 2) * self.hop_frames > self.window_frames:
            raise GeometryError(
                f"(w+2)*r must be <= 1: w={self.lookahead}, r={self.r:g} leaves no known "
                f"context in a {self.window_frames}-frame window; "
                f"max w for this r is {self.max_lookahead(self.window_frames, self.hop_frames)}"
            )

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_ratio(
        cls,
        *,
        sample_rate: int,
        hop_length: int,
        window_frames: int,
        r: float,
        w: int,
        exact: bool = False,
    ) -> Geometry:
        """Build from a hop ratio; see :func:`hop_frames_for_ratio` for rounding."""
        return cls(
            sample_rate=sample_rate,
            hop_length=hop_length,
            window_frames=window_frames,
            hop_frames=hop_frames_for_ratio(r, window_frames, exact=exact),
            lookahead=w,
        )

    @staticmethod
    def max_lookahead(window_frames: int, hop_frames: int) -> int:
        """Largest w with ``(w + 2)·H <= T``."""
        return window_frames // hop_frames - 2

    # -- sizes --------------------------------------------------------------------------
    @property
    def r(self) -> float:
        return self.hop_frames / self.window_frames

    @property
    def window_samples(self) -> int:
        return self.window_frames * self.hop_length

    @property
    def hop_samples(self) -> int:
        return self.hop_frames * self.hop_length

    @property
    def hop_seconds(self) -> float:
        return self.hop_samples / self.sample_rate

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    @property
    def lookahead_seconds(self) -> float:
        """How far past the capture point the generated region starts (negative: behind)."""
        return self.lookahead * self.hop_seconds

    # -- step k, in model samples -------------------------------------------------------
    def step_position(self, k: int) -> int:
        """``n_k``: the capture position at which step k is due."""
        return k * self.hop_samples

    def region(self, k: int) -> tuple[int, int]:
        """``[n_k + w·H, n_k + (w+1)·H)``: the samples step k generates."""
        start = self.step_position(k) + self.lookahead * self.hop_samples
        return start, start + self.hop_samples

    def window(self, k: int) -> tuple[int, int]:
        """The model window of step k: T samples ending where the region ends."""
        end = self.region(k)[1]
        return end - self.window_samples, end

    def deadline_position(self, k: int) -> int:
        """The sample the client plays first from step k's region."""
        return self.region(k)[0]

    def last_step_ready(self, captured: int) -> int:
        """The latest step k whose capture position ``n_k`` is ``<= captured``."""
        return captured // self.hop_samples

    def known_mixture_frames(self) -> int:
        """Frames of the window where the client's audio is known (the rest is future)."""
        return self.window_frames - max(0, self.lookahead + 1) * self.hop_frames

    def known_target_frames(self) -> int:
        """Frames of the window before the region: generated by earlier steps."""
        return self.window_frames - self.hop_frames

    def frame_index(self, position: int) -> int:
        """Absolute latent frame index of a model sample position; must be on the frame grid."""
        if position % self.hop_length:
            raise GeometryError(
                f"position {position} is not on the {self.hop_length}-sample frame grid"
            )
        return position // self.hop_length

    def with_settings(self, *, hop_frames: int | None = None, lookahead: int | None = None
                      ) -> Geometry:
        return Geometry(
            sample_rate=self.sample_rate,
            hop_length=self.hop_length,
            window_frames=self.window_frames,
            hop_frames=self.hop_frames if hop_frames is None else hop_frames,
            lookahead=self.lookahead if lookahead is None else lookahead,
        )

    def describe(self) -> str:
        return (
            f"T={self.window_frames} frames ({self.window_seconds:.3f} s), "
            f"H={self.hop_frames} frames ({self.hop_samples} samples, {self.hop_seconds:.3f} s, "
            f"r={self.r:g}), w={self.lookahead} @ {self.sample_rate} Hz"
        )


@dataclass(frozen=True)
class ClockMap:
    """Exact conversion between model-clock and client-clock sample positions.

    ``to_client(p) = floor(p · client_rate / model_rate + 1/2)`` computed in integers. Apply
    it to region *boundaries*; a region ``[a, b)`` on the model clock is
    ``[to_client(a), to_client(b))`` on the client clock, so neighbouring regions share
    their boundary and tile the client timeline exactly. With equal rates it is the identity.
    """

    model_rate: int
    client_rate: int

    def __post_init__(self) -> None:
        if self.model_rate < 1 or self.client_rate < 1:
            raise GeometryError(
                f"sample rates must be positive, got {self.model_rate}, {self.client_rate}"
            )

    @property
    def identity(self) -> bool:
        return self.model_rate == self.client_rate

    @property
    def ratio(self) -> Fraction:
        """client samples per model sample."""
        return Fraction(self.client_rate, self.model_rate)

    def to_client(self, model_position: int) -> int:
        return (2 * model_position * self.client_rate + self.model_rate) // (2 * self.model_rate)

    def to_model(self, client_position: int) -> int:
        return (2 * client_position * self.model_rate + self.client_rate) // (2 * self.client_rate)

    def client_span(self, start: int, end: int) -> tuple[int, int]:
        """A model-clock region ``[start, end)`` as client-clock boundaries."""
        return self.to_client(start), self.to_client(end)
