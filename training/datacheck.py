"""Quality checks and plots for multi-stem data sets (synthetic or Slakh).

* :func:`check_song`: beat F1 (``mir_eval``, ±70 ms) and AMLt (any metrical level) of
  ``librosa.beat.beat_track`` on the drums stem and on the mix against the ground-truth
  beats; for synthetic songs also the
  offset between the drum notes of ``song.mid`` and the onsets heard in the drums stem;
  active RMS of each stem.
* :func:`plot_song`: the stems' waveforms with beat and downbeat lines and sections.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import STEMS, Song, load_audio

log = logging.getLogger(__name__)

#: Beat-matching tolerance of the evaluation (the reference paper's ±70 ms).
BEAT_TOLERANCE = 0.07
#: Onset detection hop in samples (≈1.5 ms at 44.1 kHz) for the onset-offset check.
ONSET_HOP = 64


def beat_f1(reference: np.ndarray, estimated: np.ndarray) -> float:
    """F-measure of estimated beats against reference beats (first 5 s ignored, as MIREX)."""
    import mir_eval

    ref = mir_eval.beat.trim_beats(np.asarray(reference, dtype=np.float64))
    est = mir_eval.beat.trim_beats(np.asarray(estimated, dtype=np.float64))
    if not len(ref) or not len(est):
        return 0.0
    return float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=BEAT_TOLERANCE))


def beat_amlt(reference: np.ndarray, estimated: np.ndarray) -> float:
    """mir_eval's AMLt: beat accuracy allowing double/half tempo and off-beat phase, so a
    tracker's octave error does not hide whether the audio is in time with the reference."""
    import mir_eval

    ref = mir_eval.beat.trim_beats(np.asarray(reference, dtype=np.float64))
    est = mir_eval.beat.trim_beats(np.asarray(estimated, dtype=np.float64))
    if len(ref) < 2 or len(est) < 2:
        return 0.0
    return float(mir_eval.beat.continuity(ref, est)[3])


def track_beats(audio: np.ndarray, sr: int) -> np.ndarray:
    import librosa

    if not np.any(audio):
        return np.zeros(0)
    _, beats = librosa.beat.beat_track(y=audio, sr=sr, units="time")
    return np.asarray(beats, dtype=np.float64)


def drum_onset_offsets(song: Song, audio: np.ndarray, window: float = 0.025) -> np.ndarray:
    """Audio onset minus MIDI onset (seconds) for each drum note with an onset within
    ``window`` of it; synthetic songs only (needs ``song.mid``)."""
    import librosa
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(song.root / song.info["files"]["midi"]))
    notes = np.unique([n.start for inst in pm.instruments if inst.is_drum for n in inst.notes])
    if not len(notes) or not np.any(audio):
        return np.zeros(0)
    onsets = librosa.onset.onset_detect(y=audio, sr=song.sample_rate, hop_length=ONSET_HOP,
                                        units="time", backtrack=True)
    if not len(onsets):
        return np.zeros(0)
    idx = np.clip(np.searchsorted(onsets, notes), 1, len(onsets) - 1)
    nearest = np.where(np.abs(onsets[idx - 1] - notes) < np.abs(onsets[idx] - notes),
                       onsets[idx - 1], onsets[idx])
    diff = nearest - notes
    return diff[np.abs(diff) <= window]


def check_song(song: Song) -> dict[str, Any]:
    """Beat F1 of tracked beats on the drums and the mix, onset offsets, levels."""
    from .synth.render import active_rms, db

    out: dict[str, Any] = {"id": song.id, "meter": song.meter, "tempo": song.tempo,
                           "style": song.info.get("style"), "swing": song.info.get("swing")}
    audio = {s: load_audio(song, s) for s in (*STEMS, "mix")}
    out["rms_dbfs"] = {s: db(active_rms(a, song.sample_rate)) for s, a in audio.items()}
    if song.beats is not None:
        for name in ("drums", "mix"):
            out[f"beat_f1_{name}"] = out[f"beat_amlt_{name}"] = None
            if np.any(audio[name]):
                est = track_beats(audio[name], song.sample_rate)
                out[f"beat_f1_{name}"] = beat_f1(song.beats, est)
                out[f"beat_amlt_{name}"] = beat_amlt(song.beats, est)
    if song.source == "synth":
        offsets = drum_onset_offsets(song, audio["drums"])
        out["drum_onset_offset_ms"] = ({"median": float(np.median(offsets) * 1e3),
                                        "p05": float(np.percentile(offsets, 5) * 1e3),
                                        "p95": float(np.percentile(offsets, 95) * 1e3),
                                        "matched": len(offsets)} if len(offsets) else None)
        silent = song.info.get("silent", {})
        out["silent_fraction"] = {s: float(sum(b - a for a, b in silent.get(s, []))
                                           / song.duration) for s in STEMS}
    return out


def plot_song(song: Song, path: Path, start: float = 0.0, end: float | None = None) -> Path:
    """Waveforms of the mix and the four stems with beats, downbeats and sections → PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end = song.duration if end is None else min(end, song.duration)
    rows = ("mix", *STEMS)
    fig, axes = plt.subplots(len(rows), 1, figsize=(14, 2.0 * len(rows)), sharex=True)
    t0 = start
    for ax, name in zip(axes, rows, strict=True):
        audio = load_audio(song, name, start=start, end=end)
        t = t0 + np.arange(len(audio)) / song.sample_rate
        ax.plot(t, audio, linewidth=0.4, color="0.2")
        lim = max(1e-3, float(np.abs(audio).max()) * 1.05)
        ax.set_ylim(-lim, lim)
        ax.set_ylabel(name)
        for b in song.beats if song.beats is not None else []:
            if start <= b <= end:
                ax.axvline(b, color="tab:blue", linewidth=0.4, alpha=0.6)
        for b in song.downbeats if song.downbeats is not None else []:
            if start <= b <= end:
                ax.axvline(b, color="tab:red", linewidth=0.9, alpha=0.8)
        for sec in song.info.get("sections", []) if song.source == "synth" else []:
            if name in STEMS and name not in sec["active"]:
                ax.axvspan(max(sec["start"], start), min(sec["end"], end), color="0.85",
                           zorder=0)
    title = f"{song.id} ({song.source})"
    if song.source == "synth":
        i = song.info
        title += (f": {i['style']}, {i['meter']}, {i['tempo']:.1f} bpm, {i['key']} {i['mode']}"
                  f"{', swing' if i['swing'] != 0.5 else ''}")
        for sec in i["sections"]:
            if sec["start"] < end and sec["end"] > start:
                axes[0].text(max(sec["start"], start), axes[0].get_ylim()[1] * 0.9,
                             sec["name"], fontsize=8, va="top")
    axes[0].set_title(title + "  (blue: beats, red: downbeats, grey: stem silent)")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
