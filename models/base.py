"""The contract between the streaming drivers (live server, offline simulator) and a generator.

A :class:`Generator` owns a model. Drivers never touch tensors: per step they hand it the
client's audio over the step's window (already on the model clock) and get back the
generated region's audio per stem, plus ``xfade`` samples before the region for the
client's crossfade. Everything is in *model-clock samples*; resampling to and from the
client clock happens in the driver, in one place.

Shapes and units at this boundary:

* ``StepRequest.mixture``: ``float32 (geometry.window_samples,)``, mono, model clock, covering
  ``geometry.window(step)``. Samples at or after ``geometry.step_position(step)`` are the
  future: zero, and a generator must not look at them. Lost input and positions before 0
  are zero too.
* ``StepResult.audio[stem]``: ``float32 (xfade + geometry.hop_samples,)`` covering
  ``[region_start - xfade, region_end)``; ``StepResult.start == region_start - xfade``.

Determinism: the noise of each (stream seed, step, stem) comes from :func:`step_seed`, so a
step's output does not depend on which other streams were batched with it.
"""

from __future__ import annotations

import abc
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .geometry import Geometry, GeometryError

#: The stems a model can generate, in label order (the reference paper's grouping).
STEMS: tuple[str, ...] = ("bass", "drums", "guitar", "piano")
#: The largest guidance scale (mixture or beat grid) a request may ask for: the longer-trained
#: model reads the grid weakly and needs about 10 (its card).
MAX_GUIDANCE = 16.0


def guidance_allowed(value: float) -> bool:
    """Whether ``value`` is a guidance scale a request or a model's default may hold."""
    return math.isfinite(value) and 0.0 <= value <= MAX_GUIDANCE


#: What a beat-grid pipeline tracks the grid in without a host transport unless told
#: (``"onsets"``, or a directory of learned weights: :func:`~.tempo.envelope_for`).
DEFAULT_BEAT_TRACKER = "learned"

#: Heard audio quieter than this (dBFS, the loudest 1024-sample frame's RMS) is silence.
SILENCE_DBFS = -60.0


def heard_silence(mixture: np.ndarray, known: int, seconds: float, sample_rate: int, *,
                  heard_from: int = 0) -> bool:
    """Whether the last ``seconds`` heard (``mixture[heard_from:known]``: before
    ``heard_from`` the stream had not started) hold nothing louder than
    :data:`SILENCE_DBFS`: the performer has stopped, or has not started. Less than
    ``seconds`` heard is never silence (a stream's first steps have heard too little to
    tell)."""
    if seconds <= 0:
        return False
    known = int(min(max(known, 0), mixture.shape[-1]))
    need = round(seconds * sample_rate)
    if known - max(heard_from, 0) < need:
        return False
    tail = np.asarray(mixture[known - need:known], np.float64)
    whole = tail.size // 1024 * 1024  # frames end at the newest sample
    frames = tail[tail.size - whole:].reshape(-1, 1024) if whole else tail[None]
    loudest = float(np.sqrt((frames ** 2).mean(axis=1)).max())
    return loudest < 10.0 ** (SILENCE_DBFS / 20.0)


def network_copies(guidance: float, grid_guidance: float, uses_beat_grid: bool) -> int:
    """How many copies of an item every network call evaluates: the conditional one, plus one
    for mixture guidance and one for grid guidance (beat-grid models) when in use."""
    return 1 + (guidance != 1) + (uses_beat_grid and grid_guidance != 1)


class GeneratorError(RuntimeError):
    """A generator cannot be built or cannot serve a request (clear message, no traceback)."""


@dataclass(frozen=True)
class Transport:
    """Tempo from the client's transport, on the model clock.

    Attributes:
        bpm: beats per minute (> 0).
        beat_position: a model-clock sample position where a beat falls.
        beats_per_bar: beats in a bar (time signature numerator).
        beat_in_bar: which beat of the bar falls at ``beat_position`` (0 = downbeat).
    """

    bpm: float
    beat_position: int
    beats_per_bar: int = 4
    beat_in_bar: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bpm) and 20.0 <= self.bpm <= 400.0):
            raise ValueError(f"bpm must be in [20, 400], got {self.bpm!r}")
        if not (1 <= self.beats_per_bar <= 16):
            raise ValueError(f"beats_per_bar must be in [1, 16], got {self.beats_per_bar!r}")
        if not (0 <= self.beat_in_bar < self.beats_per_bar):
            raise ValueError(
                f"beat_in_bar must be in [0, {self.beats_per_bar}), got {self.beat_in_bar!r}"
            )

    def samples_per_beat(self, sample_rate: int) -> float:
        return 60.0 * sample_rate / self.bpm

    def beat_phase(self, positions: np.ndarray, sample_rate: int) -> np.ndarray:
        """Beats elapsed since ``beat_position`` at each model sample position (float)."""
        return (np.asarray(positions, dtype=np.float64) - self.beat_position) / (
            self.samples_per_beat(sample_rate)
        )

    def bar_phase(self, positions: np.ndarray, sample_rate: int) -> np.ndarray:
        """Position within the bar in beats, in ``[0, beats_per_bar)``."""
        return np.mod(self.beat_phase(positions, sample_rate) + self.beat_in_bar,
                      self.beats_per_bar)


