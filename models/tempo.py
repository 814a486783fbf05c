"""A beat grid from what the performer plays, for when the host sends no transport.

A model with the beat-grid input (:func:`~.conditioning.beat_planes`) follows the grid it is
given; without the host's transport it would get none and has to guess the timing of the
region it generates from the mix alone, which lies a hop or more past the last sample heard.
:func:`track_transport` runs librosa's beat tracker (Ellis 2007) over the known part of a
step's window and extends the beats it finds as one steady :class:`~.base.Transport` over
the region, so the grid always comes from what the model hears.

The bar is not tracked: ``beat_in_bar`` is 0 at the last tracked beat (the bar planes are
right in tempo, arbitrary in phase). A host transport, when sent, always wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import librosa
import numpy as np
import scipy.stats

from .base import Transport

if TYPE_CHECKING:
    from .beatnet import BeatNet

#: What the beat tracker runs over: mono audio and its rate → one value per
#: :data:`ONSET_HOP` samples (frame ``f`` centred on sample ``f·ONSET_HOP``). Librosa's onset
#: strength (:func:`onset_envelope`) or a learned beat activation (:func:`learned_envelope`).
Envelope = Callable[[np.ndarray, int], np.ndarray]

#: Less known audio than this (seconds) gives no grid: too few beats to set a tempo.
MIN_SECONDS = 2.5
#: Beats the grid's phase is fitted to (the latest ones: a tempo that drifts is followed).
FIT_BEATS = 8
#: Onset-envelope frame hop (samples at the model rate).
ONSET_HOP = 512
#: Below this onset-envelope peak (after librosa's normalisation) the input is near silent.
MIN_ONSET = 1e-3
#: How much heard audio a stream's tracker remembers (seconds).
MEMORY_SECONDS = 10.0
#: Envelope frames at a window's start that the window's edge distorts.
EDGE_FRAMES = 4
#: How strictly beats keep to one period (librosa's default 100): a steady grid is wanted.
TIGHTNESS = 100.0
#: The tempo is searched over this range (bpm) with a flat prior: on a clean beat activation
#: every multiple of the period correlates as well as the period itself, and librosa's
#: default prior (log-normal about 120 bpm) then halves fast songs.
TEMPO_RANGE = (55.0, 210.0)
#: Each tracked beat moves to the envelope's peak within this many frames (sub-frame).
REFINE_FRAMES = 2


def pulse(sample_rate: int, seconds: float, *, bpm: float = 120.0, first: float = 0.0
          ) -> np.ndarray:
    """Decaying noise bursts (a hi-hat-like pulse) at ``first + k·60/bpm`` seconds: a signal
    with a known beat, for warming the tracker up (numba compiles it on first use, ~5 s)
    and for tests."""
    audio = np.zeros(int(seconds * sample_rate), np.float32)
    length = max(1, sample_rate // 50)
    burst = np.random.default_rng(0).standard_normal(length).astype(np.float32)
    burst *= np.exp(-np.arange(length) / (length / 7)).astype(np.float32)
    t = first
    while round(t * sample_rate) + length <= audio.size:
        i = round(t * sample_rate)
        audio[i:i + length] += burst
        t += 60.0 / bpm
    return audio


def warm_up(sample_rate: int = 22050) -> None:
    """Track a steady pulse once, so numba's compilation (seconds) is paid now rather than in
    a live session's first step (a server's engine warm-up does this with its own model)."""
    audio = pulse(sample_rate, MIN_SECONDS + 1.0)
    track_transport(audio, sample_rate, known=audio.size, start=0)


def track_transport(audio: np.ndarray, sample_rate: int, *, known: int, start: int,
                    beats_per_bar: int = 4, envelope: Envelope | None = None
                    ) -> Transport | None:
    """The transport that the known audio implies, on the model clock.

    ``audio`` is a window's mixture at ``sample_rate`` whose first ``known`` samples were
    heard, its sample 0 at absolute model-clock position ``start``. Returns ``None`` when too
    little was heard (:data:`MIN_SECONDS`), the input is silent, or fewer than three beats are
    found (:func:`grid_from_envelope`). ``envelope`` defaults to :func:`onset_envelope`.
    """
    heard = _heard(audio, known)
    if heard is None or heard.size < MIN_SECONDS * sample_rate:
        return None
    return grid_from_envelope((envelope or onset_envelope)(heard, sample_rate), sample_rate,
                              start=start, beats_per_bar=beats_per_bar)


def _heard(audio: np.ndarray, known: int) -> np.ndarray | None:
    known = int(min(max(known, 0), audio.shape[-1]))
    heard = np.asarray(audio[:known], dtype=np.float32)
    if not np.isfinite(heard).all() or float(np.abs(heard).max(initial=0.0)) == 0.0:
        return None
    return heard


def onset_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """librosa's onset strength, one value per :data:`ONSET_HOP` samples (frame ``f`` at
    sample ``f·ONSET_HOP``)."""
    return librosa.onset.onset_strength(y=audio, sr=sample_rate, hop_length=ONSET_HOP)


def learned_envelope(net: BeatNet) -> Envelope:
    """The beat activation of a :class:`~.beatnet.BeatNet` as an :data:`Envelope` (its
    rate and hop must be the stream's and :data:`ONSET_HOP`: :func:`envelope_for` checks)."""

    def envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return net.activation(audio)[0]

    return envelope


#: ``beat_tracker`` choices besides a directory of learned weights.
BEAT_TRACKERS = ("learned", "onsets")


def envelope_for(choice: str, sample_rate: int) -> tuple[Envelope, str]:
    """The envelope a stream at ``sample_rate`` tracks beats in, and its name: ``"learned"``
    (the shipped :class:`~.beatnet.BeatNet`), ``"onsets"`` (librosa's onset strength) or a
    directory of learned weights. A learned tracker made for another rate or hop falls back
    to the onsets, and says so in the name."""
    from .beatnet import DEFAULT_DIR, load_beat_net

    if choice == "onsets":
        return onset_envelope, "onsets"
    net = load_beat_net(DEFAULT_DIR if choice == "learned" else choice)
    if net.config.sample_rate != sample_rate or net.config.hop != ONSET_HOP:
        return onset_envelope, (f"onsets (the learned tracker is for {net.config.sample_rate} "
                                f"Hz, hop {net.config.hop}; the model runs at {sample_rate} "
                                f"Hz, hop {ONSET_HOP})")
    return learned_envelope(net), "learned"


def grid_from_envelope(envelope: np.ndarray, sample_rate: int, *, start: int,
                       beats_per_bar: int = 4) -> Transport | None:
    """The steady grid through the latest beats librosa's tracker finds in ``envelope``
    (frame 0 at absolute model-clock sample ``start``): its tempo estimate refined by the
    least-squares line through the last :data:`FIT_BEATS` beats (period and phase)."""
    if envelope.size == 0 or float(envelope.max(initial=0.0)) < MIN_ONSET:
        return None
    lo, hi = TEMPO_RANGE
    hint = float(librosa.feature.tempo(onset_envelope=envelope, sr=sample_rate,
                                       hop_length=ONSET_HOP,
                                       prior=scipy.stats.uniform(lo, hi - lo))[0])
    tempo, frames = librosa.beat.beat_track(onset_envelope=envelope, sr=sample_rate,
                                            hop_length=ONSET_HOP, trim=False,
                                            tightness=TIGHTNESS, bpm=hint)
    bpm = float(np.atleast_1d(tempo)[0])
    if frames.size < 3 or not 20.0 <= bpm <= 400.0:
        return None
    beats = _refine(envelope, frames)[-FIT_BEATS:] * ONSET_HOP
    # beat i lies on grid line n_i (counted in librosa's period from the last beat); the line
    # through (n_i, b_i) gives the period (local, free of librosa's tempo-bin rounding) and
    # the anchor
    guess = 60.0 * sample_rate / bpm
    lines = np.round((beats - beats[-1]) / guess)
    if np.ptp(lines) >= 2:
        period, anchor = np.polyfit(lines, beats, 1)
    else:
        period, anchor = guess, float(np.mean(beats - lines * guess))
    bpm = 60.0 * sample_rate / float(period)
    if not 20.0 <= bpm <= 400.0:
        return None
    return Transport(bpm=bpm, beat_position=round(start + float(anchor)),
                     beats_per_bar=beats_per_bar, beat_in_bar=0)


def _refine(envelope: np.ndarray, frames: np.ndarray, reach: int = REFINE_FRAMES
            ) -> np.ndarray:
    """Each beat moved to the envelope's local maximum within ``reach`` frames, at sub-frame
    precision (the vertex of the parabola through the peak and its neighbours)."""
    out = np.asarray(frames, float).copy()
    n = envelope.size
    for i, f in enumerate(frames):
        lo, hi = max(0, int(f) - reach), min(n, int(f) + reach + 1)
        p = lo + int(np.argmax(envelope[lo:hi]))
        if 0 < p < n - 1:
            a, b, c = envelope[p - 1], envelope[p], envelope[p + 1]
            den = a - 2 * b + c
            out[i] = p + (0.5 * (a - c) / den if den < 0 else 0.0)
        else:
            out[i] = p
    return out


class GridTracker:
    """One stream's beat tracking with a memory: the onset envelope of everything heard in
    the last :data:`MEMORY_SECONDS`, so that the tempo comes from more than one window.

    Each :meth:`update` gets a step's window; the envelope frames it adds are stored by
    absolute frame, the window's first :data:`EDGE_FRAMES` (its edge) only where nothing was
    stored. The grid is tracked over the contiguous stored frames up to the heard end.
    """

    def __init__(self, sample_rate: int, memory_seconds: float = MEMORY_SECONDS, *,
                 envelope: Envelope | None = None) -> None:
        self.sample_rate = sample_rate
        self.envelope: Envelope = envelope or onset_envelope
        self.memory = max(1, int(memory_seconds * sample_rate / ONSET_HOP))
        self.frames: dict[int, float] = {}

    def reset(self) -> None:
        self.frames.clear()

    def update(self, audio: np.ndarray, *, known: int, start: int,
               beats_per_bar: int = 4) -> Transport | None:
        """The grid after hearing ``audio[:known]`` (sample 0 at ``start``); as
        :func:`track_transport`, with the stored envelope before the window."""
        if start % ONSET_HOP:  # not on the envelope's frame grid: this window alone
            return track_transport(audio, self.sample_rate, known=known, start=start,
                                   beats_per_bar=beats_per_bar, envelope=self.envelope)
        heard = _heard(audio, known)
        first = start // ONSET_HOP
        if heard is not None:
            envelope = self.envelope(heard, self.sample_rate)
            for i, value in enumerate(envelope):
                if i >= EDGE_FRAMES or first + i not in self.frames:
                    self.frames[first + i] = float(value)
        end = first + (known + ONSET_HOP - 1) // ONSET_HOP  # one past the last heard frame
        newest = max(self.frames, default=end)
        for old in [f for f in self.frames if f < newest - self.memory]:
            del self.frames[old]
        lo = end
        while lo - 1 in self.frames and end - lo < self.memory:
            lo -= 1
        if (end - lo) * ONSET_HOP < MIN_SECONDS * self.sample_rate:
            return None
        envelope = np.array([self.frames[f] for f in range(lo, end)], dtype=np.float32)
        return grid_from_envelope(envelope, self.sample_rate, start=lo * ONSET_HOP,
                                  beats_per_bar=beats_per_bar)
