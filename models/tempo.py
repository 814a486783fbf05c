"""A beat grid from what the performer plays, for when the host sends no transport.

A model with the beat-grid input (:func:`~.conditioning.beat_planes`) follows the grid it is
given; without the host's transport it would get none and has to guess the timing of the
region it generates from the mix alone, which lies a hop or more past the last sample heard.
:func:`track_transport` and, with a memory per stream, :class:`GridTracker` run librosa's
beat tracker (Ellis 2007) over an envelope of the heard audio and extend the beats it finds
as one steady :class:`~.base.Transport` over the region, so the grid always comes from what
the model hears.

The envelope is the shipped learned tracker's beat activation (:mod:`.beatnet`, the
default: its downbeat activation also gives the bar, :func:`bar_of`) or librosa's onset
strength (``beat_tracker="onsets"``: the bar is then not tracked, ``beat_in_bar`` is 0 at
the last tracked beat). A host transport, when sent, always wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import librosa
import numpy as np
import scipy.stats

from .base import DEFAULT_BEAT_TRACKER, Transport

if TYPE_CHECKING:
    from .beatnet import BeatNet

#: What the beat tracker runs over: mono audio and its rate → one value per
#: :data:`ONSET_HOP` samples (frame ``f`` centred on sample ``f·ONSET_HOP``), ``(frames,)``,
#: or beat and downbeat rows ``(2, frames)``. Librosa's onset strength
#: (:func:`onset_envelope`) or a learned activation (:func:`learned_envelope`).
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
#: A tracked beat whose envelope is below this share of the recent beats' median is dropped.
WEAK_BEAT = 0.25
#: Bar lengths (beats) a downbeat activation chooses between.
METERS = (2, 3, 4)
#: A shorter meter wins when it scores at least this share of the best.
METER_MARGIN = 0.9
#: Below this peak the downbeat activation says nothing: the bar is not tracked.
MIN_DOWNBEAT = 0.2


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
        return net.activation(audio)

    return envelope




def envelope_for(choice: str, sample_rate: int) -> tuple[Envelope, str]:
    """The envelope a stream at ``sample_rate`` tracks beats in, and its name: ``"learned"``
    (the shipped :class:`~.beatnet.BeatNet`), ``"onsets"`` (librosa's onset strength) or a
    directory of learned weights. A learned tracker made for another rate or hop falls back
    to the onsets, and says so in the name."""
    from .beatnet import DEFAULT_DIR, load_beat_net

    if choice == "onsets":
        return onset_envelope, "onsets"
    net = load_beat_net(DEFAULT_DIR if choice == DEFAULT_BEAT_TRACKER else choice)
    if net.config.sample_rate != sample_rate or net.config.hop != ONSET_HOP:
        return onset_envelope, (f"onsets (the learned tracker is for {net.config.sample_rate} "
                                f"Hz, hop {net.config.hop}; the model runs at {sample_rate} "
                                f"Hz, hop {ONSET_HOP})")
    return learned_envelope(net), "learned"


def grid_from_envelope(envelope: np.ndarray, sample_rate: int, *, start: int,
                       beats_per_bar: int = 4) -> Transport | None:
    """The steady grid through the latest beats librosa's tracker finds in ``envelope``
    (frame 0 at absolute model-clock sample ``start``): its tempo estimate refined by the
    least-squares line through the last :data:`FIT_BEATS` beats (period and phase).

    With a downbeat row (``envelope`` of shape ``(2, frames)``) the bar is tracked too
    (:func:`bar_of`); otherwise the grid has ``beats_per_bar`` and its last beat starts a bar.
    """
    envelope = np.asarray(envelope, np.float32)
    downbeat = envelope[1] if envelope.ndim == 2 and envelope.shape[0] > 1 else None
    envelope = envelope[0] if envelope.ndim == 2 else envelope
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
    refined = _refine(envelope, frames)
    # a beat the tracker placed where the envelope is nearly flat (its dynamic programming
    # runs past the last real beat at the end) would pull the fit off the grid
    strength = envelope[np.clip(np.round(refined).astype(int), 0, envelope.size - 1)]
    refined = refined[strength >= WEAK_BEAT * float(np.median(strength[-2 * FIT_BEATS:]))]
    if refined.size < 3:
        return None
    beats = refined[-FIT_BEATS:] * ONSET_HOP
    # beat i lies on grid line n_i (counted in librosa's period from the last beat); the line
    # through (n_i, b_i) gives the period (local, free of librosa's tempo-bin rounding) and
    # the anchor
    guess = float(np.median(np.diff(beats)))  # the beats' own spacing, not a tempo bin's
    lines = np.round((beats - beats[-1]) / guess)
    if np.ptp(lines) >= 2:
        period, anchor = np.polyfit(lines, beats, 1)
    else:
        period, anchor = guess, float(np.mean(beats - lines * guess))
    bpm = 60.0 * sample_rate / float(period)
    if not 20.0 <= bpm <= 400.0:
        return None
    bar = None if downbeat is None else bar_of(downbeat, anchor / ONSET_HOP,
                                               period / ONSET_HOP)
    meter, in_bar = bar if bar is not None else (beats_per_bar, 0)
    return Transport(bpm=bpm, beat_position=round(start + float(anchor)),
                     beats_per_bar=meter, beat_in_bar=in_bar)


def bar_of(downbeat: np.ndarray, anchor: float, period: float) -> tuple[int, int] | None:
    """Beats per bar and the place in its bar of the grid's beat at frame ``anchor`` (beats
    every ``period`` frames before it), from a downbeat activation; ``None`` when it is too
    weak or too short (fewer than two bars of :data:`METERS`' longest) to tell.

    Each meter and offset is scored by the mean activation at the beats it calls downbeats;
    the shortest meter within :data:`METER_MARGIN` of the best wins (a 2/4 bar's downbeats
    are also every other 4/4 bar's).
    """
    lines = np.arange(0, -int(anchor // period) - 1, -1)
    frames = np.round(anchor + lines * period).astype(int)
    if lines.size < 2 * max(METERS):
        return None
    near = np.stack([downbeat[np.clip(frames + d, 0, downbeat.size - 1)] for d in (-1, 0, 1)])
    value = near.max(axis=0)
    if float(value.max()) < MIN_DOWNBEAT:
        return None
    best = {m: max(range(m), key=lambda o: float(value[(-lines) % m == o].mean()))
            for m in METERS}
    score = {m: float(value[(-lines) % m == best[m]].mean()) for m in METERS}
    top = max(score.values())
    meter = min(m for m in METERS if score[m] >= METER_MARGIN * top)
    return meter, best[meter]


def _refine(envelope: np.ndarray, frames: np.ndarray, reach: int = REFINE_FRAMES
            ) -> np.ndarray:
    """Each beat moved to the envelope's local maximum within ``reach`` frames, at sub-frame
    precision (the vertex of the parabola through the peak and its neighbours)."""
    out = np.asarray(frames, float).copy()
    n = envelope.size
    for i, f in enumerate(frames):
        lo, hi = max(0, int(f) - reach), min(n, int(f) + reach + 1)
        p = lo + int(np.argmax(envelope[lo:hi]))
        if envelope[p] <= envelope[int(f)]:  # no higher peak near: stay
            p = int(f)
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
        self.frames: dict[int, np.ndarray] = {}  # envelope rows per absolute frame

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
            envelope = np.atleast_2d(self.envelope(heard, self.sample_rate))
            for i in range(envelope.shape[1]):
                if i >= EDGE_FRAMES or first + i not in self.frames:
                    self.frames[first + i] = envelope[:, i]
        end = first + (known + ONSET_HOP - 1) // ONSET_HOP  # one past the last heard frame
        newest = max(self.frames, default=end)
        for old in [f for f in self.frames if f < newest - self.memory]:
            del self.frames[old]
        lo = end
        while lo - 1 in self.frames and end - lo < self.memory:
            lo -= 1
        if (end - lo) * ONSET_HOP < MIN_SECONDS * self.sample_rate:
            return None
        envelope = np.stack([self.frames[f] for f in range(lo, end)], axis=1)
        return grid_from_envelope(envelope, self.sample_rate, start=lo * ONSET_HOP,
                                  beats_per_bar=beats_per_bar)
