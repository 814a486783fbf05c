"""Metrics for generated stems: audio → features → events → scores, scoring delegated to mir_eval.

Layers (each usable on its own, like beat_this' inference path):

* **audio → analysis clock**: :func:`to_analysis_rate` checks a mono signal and resamples it
  to :data:`ANALYSIS_SR` so every frame-based feature has the same time grid whatever the
  model's sample rate is;
* **features**: :func:`activity` (frames above :data:`SILENCE_DB`), :func:`chroma`
  (CQT chroma, unit length per active frame), :func:`embed` (1 s windows of spectral
  statistics for the Fréchet distance);
* **events**: :func:`track_beats` (a DSP tracker by default, Beat This when its package and a
  local checkpoint exist), :func:`detect_onsets`; events inside silence are dropped for every
  tracker, so a silent stretch never "has" beats;
* **scores**: :func:`beat_f1` and :func:`onset_f_measure` (mir_eval), :func:`chroma_cosine`,
  :func:`chroma_profile_cosine`, :func:`frechet_distance`.

:func:`analyze` bundles the events and features of one signal in an :class:`Analysis` (on the
signal's full timeline, so references can be analysed once per song and reused for every
(r, w) condition); :func:`evaluate_stem` scores a generated stem, its listening control
(the stem generated for another song's input, scored against this song) and its references
(ground truth, silence, the same stem from another song) over the generated span;
:func:`conditioning_sensitivity` says how much the output changes with the input against
how much it changes with the seed.

Undefined scores are ``nan`` here (``None`` in JSON): a score is undefined when its
*reference* has nothing in the span (no beats, no onsets, no active frames). The reference
is shared by every entry, so an undefined song drops out of every entry's mean alike.
See docs/EVAL.md for the choices (windows, trimming, silence) and their reasons.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import librosa
import mir_eval
import numpy as np
import soxr

log = logging.getLogger(__name__)

#: Every frame feature is computed at this rate (librosa's defaults are tuned for it).
ANALYSIS_SR = 22050
#: Analysis hop: 512 samples = 23.2 ms frames.
HOP = 512
#: STFT size for the activity (RMS) frames; centred like the onset and chroma frames.
FRAME = 2048
#: A frame is silent when its RMS is below this level (dB relative to full scale 1.0).
SILENCE_DB = -60.0
#: mir_eval's beat F-measure window (the reference paper's ±70 ms).
BEAT_WINDOW = 0.07
#: mir_eval's onset F-measure window (its default, ±50 ms).
ONSET_WINDOW = 0.05
#: Events (beats, onsets) farther than this from any active frame are dropped.
EVENT_SILENCE_TOLERANCE = 0.1
#: Fréchet-embedding window length in seconds (non-overlapping windows).
EMBED_WINDOW = 1.0
#: Embedding layout: log-mel band means, MFCC standard deviations, spectral contrast means,
#: onset-strength statistics, chroma means (see :func:`embed`).
EMBED_MELS = 32
EMBED_MFCC = 12
EMBED_CONTRAST = 7
EMBED_ONSET = 3
EMBED_CHROMA = 12
EMBED_DIM = EMBED_MELS + EMBED_MFCC + EMBED_CONTRAST + EMBED_ONSET + EMBED_CHROMA
#: Log-mel floor (dB re 1.0): silence embeds at this level instead of -inf.
MEL_FLOOR_DB = -100.0
#: Dynamic range of the conditioning-sensitivity distance: both log-mel spectrograms are
#: floored this far below the louder one's peak, so differences in what is inaudible next to
#: it (a noise floor at -70 dBFS under drums) do not dominate the mean.
CHANGE_RANGE_DB = 60.0
#: Mel bands of the conditioning-sensitivity distance.
CHANGE_MELS = 64

#: Entries of :func:`evaluate_stem`, in report order: the generated stem, the listening
#: control (the stem the model generated for another song's input, same seed and settings,
#: scored against this song) and the references.
ENTRIES: tuple[str, ...] = ("generated", "other_generated", "ground_truth", "silence",
                            "other_song")
#: The listening pairs: ``entry / control`` per metric. A model that ignores its input scores
#: 1 (its output for another song is as good a fit); the ground truth over another song's
#: real stem is the ceiling.
LISTENING_PAIRS: dict[str, str] = {"generated": "other_generated", "ground_truth": "other_song"}
#: Metric keys of every entry (see docs/EVAL.md for their meaning).
METRICS: tuple[str, ...] = (
    "beat_f1_context",
    "beat_f1_annotated",
    "onset_f1_stem",
    "onset_f1_context",
    "chroma_stem",
    "chroma_context",
    "chroma_profile_stem",
    "chroma_profile_context",
)
#: Beat trackers by name; "auto" (see :func:`resolve_tracker`) picks one of these.
TRACKERS: tuple[str, ...] = ("dsp", "beat_this")


class MetricError(ValueError):
    """Bad input to a metric (wrong shape, non-finite samples, a span outside the audio)."""


class TrackerUnavailable(RuntimeError):
    """The requested beat tracker cannot run here (missing package or checkpoint)."""


# -- audio ---------------------------------------------------------------------------------

def _check_audio(audio: np.ndarray, sr: int, name: str = "audio") -> np.ndarray:
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr < 1:
        raise MetricError(f"sr must be a positive int (Hz), got {sr!r}")
    x = np.asarray(audio)
    if x.ndim != 1:
        raise MetricError(f"{name} must be mono, shape (samples,); got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise MetricError(f"{name} must be float samples in [-1, 1]; got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise MetricError(f"{name} contains NaN or inf samples")
    return x.astype(np.float32, copy=False)


def to_analysis_rate(audio: np.ndarray, sr: int, name: str = "audio") -> np.ndarray:
    """Check a mono float signal and resample it to :data:`ANALYSIS_SR` (soxr, high quality)."""
    x = _check_audio(audio, sr, name)
    if sr == ANALYSIS_SR or x.size == 0:
        return x
    return soxr.resample(x, sr, ANALYSIS_SR, quality="HQ").astype(np.float32, copy=False)


def crop(audio: np.ndarray, sr: int, start_s: float, end_s: float) -> np.ndarray:
    """Samples ``[round(start_s·sr), round(end_s·sr))`` of ``audio``; the span must lie inside."""
    x = _check_audio(audio, sr)
    start, end = _span_samples(x.size, sr, (start_s, end_s))
    return x[start:end]


def fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """``audio`` cut or zero-padded to ``length`` samples (for a stem from another song)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.size >= length:
        return x[:length]
    return np.concatenate([x, np.zeros(length - x.size, np.float32)])


