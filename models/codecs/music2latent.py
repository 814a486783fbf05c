"""Music2Latent codec adapter: the package's own ``UNet`` and encode/decode functions, offline.

music2latent 0.1.8's ``EncoderDecoder`` downloads weights from the Hugging Face hub in its
constructor, which fails offline. This adapter builds the package's ``UNet`` itself, loads a
checkpoint in the package's format (a dict holding ``gen_state_dict``) from a path the user
gives or from the package's default location, and calls the package's
``encode_audio_inference`` / ``decode_latent_inference``.

Units: 44.1 kHz, 4096 samples per latent frame (STFT hop 512, time downsampling 8),
64 channels (latents divided by the package's ``sigma_rescale``); 64 frames ≈ 5.94 s.

Alignment: the package's STFT has no centre padding, so the audio is padded by 768 samples
on each side (``(n_fft - hop)/2`` with ``n_fft = 2048``); latent frame ``j`` then covers
samples ``[4096·j, 4096·(j+1))`` and the decoded waveform is cropped by the same 768 samples.

Speed: it is a GPU codec. On a 2-core CPU it encodes 6 s in seconds, not milliseconds.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .base import Codec, CodecError

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
STFT_HOP = 512
TIME_DOWNSAMPLING = 8
HOP_LENGTH = STFT_HOP * TIME_DOWNSAMPLING
LATENT_CHANNELS = 64
EDGE_PAD = (4 * STFT_HOP - STFT_HOP) // 2  # the package's n_fft = 4·hop, no centring

#: Architecture hyper-parameters of the package that may be overridden (e.g. to build a tiny
#: model for tests). Anything that changes the units (hop, channels, downsampling) may not.
ARCHITECTURE_KEYS = (
    "base_channels", "layers_list", "multipliers_list", "attention_list",
    "layers_list_encoder", "attention_list_encoder", "bottleneck_base_channels",
    "num_bottleneck_layers", "heads", "cond_channels",
)
_LIST_KEYS = ("layers_list", "multipliers_list", "attention_list", "layers_list_encoder",
              "attention_list_encoder")

# The package keeps its hyper-parameters as module globals read by its classes at
# construction time; building a model with overrides patches them for the duration of the
# constructor only. The lock serialises such constructions across threads.
_BUILD_LOCK = threading.Lock()


def default_weights_path() -> Path:
    """Where the package itself keeps (and, online, downloads) ``music2latent.pt``."""
    from music2latent import hparams_inference

    return Path(hparams_inference.load_path_inference_default)


@contextlib.contextmanager
def _patched_hparams(overrides: Mapping[str, Any]) -> Iterator[None]:
    from music2latent import models as m2l_models

    saved = {key: getattr(m2l_models, key) for key in overrides}
    try:
        for key, value in overrides.items():
            setattr(m2l_models, key, list(value) if key in _LIST_KEYS else value)
        yield
    finally:
        for key, value in saved.items():
            setattr(m2l_models, key, value)


def check_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """Validate architecture overrides; returns a JSON-friendly copy."""
    unknown = sorted(set(hparams) - set(ARCHITECTURE_KEYS))
    if unknown:
        raise CodecError(f"music2latent hparams {unknown} cannot be overridden; allowed: "
                         f"{', '.join(ARCHITECTURE_KEYS)}")
    clean: dict[str, Any] = {}
    for key, value in hparams.items():
        if key in _LIST_KEYS:
            if len(value) != 5:
                raise CodecError(f"music2latent {key} needs 5 entries (one per resolution), "
                                 f"got {list(value)}")
            clean[key] = [int(v) for v in value]
        else:
            clean[key] = int(value)
    return clean


def build_unet(hparams: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """The package's ``UNet`` (encoder + consistency decoder), optionally with overrides."""
    from music2latent import models as m2l_models

    overrides = check_hparams(hparams or {})
    with _BUILD_LOCK, _patched_hparams(overrides):
        return m2l_models.UNet()


def save_package_checkpoint(unet: torch.nn.Module, path: str | Path) -> None:
    """Write ``unet`` in the package's checkpoint format (``{"gen_state_dict": ...}``)."""
    torch.save({"gen_state_dict": unet.state_dict()}, Path(path))


class _Trainer:
    """The attribute bag the package's inference functions expect (``trainer.gen``)."""

    def __init__(self, gen: torch.nn.Module) -> None:
        self.gen = gen


