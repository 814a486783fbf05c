"""Built-in codec: normalised log-mel frames, decoded by fast Griffin-Lim. No weights.

Encoding is a Hann-windowed STFT (``n_fft`` samples, hop ``hop_length``) of the audio
zero-padded by ``(n_fft - hop_length) / 2`` on each side, so frame ``j`` is centred on the
middle of its own hop span ``[j·hop, (j+1)·hop)``; its magnitude goes through a mel
filterbank (librosa's, triangles of peak 1), to dB relative to a full-scale sine, and is
normalised to roughly unit scale: ``(dB - db_offset) / db_scale``, floored at ``db_floor``.

Decoding inverts the normalisation, maps mel to linear magnitudes with the filterbank's
pseudo-inverse and recovers a phase with the fast Griffin-Lim algorithm (Perraudin, Balazs
& Søndergaard, "A fast Griffin-Lim algorithm", WASPAA 2013): alternating projections with
momentum ``gl_momentum``. Everything is batched torch on the model's device.

Units with the defaults: 22050 Hz, 512 samples (23.2 ms) per frame, 64 channels; a window of
256 frames is 131072 samples (5.94 s). Frame ``j`` depends on samples
``[j·hop - pad, j·hop + hop + pad)`` with ``pad = 768``: two frames at each end of an encoding
see audio outside it (``context_frames = (2, 2)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import librosa
import torch
import torch.nn.functional as F

from .base import Codec, CodecError


class MelCodec(Codec):
    """Log-mel codec with fast Griffin-Lim decoding (see the module docstring)."""

    name = "mel"
    LATENT_KEYS = ("sample_rate", "hop_length", "n_fft", "n_mels", "fmin", "fmax", "db_floor",
                   "db_offset", "db_scale")

    def __init__(
        self,
        sample_rate: int = 22050,
        hop_length: int = 512,
        n_fft: int = 2048,
        n_mels: int = 64,
        fmin: float = 0.0,
        fmax: float | None = None,
        db_floor: float = -100.0,
        db_offset: float = -50.0,
        db_scale: float = 25.0,
        gl_iters: int = 16,
        gl_momentum: float = 0.99,
        decode_context_frames: int = 8,
        device: str | torch.device = "cpu",
    ) -> None:
        if n_fft < hop_length or (n_fft - hop_length) % 2:
            raise CodecError(f"n_fft must be >= hop_length and n_fft - hop_length even, got "
                             f"n_fft={n_fft}, hop_length={hop_length}")
        if gl_iters < 0 or not 0.0 <= gl_momentum < 1.0:
            raise CodecError(f"gl_iters must be >= 0 and gl_momentum in [0, 1), got "
                             f"{gl_iters}, {gl_momentum}")
        if db_scale <= 0 or decode_context_frames < 0:
            raise CodecError("db_scale must be > 0 and decode_context_frames >= 0")
        self.sample_rate = int(sample_rate)
        self.hop_length = int(hop_length)
        self.n_fft = int(n_fft)
        self.latent_channels = int(n_mels)
        self.fmin = float(fmin)
        self.fmax = float(fmax) if fmax is not None else self.sample_rate / 2
        self.db_floor = float(db_floor)
        self.db_offset = float(db_offset)
        self.db_scale = float(db_scale)
        self.gl_iters = int(gl_iters)
        self.gl_momentum = float(gl_momentum)
        self.decode_context_frames = int(decode_context_frames)
        self.pad = (self.n_fft - self.hop_length) // 2
        edge = math.ceil(self.pad / self.hop_length)
        self.context_frames = (edge, edge)
        self.device = torch.device(device)

        fb = librosa.filters.mel(sr=self.sample_rate, n_fft=self.n_fft, n_mels=n_mels,
                                 fmin=self.fmin, fmax=self.fmax, norm=None)
        self._mel = torch.from_numpy(fb).to(self.device)  # (C, bins)
        self._mel_pinv = torch.linalg.pinv(self._mel)  # (bins, C)
        self._window = torch.hann_window(self.n_fft, periodic=True, device=self.device)
        # A full-scale sine peaks at sum(window)/2 in |STFT|: that is 0 dB.
        self._ref = float(self._window.sum()) / 2

    def params(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate, "hop_length": self.hop_length,
            "n_fft": self.n_fft, "n_mels": self.latent_channels, "fmin": self.fmin,
            "fmax": self.fmax, "db_floor": self.db_floor, "db_offset": self.db_offset,
            "db_scale": self.db_scale, "gl_iters": self.gl_iters,
            "gl_momentum": self.gl_momentum, "decode_context_frames": self.decode_context_frames,
        }

    # -- STFT on this codec's frame grid --------------------------------------------------
    def _stft(self, padded: torch.Tensor) -> torch.Tensor:
        """``(B, pad + N + pad)`` → complex ``(B, N // hop, bins)`` (frames-major, contiguous)."""
        frames = padded.unfold(-1, self.n_fft, self.hop_length) * self._window
        return torch.fft.rfft(frames, dim=-1)

    def _istft(self, spec: torch.Tensor) -> torch.Tensor:
        """Least-squares inverse of :meth:`_stft`: complex ``(B, F, bins)`` → ``(B, pad+N+pad)``."""
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self._window
        norm = self._overlap_add((self._window**2).expand(1, frames.shape[1], -1))[0]
        return self._overlap_add(frames) / norm.clamp(min=1e-8)

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, F, n_fft)`` frames hop_length apart → ``(B, (F-1)·hop + n_fft)`` signal."""
        b, count, _ = frames.shape
        if self.n_fft % self.hop_length == 0:  # sum R shifted block views: fast
            r = self.n_fft // self.hop_length
            blocks = frames.reshape(b, count, r, self.hop_length)
            out = frames.new_zeros(b, count + r - 1, self.hop_length)
            for i in range(r):
                out[:, i:i + count] += blocks[:, :, i]
            return out.reshape(b, -1)
        length = (count - 1) * self.hop_length + self.n_fft
        return F.fold(frames.transpose(1, 2), output_size=(1, length),
                      kernel_size=(1, self.n_fft), stride=(1, self.hop_length))[:, 0, 0]

    # -- codec ----------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        self._check_audio(audio)
        padded = F.pad(audio.to(self.device, torch.float32), (self.pad, self.pad))
        magnitude = self._stft(padded).abs().transpose(1, 2)  # (B, bins, F)
        mel = torch.matmul(self._mel, magnitude) / self._ref
        db = 20.0 * torch.log10(mel.clamp(min=10.0 ** (self.db_floor / 20.0)))
        return (db - self.db_offset) / self.db_scale

    #: dB above the reference that the latent bounds allow (full-scale test signals
    #: reach about +8 dB; the rest is headroom).
    HEADROOM_DB = 12.5

    def latent_bounds(self) -> tuple[float, float]:
        low = (self.db_floor - self.db_offset) / self.db_scale
        return low, (self.HEADROOM_DB - self.db_offset) / self.db_scale

    def magnitude(self, latent: torch.Tensor) -> torch.Tensor:
        """``(B, C, F)`` latent → linear STFT magnitude ``(B, bins, F)`` (pseudo-inverse mel)."""
        db = (latent.to(self.device, torch.float32) * self.db_scale + self.db_offset)
        mel = 10.0 ** (db.clamp(min=self.db_floor) / 20.0) * self._ref
        return torch.matmul(self._mel_pinv, mel).clamp(min=0.0)

    @torch.no_grad()
    def decode(self, latent: torch.Tensor, *, skip_frames: int = 0,
               seeds: Sequence[int] | None = None) -> torch.Tensor:
        self._check_latent(latent, skip_frames, seeds)
        magnitude = self.magnitude(latent).transpose(1, 2).contiguous()  # (B, F, bins)
        phase = self._initial_phase(magnitude.shape, seeds)
        spec = griffin_lim(magnitude, phase, self._stft, self._istft,
                           iters=self.gl_iters, momentum=self.gl_momentum)
        audio = self._istft(spec)
        start = self.pad + skip_frames * self.hop_length
        return audio[:, start:start + (latent.shape[-1] - skip_frames) * self.hop_length]

    def _initial_phase(self, shape: torch.Size, seeds: Sequence[int] | None) -> torch.Tensor:
        """Uniform random phase per item (zero phase without seeds); unit-modulus complex."""
        if seeds is None:
            return torch.ones(shape, dtype=torch.complex64, device=self.device)
        angles = []
        for seed in seeds:
            gen = torch.Generator(device="cpu").manual_seed(int(seed))
            angles.append(torch.rand(shape[1:], generator=gen) * (2 * math.pi))
        return torch.polar(torch.ones(shape), torch.stack(angles)).to(self.device)


def griffin_lim(magnitude: torch.Tensor, phase: torch.Tensor, stft, istft, *, iters: int,
                momentum: float) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013, Alg. 2): a consistent spectrogram with |·| ≈ mag.

    ``magnitude`` real and ``phase`` unit-modulus complex, same shape; ``stft``/``istft`` a
    frame-exact pair in that layout. Returns the complex spectrogram ``t_N``.
    """
    estimate = magnitude * phase
    previous = estimate
    for _ in range(iters):
        projected = magnitude * torch.sgn(stft(istft(estimate)))
        estimate = projected + momentum * (projected - previous)
        previous = projected
    return previous if iters else estimate