def _span_samples(n: int, sr: int, span: tuple[float, float]) -> tuple[int, int]:
    start_s, end_s = (float(v) for v in span)
    duration = n / sr
    if not (math.isfinite(start_s) and math.isfinite(end_s)):
        raise MetricError(f"span must be finite seconds, got {span!r}")
    if not 0.0 <= start_s < end_s:
        raise MetricError(f"span must satisfy 0 <= start < end, got {span!r}")
    if end_s > duration + 1.0 / sr:
        raise MetricError(f"span end {end_s:.6f} s is past the audio's end ({duration:.6f} s)")
    return round(start_s * sr), min(n, round(end_s * sr))


# -- features ------------------------------------------------------------------------------

def frame_times(n_frames: int) -> np.ndarray:
    """Centre time in seconds of each analysis frame."""
    return librosa.frames_to_time(np.arange(n_frames), sr=ANALYSIS_SR, hop_length=HOP)


def n_frames(n_samples: int) -> int:
    """Number of centred analysis frames of a signal of ``n_samples`` at ANALYSIS_SR."""
    return 1 + n_samples // HOP


def activity(y: np.ndarray) -> np.ndarray:
    """``bool (frames,)``: frame RMS at or above :data:`SILENCE_DB` (y at ANALYSIS_SR)."""
    rms = librosa.feature.rms(y=y, frame_length=FRAME, hop_length=HOP, center=True)[0]
    return rms >= 10.0 ** (SILENCE_DB / 20.0)


def onset_envelope(y: np.ndarray) -> np.ndarray:
    """Spectral-flux onset strength (librosa's log-mel flux) of y at ANALYSIS_SR."""
    return librosa.onset.onset_strength(y=y, sr=ANALYSIS_SR, hop_length=HOP)