class Music2LatentCodec(Codec):
    """Music2Latent as a :class:`Codec` (see the module docstring)."""

    name = "music2latent"
    LATENT_KEYS = ("hparams",)

    def __init__(
        self,
        weights: str | Path | None = None,
        hparams: Mapping[str, Any] | None = None,
        decode_steps: int = 1,
        context_frames: Sequence[int] = (2, 2),
        decode_context_frames: int = 2,
        allow_pickle: bool = False,
        device: str | torch.device = "cpu",
    ) -> None:
        if decode_steps < 1:
            raise CodecError(f"decode_steps must be >= 1, got {decode_steps}")
        self.sample_rate = SAMPLE_RATE
        self.hop_length = HOP_LENGTH
        self.latent_channels = LATENT_CHANNELS
        self.hparams = check_hparams(hparams or {})
        self.decode_steps = int(decode_steps)
        left, right = (int(v) for v in context_frames)
        self.context_frames = (left, right)
        self.decode_context_frames = int(decode_context_frames)
        self.device = torch.device(device)
        self.weights = Path(weights) if weights is not None else default_weights_path()
        gen = build_unet(self.hparams)
        gen.load_state_dict(self._load_state_dict(gen, allow_pickle), strict=False)
        self._trainer = _Trainer(gen.to(self.device).eval())
        self._silence: torch.Tensor | None = None

    def _load_state_dict(self, gen: torch.nn.Module, allow_pickle: bool
                         ) -> dict[str, torch.Tensor]:
        path = self.weights
        if not path.is_file():
            raise CodecError(
                f"music2latent weights not found at {path}. Get music2latent.pt once while "
                f"online: `python -c \"from music2latent.utils import download_model; "
                f"download_model()\"` stores it at {default_weights_path()} (or download it "
                f"from https://huggingface.co/SonyCSLParis/music2latent) and pass its path "
                f"with --codec-weights PATH (Python: codec_weights=PATH)."
            )
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            if not allow_pickle:
                raise CodecError(
                    f"{path} holds more than tensors, so it cannot be loaded safely "
                    f"(weights_only=True failed: {exc}). If you trust the file, pass "
                    f"allow_pickle=True."
                ) from exc
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(checkpoint, dict) or "gen_state_dict" not in checkpoint:
            raise CodecError(f"{path} is not a music2latent checkpoint (no 'gen_state_dict')")
        state = checkpoint["gen_state_dict"]
        expected = gen.state_dict()
        missing = [k for k in expected if k not in state]
        wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
        if missing or wrong:
            raise CodecError(
                f"{path} does not fit the music2latent model built with hparams "
                f"{self.hparams or 'defaults'}: {len(missing)} missing tensors "
                f"{missing[:3]}, {len(wrong)} of another shape {wrong[:3]}"
            )
        extra = [k for k in state if k not in expected]
        if extra:
            log.debug("music2latent checkpoint has %d unused tensors", len(extra))
        return state

    def params(self) -> dict[str, Any]:
        return {"hparams": dict(self.hparams), "decode_steps": self.decode_steps,
                "context_frames": list(self.context_frames),
                "decode_context_frames": self.decode_context_frames}

    @torch.no_grad()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        from music2latent.inference import encode_audio_inference

        self._check_audio(audio)
        padded = torch.nn.functional.pad(audio.to(self.device, torch.float32),
                                         (EDGE_PAD, EDGE_PAD))
        with warnings.catch_warnings():  # its CUDA autocast warns (and is off) on CPU
            warnings.simplefilter("ignore", UserWarning)
            latent = encode_audio_inference(padded, self._trainer, padded.shape[-1],
                                            padded.shape[0], device=self.device)
        frames = audio.shape[-1] // self.hop_length
        if latent.shape[-1] != frames:  # pragma: no cover - guards the alignment above
            raise CodecError(f"music2latent returned {latent.shape[-1]} frames for "
                             f"{frames} frames of audio")
        return latent.float()

    @torch.no_grad()
    def decode(self, latent: torch.Tensor, *, skip_frames: int = 0,
               seeds: Sequence[int] | None = None) -> torch.Tensor:
        from music2latent.inference import decode_latent_inference

        self._check_latent(latent, skip_frames, seeds)
        latent = latent.to(self.device, torch.float32)
        frames = latent.shape[-1]
        max_length = frames * self.hop_length + 2 * EDGE_PAD

        def run(items: torch.Tensor) -> torch.Tensor:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return decode_latent_inference(items, self._trainer, max_length, items.shape[0],
                                               diffusion_steps=self.decode_steps,
                                               device=self.device)

        if seeds is None:
            audio = run(latent)
        else:
            # The package draws its decoder noise from torch's global generator: seed a
            # forked copy per item so items are reproducible and batch-independent.
            parts = []
            for item, seed in zip(latent, seeds, strict=True):
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(int(seed))
                    parts.append(run(item[None]))
            audio = torch.cat(parts)
        start = EDGE_PAD + skip_frames * self.hop_length
        return audio[:, start:start + (frames - skip_frames) * self.hop_length].float()

    def silence_latent(self) -> torch.Tensor:
        if self._silence is None:  # costly on CPU: compute once per codec
            self._silence = super().silence_latent()
        return self._silence
