"""A host transport from ground-truth beats: what a client's DAW clock would have said.

Training and the listening-proxy check both turn a song's annotated beats into the
:class:`~sideman.models.base.Transport` a client would send (one tempo, one beat position,
the bar position) and hand it to :func:`~sideman.models.conditioning.beat_planes`, the
function the pipeline uses, so the beat-grid planes are computed one way everywhere.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sideman.models.base import Transport

#: Beat intervals around the anchor whose median gives the local tempo.
TEMPO_INTERVALS = 4


def transport_at(beats: np.ndarray, downbeats: np.ndarray, time_s: float, *,
                 sample_rate: int, beats_per_bar: int | None = None) -> Transport | None:
    """The transport at ``time_s``: the last beat at or before it, the local tempo there.

    Local bpm is 60 over the median of the (up to) :data:`TEMPO_INTERVALS` beat intervals
    ending at that beat (the first interval when the anchor is the first beat). The beat's
    place in the bar counts beats since the last downbeat. ``None`` without two beats.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if beats.size < 2:
        return None
    return transport_of_beat(beats, downbeats, last_beat(beats, time_s),
                             sample_rate=sample_rate, beats_per_bar=beats_per_bar)


def last_beat(beats: np.ndarray, time_s: float) -> int:
    """Index of the last beat at or before ``time_s`` (the first beat before it)."""
    i = int(np.searchsorted(beats, time_s, side="right")) - 1
    return min(max(i, 0), beats.size - 1)


def transport_of_beat(beats: np.ndarray, downbeats: np.ndarray, i: int, *, sample_rate: int,
                      beats_per_bar: int | None = None) -> Transport:
    """:func:`transport_at` anchored on beat ``i`` of ``beats`` (float64, two or more):
    it depends on the anchor only through that index, so callers may cache it per beat."""
    lo = max(0, i - TEMPO_INTERVALS)
    intervals = np.diff(beats[lo:i + 1]) if i > 0 else np.diff(beats[:2])
    bpm = float(np.clip(60.0 / np.median(intervals), 20.0, 400.0))
    bpb = int(beats_per_bar) if beats_per_bar else 4
    downbeats = np.asarray(downbeats, dtype=np.float64)
    beat_in_bar = 0
    earlier = downbeats[downbeats <= beats[i] + 1e-6]
    if earlier.size:
        since = int(np.sum((beats >= earlier[-1] - 1e-6) & (beats < beats[i] - 1e-6)))
        beat_in_bar = since % bpb
    return Transport(bpm=bpm, beat_position=round(beats[i] * sample_rate),
                     beats_per_bar=bpb, beat_in_bar=beat_in_bar)


def misplaced(transport: Transport, *, phase_error: float, tempo_ratio: float,
              sample_rate: int) -> Transport:
    """``transport`` as a beat tracker might have got it wrong: its beat moved by
    ``phase_error`` beats (later when positive) and its tempo multiplied by ``tempo_ratio``
    about that beat, so the error grows with the distance from it (a tracker fits its grid to
    what it has heard and projects it); 0.5 is the tracker's common octave error, half the
    tempo. The tempo stays in the transport's [20, 400] bpm."""
    bpm = float(np.clip(transport.bpm * tempo_ratio, 20.0, 400.0))
    shift = phase_error * transport.samples_per_beat(sample_rate)
    return replace(transport, bpm=bpm, beat_position=transport.beat_position + round(shift))