def _unit_columns(m: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Columns scaled to unit L2 norm; inactive or all-zero columns set to zero."""
    norms = np.linalg.norm(m, axis=0)
    keep = active[: m.shape[1]] & (norms > 0)
    out = np.zeros_like(m)
    out[:, keep] = m[:, keep] / norms[keep]
    return out


def _chroma_at_rate(y: np.ndarray, active: np.ndarray) -> np.ndarray:
    # tuning=0: generated audio and stems are on A440; estimating tuning per signal would
    # let a noisy stem shift its own chroma bins. norm=None: _unit_columns normalises.
    with warnings.catch_warnings():
        # The CQT's lowest octaves run on a signal decimated 64-fold; for clips under ~3 s
        # librosa warns that its FFT is longer than that signal and zero-pads, which is fine.
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        c = librosa.feature.chroma_cqt(y=y, sr=ANALYSIS_SR, hop_length=HOP, norm=None,
                                       tuning=0.0)
    n = min(c.shape[1], active.size)
    return _unit_columns(c[:, :n], active[:n])


def chroma(audio: np.ndarray, sr: int) -> np.ndarray:
    """``float32 (12, frames)``: CQT chroma, unit length per active frame, zero when silent."""
    y = to_analysis_rate(audio, sr)
    return _chroma_at_rate(y, activity(y))


def _drop_silent_events(times: np.ndarray, active: np.ndarray,
                        tolerance: float = EVENT_SILENCE_TOLERANCE) -> np.ndarray:
    """Keep the events that have an active frame within ``tolerance`` seconds."""
    times = np.asarray(times, dtype=np.float64)
    if times.size == 0 or not active.any():
        return times[:0]
    active_times = frame_times(active.size)[active]
    idx = np.clip(np.searchsorted(active_times, times), 1, active_times.size - 1)
    if active_times.size == 1:
        nearest = np.abs(times - active_times[0])
    else:
        nearest = np.minimum(np.abs(times - active_times[idx - 1]),
                             np.abs(times - active_times[idx]))
    return times[nearest <= tolerance]


# -- events: beat trackers -----------------------------------------------------------------

class BeatTracker(Protocol):
    """Beat times in seconds of a mono signal (any sample rate)."""

    name: str

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray: ...


class DspBeatTracker:
    """librosa's dynamic-programming beat tracker on spectral flux, no edge trimming.

    ``trim=False``: librosa's trimming drops the first and last beats of a stem whose first
    onsets are weaker than half the envelope's RMS (a bass line, a pad, even a click track
    starting at 0.25 s lost its first beat at 120 bpm). Beats placed in silence are removed
    afterwards by the activity filter, which is what trimming was meant to do.
    """

    name = "dsp"

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        y = to_analysis_rate(audio, sr)
        active = activity(y)
        return self.track(y, onset_envelope(y), active)

    @staticmethod
    def track(y: np.ndarray, envelope: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Beats from a precomputed envelope and activity (shared with onset detection)."""
        if not active.any() or not np.any(envelope > 0):
            return np.zeros(0)
        bpm = float(librosa.feature.tempo(onset_envelope=envelope, sr=ANALYSIS_SR,
                                          hop_length=HOP)[0])
        if not bpm > 0:
            return np.zeros(0)
        # Two beat periods of zeros on both sides of the envelope, because of two edge effects
        # of librosa's dynamic program (each measured on click tracks):
        # * the first real beat still pays the tempo penalty of linking back to some frame
        #   before it, even a silent one, so a first click that is not a whole period after
        #   frame 0 lost to an empty frame nearby (160 bpm: first beat 75 ms late);
        # * the sequence ends at the last local maximum of the cumulative score, and the
        #   envelope's last frame counts as one while the score is still rising; the backtrace
        #   from there pulled the last real beat ~100 ms off the grid (90 and 75 bpm).
        # With the padding the sequence runs on its own tempo past both ends; the beats
        # placed in the padding are dropped.
        pad = 2 * math.ceil(60.0 * ANALYSIS_SR / HOP / bpm) + 2
        padded = np.pad(envelope, (pad, pad))
        _, beats = librosa.beat.beat_track(onset_envelope=padded, sr=ANALYSIS_SR,
                                           hop_length=HOP, bpm=bpm, trim=False, units="time")
        beats = np.asarray(beats, dtype=np.float64) - pad * HOP / ANALYSIS_SR
        beats = beats[(beats >= 0) & (beats < envelope.size * HOP / ANALYSIS_SR)]
        return _drop_silent_events(beats, active)


class BeatThisTracker:
    """Beat This (Foscarin et al., ISMIR 2024) from a *local* checkpoint file; never downloads.

    Optional: needs the ``beat_this`` package (which needs torchaudio) and a checkpoint such
    as ``final0.ckpt`` on disk. Shortcut names like ``"final0"`` are refused because Beat This
    would download them.
    """

    name = "beat_this"

    def __init__(self, checkpoint: str | Path, device: str = "cpu", dbn: bool = False) -> None:
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise TrackerUnavailable(
                f"Beat This checkpoint {str(checkpoint)!r} is not a local file; pass the path "
                f"of a downloaded checkpoint (e.g. final0.ckpt). Names such as 'final0' are "
                f"refused because Beat This would download them."
            )
        try:
            from beat_this.inference import Audio2Beats
        except ImportError as exc:
            raise TrackerUnavailable(
                f"Beat This cannot be imported ({exc}); it needs the beat_this package and "
                f"torchaudio, which are not sideman dependencies. Use the 'dsp' tracker."
            ) from exc
        self.checkpoint = path
        self._model = Audio2Beats(checkpoint_path=str(path), device=device, dbn=dbn)

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        x = _check_audio(audio, sr)
        if not np.any(x):
            return np.zeros(0)
        beats, _downbeats = self._model(x, int(sr))
        y = to_analysis_rate(x, sr)
        return _drop_silent_events(np.sort(np.asarray(beats, dtype=np.float64)), activity(y))


