"""Render MIDI stems with a General MIDI soundfont and mix them down without clipping.

``midirenderer`` (a Rust soundfont synthesiser, no system library) renders a MIDI file to
48 kHz stereo 16-bit WAV bytes. Each stem is rendered from its own MIDI file, so stems are
exactly isolated and the mix is their sum.

Timing: the synthesiser processes MIDI events at the start of the 64-sample block after the
event (measured: an event at sample ``s`` sounds from ``(s // 64 + 1) * 64``), so a note is
late by 1–64 samples, 32.5 on average. :data:`RENDER_LATENCY` removes the average; what is
left is within ±0.7 ms of the MIDI time (plus the attack of the instrument sample).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

#: The General MIDI soundfont bundled with pretty_midi.
SOUNDFONT_NAME = "TimGM6mb.sf2"
#: midirenderer's output sample rate.
RENDER_RATE = 48000
#: Average render delay at 48 kHz removed from every stem (see the module docstring).
RENDER_LATENCY = 32
#: Target active RMS level of each stem before the song gain, in dBFS (±3 dB per song).
STEM_LEVELS_DB: dict[str, float] = {"bass": -21.0, "drums": -20.0, "guitar": -23.0,
                                    "piano": -23.0}
#: Range of the mix's peak after the song gain, in dBFS (always below full scale).
PEAK_RANGE_DB = (-6.0, -1.0)
_FULL_SCALE = 32767


def soundfont_path() -> Path:
    """Path of pretty_midi's bundled GM soundfont (no download needed)."""
    import pretty_midi

    path = Path(pretty_midi.__file__).parent / SOUNDFONT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{SOUNDFONT_NAME} not found next to pretty_midi ({path}); "
                                "reinstall pretty_midi, which ships it")
    return path


def render_midi(midi: bytes, soundfont: bytes, num_samples: int) -> np.ndarray:
    """Render MIDI bytes to mono float32 at :data:`RENDER_RATE`, latency removed.

    The result has exactly ``num_samples`` samples (zero-padded or cut).
    """
    import midirenderer

    wav = midirenderer.render_wave_from(soundfont, midi)
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    if rate != RENDER_RATE:
        raise RuntimeError(f"midirenderer returned {rate} Hz, expected {RENDER_RATE} Hz")
    mono = audio.mean(axis=1)[RENDER_LATENCY:]
    out = np.zeros(num_samples, dtype=np.float32)
    n = min(num_samples, len(mono))
    out[:n] = mono[:n]
    return out


def resample(audio: np.ndarray, rate_in: int, rate_out: int, num_samples: int) -> np.ndarray:
    """Resample with soxr (deterministic, delay-compensated) to exactly ``num_samples``."""
    if rate_in != rate_out:
        audio = soxr.resample(audio, rate_in, rate_out, quality="HQ")
    out = np.zeros(num_samples, dtype=np.float32)
    n = min(num_samples, len(audio))
    out[:n] = audio[:n]
    return out


def active_rms(audio: np.ndarray, sample_rate: int, frame_seconds: float = 0.05,
               rel_threshold_db: float = -30.0) -> float:
    """RMS over the frames within ``rel_threshold_db`` of the loudest frame (0 if silent)."""
    frame = max(1, int(frame_seconds * sample_rate))
    n = len(audio) // frame
    if n == 0:
        return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    frames = audio[: n * frame].astype(np.float64).reshape(n, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    top = rms.max()
    if top <= 0:
        return 0.0
    active = rms[rms >= top * 10 ** (rel_threshold_db / 20)]
    return float(np.sqrt(np.mean(active**2)))


def db(x: float) -> float | None:
    """Decibels of an amplitude, ``None`` for silence (JSON-friendly)."""
    return float(20 * np.log10(x)) if x > 0 else None


@dataclass(frozen=True)
class MixResult:
    """Stems and mix as 16-bit integers (the mix is exactly the sum of the stems)."""

    stems: dict[str, np.ndarray]
    mix: np.ndarray
    #: Gain applied to each rendered stem (balance × song gain), linear.
    gains: dict[str, float]
    #: Active RMS of each stem and the mix after mixing, dBFS (None when silent).
    levels_db: dict[str, float | None]
    peak_db: float | None


def mix_down(stems: dict[str, np.ndarray], sample_rate: int,
             rng: np.random.Generator) -> MixResult:
    """Balance the stems, apply one song gain to all of them and quantise to 16 bits.

    Each stem is brought to its :data:`STEM_LEVELS_DB` level ±3 dB, then one gain (the same
    for every stem) puts the louder of the mix peak and any stem peak at a random level in
    :data:`PEAK_RANGE_DB`, so nothing clips. The quantised mix is the integer sum of the
    quantised stems, so ``mix - stem`` is exactly the sum of the other stems.
    """
    balance: dict[str, float] = {}
    for name, audio in stems.items():
        level = active_rms(audio, sample_rate)
        target = STEM_LEVELS_DB[name] + float(rng.uniform(-3.0, 3.0))
        balance[name] = 10 ** (target / 20) / level if level > 0 else 0.0
    peak_db = float(rng.uniform(*PEAK_RANGE_DB))
    mixed = sum(stems[n].astype(np.float64) * balance[n] for n in stems)
    peak = max([float(np.abs(mixed).max())] +
               [float(np.abs(stems[n]).max()) * balance[n] for n in stems])
    song_gain = 10 ** (peak_db / 20) / peak if peak > 0 else 1.0
    out: dict[str, np.ndarray] = {}
    gains: dict[str, float] = {}
    for name, audio in stems.items():
        gains[name] = balance[name] * song_gain
        scaled = np.round(audio.astype(np.float64) * gains[name] * _FULL_SCALE)
        out[name] = scaled.astype(np.int16)
    total = np.sum([out[n].astype(np.int32) for n in out], axis=0)
    if np.abs(total).max(initial=0) > _FULL_SCALE:  # cannot happen with the peak rule
        raise RuntimeError("mix exceeds 16-bit full scale")
    mix = total.astype(np.int16)
    levels: dict[str, float | None] = {
        n: db(active_rms(out[n] / _FULL_SCALE, sample_rate)) for n in out}
    levels["mix"] = db(active_rms(mix / _FULL_SCALE, sample_rate))
    true_peak = float(np.abs(mix).max(initial=0)) / _FULL_SCALE
    return MixResult(out, mix, gains, levels, db(true_peak))
