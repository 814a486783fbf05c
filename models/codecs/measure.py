"""Measure a codec: does its reconstruction keep beats and onsets, and how fast is it?

The test signal is a constructed song with known beats (kick, snare, hi-hat, bass notes at a
given tempo). Beats and onsets are tracked with librosa in the original and in the
reconstruction and compared with mir_eval (beat F-measure ±70 ms, onset F-measure ±50 ms).
Speed is encode and decode time as a multiple of real time. The command is
``sideman measure codec`` (docs/MODELS.md).
"""

from __future__ import annotations

import time
from typing import Any

import librosa
import mir_eval
import numpy as np
import torch

from .base import Codec


def synthetic_song(sample_rate: int, seconds: float, bpm: float, seed: int = 0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A drum-and-bass loop with known timing.

    Returns ``(audio float32 (N,), beat_times (s), onset_times (s))``: kick on beats 1 and 3,
    snare on 2 and 4, closed hi-hat on every eighth, a bass note on every beat.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    audio = np.zeros(n, dtype=np.float64)
    beat = 60.0 / bpm
    beats = np.arange(0.25, seconds - 0.5, beat)
    t = np.arange(int(0.4 * sample_rate)) / sample_rate

    def add(at: float, sound: np.ndarray) -> None:
        i = round(at * sample_rate)
        m = min(len(sound), n - i)
        audio[i:i + m] += sound[:m]

    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 12)
    noise = rng.standard_normal(len(t))
    snare = (0.5 * noise + 0.5 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 25)
    hat = np.diff(noise, prepend=0.0) * np.exp(-t * 90) * 0.25
    notes = librosa.midi_to_hz(np.array([33, 36, 38, 40, 43, 45]))
    onsets = []
    for i, b in enumerate(beats):
        add(b, 0.9 * kick if i % 2 == 0 else 0.6 * snare)
        add(b, 0.3 * hat)
        add(b + beat / 2, 0.3 * hat)
        f0 = rng.choice(notes)
        bass = np.sign(np.sin(2 * np.pi * f0 * t)) * 0.5 + np.sin(2 * np.pi * f0 * t)
        add(b, 0.25 * bass * np.exp(-t * 4))
        onsets += [b, b + beat / 2]
    audio /= np.abs(audio).max() * 1.25
    return audio.astype(np.float32), beats, np.asarray(onsets)


def _track(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    _, beat_frames = librosa.beat.beat_track(y=audio, sr=sample_rate, units="time")
    onsets = librosa.onset.onset_detect(y=audio, sr=sample_rate, units="time")
    return np.asarray(beat_frames), np.asarray(onsets)


def measure_codec(codec: Codec, *, seconds: float, bpms: tuple[float, ...] = (97, 120, 143),
                  repeats: int = 3) -> dict[str, Any]:
    """Beat/onset agreement of the reconstruction with the original, and speed (× real time)."""
    sr = codec.sample_rate
    rows = []
    for bpm in bpms:
        audio, true_beats, true_onsets = synthetic_song(sr, seconds, bpm)
        n = len(audio) // codec.hop_length * codec.hop_length
        audio = audio[:n]
        x = torch.from_numpy(audio)[None]
        latent = codec.encode(x)
        recon = codec.decode(latent, seeds=[0])[0].numpy()
        ref_beats, ref_onsets = _track(audio, sr)
        est_beats, est_onsets = _track(recon, sr)
        relatent = codec.encode(torch.from_numpy(recon)[None])
        rows.append({
            "bpm": bpm,
            "beat_f1_recon_vs_orig": mir_eval.beat.f_measure(ref_beats, est_beats),
            "beat_f1_orig_vs_truth": mir_eval.beat.f_measure(true_beats, ref_beats),
            "beat_f1_recon_vs_truth": mir_eval.beat.f_measure(true_beats, est_beats),
            "onset_f1_recon_vs_orig": mir_eval.onset.f_measure(ref_onsets, est_onsets,
                                                               window=0.05)[0],
            "onset_f1_recon_vs_truth": mir_eval.onset.f_measure(true_onsets, est_onsets,
                                                                window=0.05)[0],
            "latent_rmse_reencoded": float((relatent - latent).pow(2).mean().sqrt()),
            "latent_mean": float(latent.mean()), "latent_std": float(latent.std()),
        })
    # Speed: whole song, and one step's worth (hop 32 frames + context) as the pipeline does.
    x = torch.from_numpy(synthetic_song(sr, seconds, 120)[0][:n])[None]
    latent = codec.encode(x)

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    step_frames = 32 + 4 + codec.decode_context_frames
    enc = best(lambda: codec.encode(x))
    dec = best(lambda: codec.decode(latent, seeds=[0]))
    dec_step = best(lambda: codec.decode(latent[..., :step_frames],
                                         skip_frames=codec.decode_context_frames, seeds=[0]))
    dec_step4 = best(lambda: codec.decode(latent[..., :step_frames].expand(4, -1, -1),
                                          skip_frames=codec.decode_context_frames,
                                          seeds=[0, 1, 2, 3]))
    step_seconds = (step_frames - codec.decode_context_frames) * codec.hop_length / sr
    summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "bpm"}
    return {
        "codec": codec.name, "params": codec.params(), "torch_threads": torch.get_num_threads(),
        "per_tempo": rows, "mean": summary,
        "speed": {
            "encode_x_realtime": seconds / enc, "decode_x_realtime": seconds / dec,
            "decode_step_ms_1_stem": 1000 * dec_step, "decode_step_ms_4_stems": 1000 * dec_step4,
            "decode_step_seconds_of_audio": step_seconds,
        },
    }