def make_tracker(name: str = "dsp", checkpoint: str | Path | None = None,
                 device: str = "cpu") -> BeatTracker:
    """The tracker called ``name`` ("dsp" or "beat_this"); raises if it cannot run here."""
    if name == "dsp":
        return DspBeatTracker()
    if name == "beat_this":
        if checkpoint is None:
            raise TrackerUnavailable(
                "the beat_this tracker needs a local checkpoint file (none given)")
        return BeatThisTracker(checkpoint, device=device)
    raise MetricError(f"unknown beat tracker {name!r}; use one of {', '.join(TRACKERS)}, auto")


#: Where ``auto`` and ``beat_this`` look for a Beat This checkpoint when none is given.
BEAT_THIS_ENV = "SIDEMAN_BEAT_THIS_CHECKPOINT"


def resolve_tracker(name: str = "auto", checkpoint: str | Path | None = None,
                    device: str = "cpu") -> tuple[BeatTracker, str | None]:
    """A runnable tracker for ``name`` and a note when it fell back to the DSP tracker.

    ``"auto"`` and ``"beat_this"`` use Beat This when it can run (package + local
    checkpoint: ``checkpoint``, else the file named by ``$SIDEMAN_BEAT_THIS_CHECKPOINT``),
    otherwise the DSP tracker, with a note saying what was missing. ``"dsp"`` is always the
    DSP tracker.
    """
    if name not in (*TRACKERS, "auto"):
        raise MetricError(f"unknown beat tracker {name!r}; use one of {', '.join(TRACKERS)}, auto")
    if checkpoint is None and name != "dsp":
        checkpoint = os.environ.get(BEAT_THIS_ENV) or None
    if name == "dsp" or (name == "auto" and checkpoint is None):
        return DspBeatTracker(), None
    try:
        return make_tracker("beat_this", checkpoint, device), None
    except TrackerUnavailable as exc:
        note = f"Beat This unavailable, using the DSP tracker: {exc}"
        log.warning(note)
        return DspBeatTracker(), note


def _as_tracker(tracker: str | BeatTracker) -> BeatTracker:
    return make_tracker(tracker) if isinstance(tracker, str) else tracker


def track_beats(audio: np.ndarray, sr: int, tracker: str | BeatTracker = "dsp") -> np.ndarray:
    """Beat times in seconds (sorted; empty for silence). ``tracker``: a name or an object."""
    return _as_tracker(tracker)(audio, sr)


def _onsets_from_envelope(envelope: np.ndarray, active: np.ndarray) -> np.ndarray:
    if not active.any() or not np.any(envelope > 0):
        return np.zeros(0)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=ANALYSIS_SR,
                                        hop_length=HOP, units="time", backtrack=False)
    return _drop_silent_events(np.asarray(onsets, dtype=np.float64), active)


def detect_onsets(audio: np.ndarray, sr: int) -> np.ndarray:
    """Onset times in seconds (librosa peak picking on spectral flux; empty for silence)."""
    y = to_analysis_rate(audio, sr)
    return _onsets_from_envelope(onset_envelope(y), activity(y))


# -- scores --------------------------------------------------------------------------------

def beat_f1(estimated: np.ndarray, reference: np.ndarray, window: float = BEAT_WINDOW,
            skip_seconds: float = 0.0) -> float:
    """mir_eval beat F-measure (±``window`` s); ``nan`` when the reference has no beats.

    ``skip_seconds`` drops beats before that time from both sequences (mir_eval's
    ``trim_beats`` convention uses 5 s; the default here is 0, see docs/EVAL.md).
    """
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    if skip_seconds > 0:
        est = mir_eval.beat.trim_beats(est, min_beat_time=skip_seconds)
        ref = mir_eval.beat.trim_beats(ref, min_beat_time=skip_seconds)
    if ref.size == 0:
        return math.nan
    if est.size == 0:  # mir_eval would warn and return 0
        return 0.0
    return float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=window))


def onset_f_measure(estimated: np.ndarray, reference: np.ndarray,
                    window: float = ONSET_WINDOW) -> float:
    """mir_eval onset F-measure (±``window`` s); ``nan`` when the reference has no onsets."""
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    if ref.size == 0:
        return math.nan
    if est.size == 0:
        return 0.0
    f, _precision, _recall = mir_eval.onset.f_measure(ref, est, window=window)
    return float(f)


def onset_f1(stem: np.ndarray, reference_audio: np.ndarray, sr: int,
             window: float = ONSET_WINDOW) -> float:
    """Onset F-measure of the onsets detected in ``stem`` against those in ``reference_audio``."""
    return onset_f_measure(detect_onsets(stem, sr), detect_onsets(reference_audio, sr), window)