@dataclass(frozen=True)
class ModelInfo:
    """What a driver must know about a generator (also sent to clients at handshake).

    ``sample_rate=None`` marks a diagnostic generator that runs on the client's own clock.
    ``trained_hop_frames`` / ``trained_lookaheads`` are the (r, w) grid the model saw in
    training; other settings are allowed when the geometry fits, with a warning.
    """

    name: str
    sample_rate: int | None
    hop_length: int
    window_frames: int
    stems: tuple[str, ...]
    trained_hop_frames: tuple[int, ...]
    trained_lookaheads: tuple[int, ...]
    uses_beat_grid: bool = False
    default_steps: int = 2
    max_steps: int = 8
    #: the grid-guidance scale this model was measured best at (1 = off; beat-grid models)
    default_grid_guidance: float = 1.0

    def geometry(self, *, hop_frames: int, lookahead: int, client_rate: int | None = None
                 ) -> Geometry:
        rate = self.sample_rate if self.sample_rate is not None else client_rate
        if rate is None:
            raise GeometryError(f"{self.name} runs on the client clock: give client_rate")
        return Geometry(
            sample_rate=rate,
            hop_length=self.hop_length,
            window_frames=self.window_frames,
            hop_frames=hop_frames,
            lookahead=lookahead,
        )


class StreamState:
    """Per-stream generation state (e.g. the latent generated so far). Opaque to drivers."""

    def reset(self) -> None:
        """Forget everything generated so far; the next step starts from silence."""


@dataclass
class StepRequest:
    """One step of one stream. See the module docstring for shapes and units."""

    stream: StreamState
    step: int
    geometry: Geometry
    mixture: np.ndarray
    stems: tuple[str, ...]
    num_steps: int
    seed: int = 0
    variation: float = 1.0
    #: mixture guidance (classifier-free guidance on the heard mix): 1 = off; ``g`` makes
    #: the estimate ``D_mix + (g - 1)·(D_mix - D_no_mix)``, at twice the network's work
    guidance: float = 1.0
    #: grid guidance (classifier-free guidance on the beat grid, beat-grid models): 1 = off;
    #: ``g`` adds ``(g - 1)·(D - D_no_grid)``, one more network pass per item
    grid_guidance: float = 1.0
    xfade: int = 0
    #: the host's transport (wins when given)
    transport: Transport | None = None
    #: without a host transport, track the beat in the known mixture (:mod:`~.tempo`) and
    #: give a beat-grid model that grid
    track_beats: bool = False
    #: when the last ``stop_seconds`` heard of the mixture are silent (:func:`heard_silence`),
    #: the parts stop too: the step's region is silence (0: never; diagnostic generators
    #: ignore it)
    stop_seconds: float = 0.0

    @property
    def region(self) -> tuple[int, int]:
        return self.geometry.region(self.step)

    @property
    def output_start(self) -> int:
        return self.region[0] - self.xfade

    def validate(self, info: ModelInfo) -> None:
        """Raise :class:`GeneratorError` naming what is wrong and what is allowed."""
        g = self.geometry
        if info.sample_rate is not None and g.sample_rate != info.sample_rate:
            raise GeneratorError(f"geometry at {g.sample_rate} Hz, model runs at "
                                 f"{info.sample_rate} Hz")
        if g.hop_length != info.hop_length or g.window_frames != info.window_frames:
            raise GeneratorError(
                f"geometry hop_length={g.hop_length}, window_frames={g.window_frames} does not "
                f"match the model's {info.hop_length}, {info.window_frames}"
            )
        if self.mixture.shape != (g.window_samples,):
            raise GeneratorError(
                f"mixture must have shape ({g.window_samples},), got {self.mixture.shape}"
            )
        if not self.stems:
            raise GeneratorError("no stems requested")
        unknown = [s for s in self.stems if s not in info.stems]
        if unknown:
            raise GeneratorError(f"unknown stems {unknown}; this model generates {info.stems}")
        if not (math.isfinite(self.stop_seconds) and self.stop_seconds >= 0):
            raise GeneratorError(f"stop_seconds must be >= 0 (0: never), got "
                                 f"{self.stop_seconds!r}")
        for name in ("guidance", "grid_guidance"):
            value = getattr(self, name)
            if not guidance_allowed(value):
                raise GeneratorError(f"{name} must be in [0, {MAX_GUIDANCE:g}], got {value!r}")
        if not (1 <= self.num_steps <= info.max_steps):
            raise GeneratorError(f"num_steps must be in [1, {info.max_steps}], "
                                 f"got {self.num_steps}")
        if not (0 <= self.xfade <= g.window_samples - g.hop_samples):
            raise GeneratorError(
                f"xfade must be in [0, {g.window_samples - g.hop_samples}] samples, "
                f"got {self.xfade}"
            )


@dataclass
class StepResult:
    """Generated audio of one step: per stem, ``[start, start + xfade + hop_samples)``."""

    start: int
    audio: dict[str, np.ndarray]
    num_steps: int
    timings: dict[str, float] = field(default_factory=dict)
    #: the beat grid the model was given: the host's, one tracked in the input, or none
    grid: Transport | None = None
    grid_source: str = "none"  # "host", "tracked" or "none"


class Generator(abc.ABC):
    """A model that fills one step's region for one or several streams at once."""

    info: ModelInfo

    @abc.abstractmethod
    def new_stream(self) -> StreamState:
        """Fresh per-stream state (one per client session, or per simulated song)."""

    @abc.abstractmethod
    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        """Generate every request's region; batch them into one model call where possible.

        Results come back in request order. Each request's stream state advances past its
        step. Raises :class:`GeneratorError` for a request that breaks the contract.
        """


def song_seed(seed: int, song_id: str, *, reseed: bool = False) -> int:
    """A song's own stream seed (int32 range) in an evaluation, from the run's ``seed`` and the
    song id, so songs do not share noise; ``reseed``: another seed for the same song (the
    seed-to-seed change the conditioning sensitivity compares with)."""
    key = f"{song_id}/reseed" if reseed else song_id
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def step_seed(seed: int, step: int, stem: str) -> int:
    """The 63-bit noise seed of (stream seed, step, stem); independent of batching."""
    digest = hashlib.blake2b(f"{seed}:{step}:{stem}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)