def _aligned(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two (12, frames) chroma arrays on one frame grid; missing frames count as silent."""
    n = max(a.shape[1], b.shape[1])
    pad = [np.pad(m, ((0, 0), (0, n - m.shape[1]))) for m in (a, b)]
    return pad[0], pad[1]


def chroma_cosine(estimated: np.ndarray, reference: np.ndarray) -> float:
    """Mean frame-wise cosine of two unit chroma arrays over the reference's active frames.

    A frame where the estimate is silent scores 0 (dropping out is disagreement); frames
    where the reference is silent are skipped (nothing to agree with). ``nan`` when the
    reference has no active frame.
    """
    est, ref = _aligned(estimated, reference)
    ref_active = np.linalg.norm(ref, axis=0) > 0
    if not ref_active.any():
        return math.nan
    cos = np.sum(est[:, ref_active] * ref[:, ref_active], axis=0)
    return float(np.clip(cos, 0.0, 1.0).mean())


def chroma_profile_cosine(estimated: np.ndarray, reference: np.ndarray) -> float:
    """Key-level agreement: cosine of the mean chroma over each signal's active frames.

    ``nan`` when the reference is silent throughout; 0 when only the estimate is.
    """
    profiles = []
    for m in (estimated, reference):
        active = np.linalg.norm(m, axis=0) > 0
        profiles.append(m[:, active].mean(axis=1) if active.any() else np.zeros(m.shape[0]))
    est, ref = profiles
    if not np.any(ref):
        return math.nan
    if not np.any(est):
        return 0.0
    return float(np.dot(est, ref) / (np.linalg.norm(est) * np.linalg.norm(ref)))


def chroma_agreement(stem: np.ndarray, reference_audio: np.ndarray, sr: int) -> float:
    """:func:`chroma_cosine` of two signals (see there for silence handling)."""
    return chroma_cosine(chroma(stem, sr), chroma(reference_audio, sr))


# -- Fréchet distance ----------------------------------------------------------------------

def _frame_features(y: np.ndarray) -> np.ndarray:
    """Per-frame features at ANALYSIS_SR: (EMBED_MELS + 12 MFCC + 7 contrast + 1 + 12, frames)."""
    power = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=HOP)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=ANALYSIS_SR, n_mels=EMBED_MELS)
    log_mel = np.maximum(librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None),
                         MEL_FLOOR_DB)
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=EMBED_MFCC + 1)[1:]
    contrast = librosa.feature.spectral_contrast(S=np.sqrt(power), sr=ANALYSIS_SR)
    onset = librosa.onset.onset_strength(S=log_mel, sr=ANALYSIS_SR)[None, :]
    chroma_frames = librosa.feature.chroma_stft(S=power, sr=ANALYSIS_SR, tuning=0.0)
    silent = ~activity(y)
    contrast[:, silent[: contrast.shape[1]]] = 0.0
    chroma_frames[:, silent[: chroma_frames.shape[1]]] = 0.0
    return np.concatenate([log_mel, mfcc, contrast, onset, chroma_frames], axis=0)


def embed(audio: np.ndarray, sr: int, window_seconds: float = EMBED_WINDOW) -> np.ndarray:
    """``float64 (windows, EMBED_DIM)``: one vector per non-overlapping window of the signal.

    Per window: mean log-mel (32 bands, dB re 1.0, floored at -100 dB), standard deviation of
    MFCC 1–12, mean spectral contrast (7), onset strength mean/std/max, mean chroma (12).
    A partial last window is dropped; a signal shorter than one window gives ``(0, dim)``.
    """
    if not window_seconds > 0:
        raise MetricError(f"window_seconds must be > 0, got {window_seconds!r}")
    y = to_analysis_rate(audio, sr)
    per_window = max(1, round(window_seconds * ANALYSIS_SR / HOP))
    count = (n_frames(y.size) - 1) // per_window
    if count == 0:
        return np.zeros((0, EMBED_DIM))
    feats = _frame_features(y)[:, : count * per_window]
    blocks = feats.reshape(feats.shape[0], count, per_window)
    a = EMBED_MELS
    b = a + EMBED_MFCC
    c = b + EMBED_CONTRAST
    d = c + 1
    out = np.concatenate([
        blocks[:a].mean(axis=2),
        blocks[a:b].std(axis=2),
        blocks[b:c].mean(axis=2),
        blocks[c:d].mean(axis=2), blocks[c:d].std(axis=2), blocks[c:d].max(axis=2),
        blocks[d:].mean(axis=2),
    ], axis=0)
    return out.T.astype(np.float64)


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance(emb_a: np.ndarray, emb_b: np.ndarray) -> float:
    """Fréchet distance of two Gaussians fitted to the rows of ``emb_a`` and ``emb_b``.

    ``|μa − μb|² + tr Σa + tr Σb − 2 tr (Σa^½ Σb Σa^½)^½``, with symmetric eigendecompositions
    instead of ``sqrtm(Σa Σb)`` (stable for singular covariances, no complex parts).
    Each set needs at least 2 rows of the same width.
    """
    a = np.asarray(emb_a, dtype=np.float64)
    b = np.asarray(emb_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise MetricError(f"embeddings must be (n, dim) with equal dim, got {a.shape}, {b.shape}")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise MetricError(f"each set needs >= 2 embeddings, got {a.shape[0]} and {b.shape[0]}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)
    return max(value, 0.0)


# -- one signal, analysed once -------------------------------------------------------------

@dataclass(frozen=True)
class Analysis:
    """Events and frame features of one signal, on its own timeline from 0 s.

    Attributes:
        duration: length in seconds.
        beats: beat times (s), from ``tracker``.
        onsets: onset times (s).
        chroma: ``(12, frames)`` unit chroma per active frame (zero where silent).
        active: ``bool (frames,)``, frame RMS >= SILENCE_DB.
        tracker: name of the beat tracker.
    """

    duration: float
    beats: np.ndarray
    onsets: np.ndarray
    chroma: np.ndarray
    active: np.ndarray
    tracker: str

    @classmethod
    def silent(cls, duration: float, tracker: str = "dsp") -> Analysis:
        """The analysis of digital silence (no events, no active frame)."""
        frames = n_frames(round(duration * ANALYSIS_SR))
        return cls(duration=float(duration), beats=np.zeros(0), onsets=np.zeros(0),
                   chroma=np.zeros((12, frames), np.float32),
                   active=np.zeros(frames, bool), tracker=tracker)

    def restrict(self, start_s: float, end_s: float) -> Analysis:
        """Events in ``[start_s, end_s)``; frames whose centre is outside are made silent.

        Times stay on the song timeline, so restricted analyses still line up frame by frame.
        """
        def inside(t: np.ndarray) -> np.ndarray:
            return t[(t >= start_s) & (t < end_s)]

        times = frame_times(self.active.size)
        keep = (times >= start_s) & (times < end_s)
        return replace(self, beats=inside(self.beats), onsets=inside(self.onsets),
                       chroma=self.chroma * keep[: self.chroma.shape[1]],
                       active=self.active & keep)


def analyze(audio: np.ndarray, sr: int, tracker: str | BeatTracker = "dsp") -> Analysis:
    """Beats, onsets, chroma and activity of one mono signal (see :class:`Analysis`)."""
    y = to_analysis_rate(audio, sr)
    beat_tracker = _as_tracker(tracker)
    active = activity(y)
    envelope = onset_envelope(y)
    if isinstance(beat_tracker, DspBeatTracker):
        beats = beat_tracker.track(y, envelope, active)  # reuse the envelope
    else:
        beats = beat_tracker(audio, sr)
    return Analysis(duration=y.size / ANALYSIS_SR, beats=beats,
                    onsets=_onsets_from_envelope(envelope, active),
                    chroma=_chroma_at_rate(y, active), active=active,
                    tracker=beat_tracker.name)


# -- one generated stem against its references ---------------------------------------------

def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _score_entry(entry: Analysis, truth: Analysis, context: Analysis,
                 annotated: np.ndarray | None) -> dict[str, float | None]:
    values = {
        "beat_f1_context": beat_f1(entry.beats, context.beats),
        "beat_f1_annotated": (math.nan if annotated is None
                              else beat_f1(entry.beats, annotated)),
        "onset_f1_stem": onset_f_measure(entry.onsets, truth.onsets),
        "onset_f1_context": onset_f_measure(entry.onsets, context.onsets),
        "chroma_stem": chroma_cosine(entry.chroma, truth.chroma),
        "chroma_context": chroma_cosine(entry.chroma, context.chroma),
        "chroma_profile_stem": chroma_profile_cosine(entry.chroma, truth.chroma),
        "chroma_profile_context": chroma_profile_cosine(entry.chroma, context.chroma),
    }
    return {key: _nan_to_none(values[key]) for key in METRICS}


def _analysis_of(signal: np.ndarray | Analysis, sr: int, tracker: BeatTracker, name: str,
                 length: int, *, fit: bool = False) -> Analysis:
    """``signal`` analysed on the song timeline of ``length`` samples (checked, or fitted)."""
    if isinstance(signal, Analysis):
        if signal.tracker != tracker.name:
            raise MetricError(f"{name} was analysed with tracker {signal.tracker!r}, the "
                              f"evaluation uses {tracker.name!r}")
        if not fit and abs(signal.duration - length / sr) > 1e-3:
            raise MetricError(f"{name} analysis lasts {signal.duration:.3f} s, the generated "
                              f"stem {length / sr:.3f} s: both must cover the same song")
        return signal
    x = _check_audio(signal, sr, name)
    if fit:
        x = fit_length(x, length)
    elif x.size != length:
        raise MetricError(f"{name} has {x.size} samples, the generated stem {length}: both "
                          f"must cover the same song timeline (pad or cut with fit_length)")
    return analyze(x, sr, tracker)


def evaluate_stem(
    generated: np.ndarray,
    ground_truth: np.ndarray | Analysis,
    context: np.ndarray | Analysis,
    sr: int,
    *,
    span: tuple[float, float] | None = None,
    gt_beats: np.ndarray | None = None,
    other_song_stem: np.ndarray | Analysis | None = None,
    other_generated: np.ndarray | Analysis | None = None,
    tracker: str | BeatTracker = "dsp",
    skip_seconds: float = 0.0,
) -> dict:
    """Score a generated stem, its listening control and its references over the span.

    Args:
        generated: the generated stem, mono, on the song's timeline (sample 0 = song start).
        ground_truth: the true stem, same timeline and length (audio, or its
            :func:`analyze` result, which can be reused for every (r, w) of a song).
        context: the mixture without the target stem, same timeline and length.
        sr: sample rate of the audio arguments.
        span: ``(start_s, end_s)`` of the generated region; default the whole signal.
            Signals are analysed over their full length and events/frames kept in the span.
        gt_beats: annotated beat times (s, song timeline) when the data has them.
        other_song_stem: the same stem from a different song, aligned at 0 s; cut or
            zero-padded to this song's length. ``None``: the ``other_song`` entry is omitted.
        other_generated: the listening control: what the model generated, with the same
            seed and settings, for another song's input, on this song's timeline (cut or
            zero-padded). Scored against this song like ``generated``; ``None``: omitted.
        tracker: beat tracker name or object (see :func:`resolve_tracker`).
        skip_seconds: ignore the first seconds of the span for every metric and entry.

    Returns:
        ``{"span": [start_s, end_s], "tracker": name, "skip_seconds": s,
        "metrics": {entry: {metric: float | None}}, "events": {kind: {source: count}}}``
        with entries from :data:`ENTRIES` and metrics from :data:`METRICS`. ``None`` marks an
        undefined score (its reference has nothing in the span; ``beat_f1_annotated`` without
        ``gt_beats``).
    """
    gen = _check_audio(generated, sr, "generated")
    beat_tracker = _as_tracker(tracker)
    start_s, end_s = (0.0, gen.size / sr) if span is None else (float(span[0]), float(span[1]))
    _span_samples(gen.size, sr, (start_s, end_s))
    if not 0.0 <= skip_seconds:
        raise MetricError(f"skip_seconds must be >= 0, got {skip_seconds!r}")
    lo = start_s + skip_seconds
    if lo >= end_s:
        raise MetricError(f"skip_seconds={skip_seconds} leaves nothing of the span "
                          f"[{start_s:.3f}, {end_s:.3f}) s")

    analyses: dict[str, Analysis] = {
        "generated": analyze(gen, sr, beat_tracker),
        "ground_truth": _analysis_of(ground_truth, sr, beat_tracker, "ground_truth", gen.size),
    }
    analyses["silence"] = Analysis.silent(analyses["generated"].duration, beat_tracker.name)
    if other_song_stem is not None:
        analyses["other_song"] = _analysis_of(other_song_stem, sr, beat_tracker, "other_song",
                                              gen.size, fit=True)
    if other_generated is not None:
        analyses["other_generated"] = _analysis_of(other_generated, sr, beat_tracker,
                                                   "other_generated", gen.size, fit=True)
    context_full = _analysis_of(context, sr, beat_tracker, "context", gen.size)
    windowed = {k: analyses[k].restrict(lo, end_s) for k in ENTRIES if k in analyses}
    ctx = context_full.restrict(lo, end_s)
    annotated = None
    if gt_beats is not None:
        beats = np.sort(np.asarray(gt_beats, dtype=np.float64))
        annotated = beats[(beats >= lo) & (beats < end_s)]

    metrics = {k: _score_entry(a, windowed["ground_truth"], ctx, annotated)
               for k, a in windowed.items()}
    events = {
        "beats": {k: int(a.beats.size) for k, a in windowed.items()} | {
            "context": int(ctx.beats.size),
            "annotated": None if annotated is None else int(annotated.size)},
        "onsets": {k: int(a.onsets.size) for k, a in windowed.items()} | {
            "context": int(ctx.onsets.size)},
        "active_frames": {k: int(a.active.sum()) for k, a in windowed.items()} | {
            "context": int(ctx.active.sum())},
    }
    return {"span": [start_s, end_s], "tracker": beat_tracker.name,
            "skip_seconds": float(skip_seconds), "metrics": metrics, "events": events}


def embed_entries(
    generated: np.ndarray,
    ground_truth: np.ndarray,
    sr: int,
    *,
    span: tuple[float, float] | None = None,
    other_song_stem: np.ndarray | None = None,
    other_generated: np.ndarray | None = None,
    window_seconds: float = EMBED_WINDOW,
) -> dict[str, np.ndarray]:
    """:func:`embed` of each entry over the span, to pool per condition for the Fréchet distance.

    Returns ``{entry: (windows, EMBED_DIM)}`` for generated, ground_truth, silence and (when
    given) other_song and other_generated. Pool them over songs (see
    ``sideman.eval.report``), never per song.
    """
    gen = _check_audio(generated, sr, "generated")
    start_s, end_s = (0.0, gen.size / sr) if span is None else span
    signals: Mapping[str, np.ndarray] = {
        "generated": gen,
        "ground_truth": fit_length(_check_audio(ground_truth, sr, "ground_truth"), gen.size),
        "silence": np.zeros_like(gen),
    }
    if other_song_stem is not None:
        signals = {**signals, "other_song": fit_length(
            _check_audio(other_song_stem, sr, "other_song"), gen.size)}
    if other_generated is not None:
        signals = {**signals, "other_generated": fit_length(
            _check_audio(other_generated, sr, "other_generated"), gen.size)}
    return {k: embed(crop(x, sr, start_s, end_s), sr, window_seconds)
            for k, x in signals.items()}


# -- conditioning sensitivity -------------------------------------------------------------

def change_log_mel(audio: np.ndarray, sr: int) -> np.ndarray:
    """``(CHANGE_MELS, frames)`` log-mel power in dB re 1.0 (floored at
    :data:`MEL_FLOOR_DB`): the representation :func:`mel_change_db` compares."""
    y = to_analysis_rate(audio, sr)
    mel = librosa.feature.melspectrogram(y=y, sr=ANALYSIS_SR, n_fft=FRAME, hop_length=HOP,
                                         n_mels=CHANGE_MELS)
    return np.maximum(librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None),
                      MEL_FLOOR_DB)


def mel_change_db(a: np.ndarray, b: np.ndarray, sr: int,
                  span: tuple[float, float] | None = None) -> float:
    """Mean absolute log-mel difference (dB) of two signals on one timeline over ``span``
    (frames whose centre lies in it; default the whole signal), both floored
    :data:`CHANGE_RANGE_DB` below the louder one's peak in the span. 0 for identical
    signals."""
    x = _check_audio(a, sr, "a")
    y = fit_length(_check_audio(b, sr, "b"), x.size)
    start_s, end_s = (0.0, x.size / sr) if span is None else (float(span[0]), float(span[1]))
    _span_samples(x.size, sr, (start_s, end_s))
    ma, mb = change_log_mel(x, sr), change_log_mel(y, sr)
    times = frame_times(ma.shape[1])
    keep = (times >= start_s) & (times < end_s)
    if not keep.any():
        raise MetricError(f"span [{start_s:.3f}, {end_s:.3f}) s holds no analysis frame")
    ma, mb = ma[:, keep], mb[:, keep]
    floor = max(ma.max(), mb.max()) - CHANGE_RANGE_DB
    return float(np.mean(np.abs(np.maximum(ma, floor) - np.maximum(mb, floor))))


def conditioning_sensitivity(generated: np.ndarray, swapped: np.ndarray,
                             reseeded: np.ndarray | None, sr: int,
                             span: tuple[float, float] | None = None) -> dict[str, float | None]:
    """How much the output follows its input, against how much it follows its seed.

    ``swapped``: the same seed and settings with another song's input; ``reseeded``: this
    song's input with another seed. Returns ``context_change_db`` (:func:`mel_change_db` of
    generated and swapped), ``seed_change_db`` (of generated and reseeded; ``None`` without
    it) and ``sensitivity`` = their ratio (``None`` when the seed changes nothing). A model
    that ignores its input scores 0; one whose output changes as much with the music as with
    the seed scores 1.
    """
    context = mel_change_db(generated, swapped, sr, span)
    seed = None if reseeded is None else mel_change_db(generated, reseeded, sr, span)
    ratio = None if seed is None or seed <= 0 else context / seed
    return {"context_change_db": context, "seed_change_db": seed, "sensitivity": ratio}


# -- files (a small demo; the sweep calls the functions above) -----------------------------

def load_mono(path: str | Path, sr: int | None = None) -> tuple[np.ndarray, int]:
    """A sound file as mono float32 (channels averaged), resampled to ``sr`` when given."""
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if sr is not None and sr != rate:
        mono = soxr.resample(mono, rate, sr, quality="HQ").astype(np.float32)
        rate = sr
    return mono, int(rate)


def evaluate_files(generated: str | Path, ground_truth: str | Path,
                   context: str | Path | None = None, *, other_song: str | Path | None = None,
                   span: tuple[float, float] | None = None,
                   tracker: str | BeatTracker = "dsp") -> dict:
    """:func:`evaluate_stem` on sound files (the context defaults to the ground truth).

    Every file is read as mono at the generated file's rate; the ground truth and context
    are cut or zero-padded to the generated file's length.
    """
    gen, sr = load_mono(generated)
    truth = fit_length(load_mono(ground_truth, sr)[0], gen.size)
    ctx = truth if context is None else fit_length(load_mono(context, sr)[0], gen.size)
    other = None if other_song is None else load_mono(other_song, sr)[0]
    return evaluate_stem(gen, truth, ctx, sr, span=span, other_song_stem=other,
                         tracker=tracker)
