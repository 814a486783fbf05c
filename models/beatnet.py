"""A small learned beat tracker: where the beats are in what the performer plays.

The server follows a beat grid it tracks in the heard mixture when the host sends no
transport (:mod:`.tempo`). An onset envelope marks every note; on a mix without drums it
locks onto off-beats or the wrong tempo about half the time. :class:`BeatNet` is a
non-causal temporal convolution network (dilated residual 1-D convolutions over log-mel
frames, the family of TCN beat trackers) that outputs, per frame, the logit that a beat
(channel 0) or a downbeat (channel 1) falls there. Its sigmoid replaces the onset envelope
as the input of the same beat tracker, so everything after it (tempo, the fitted grid,
the stream's memory) is unchanged.

Weights are a ``config.json`` (:class:`BeatNetConfig`) and ``model.safetensors`` in one
directory; :data:`DEFAULT_DIR` ships with the package (``sideman train beats`` makes one).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import librosa
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

#: The shipped tracker's weights.
DEFAULT_DIR = Path(__file__).parent / "weights" / "beats"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class BeatNetError(ValueError):
    """A beat tracker's directory that cannot be loaded."""


@dataclass(frozen=True)
class BeatNetConfig:
    """The features and the network's shape (saved as ``config.json``)."""

    sample_rate: int = 22050
    hop: int = 512
    n_fft: int = 2048
    n_mels: int = 64
    fmax: float = 8000.0
    channels: int = 32
    kernel: int = 5
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    dropout: float = 0.1

    @classmethod
    def from_dict(cls, data: dict) -> BeatNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BeatNetError(f"unknown beat tracker config keys {unknown}; allowed: "
                               f"{sorted(known)}")
        values = dict(data)
        if "dilations" in values:
            values["dilations"] = tuple(int(d) for d in values["dilations"])
        return cls(**values)


def features(audio: np.ndarray, config: BeatNetConfig) -> np.ndarray:
    """Log-mel power of mono ``audio`` at ``config.sample_rate``: ``(n_mels, frames)``
    float32, frame ``f`` centred on sample ``f·hop`` (librosa's framing, as the onset
    envelope's)."""
    return log_mel(mel_power(audio, config))


def mel_power(audio: np.ndarray, config: BeatNetConfig) -> np.ndarray:
    """Mel power spectrogram (additive across sources up to their phases: training mixes
    stems here)."""
    return librosa.feature.melspectrogram(
        y=np.asarray(audio, np.float32), sr=config.sample_rate, n_fft=config.n_fft,
        hop_length=config.hop, n_mels=config.n_mels, fmax=config.fmax).astype(np.float32)


def log_mel(power: np.ndarray) -> np.ndarray:
    return np.log1p(1000.0 * power).astype(np.float32)


class _Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation,
                              padding=dilation * (kernel - 1) // 2)
        self.norm = nn.GroupNorm(1, channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(nn.functional.elu(self.norm(self.conv(x))))


class BeatNet(nn.Module):
    """Log-mel frames ``(batch, n_mels, frames)`` → beat and downbeat logits ``(batch, 2,
    frames)``."""

    def __init__(self, config: BeatNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.front = nn.Sequential(nn.Conv1d(config.n_mels, c, 3, padding=1), nn.ELU())
        self.blocks = nn.Sequential(*(_Block(c, config.kernel, d, config.dropout)
                                      for d in config.dilations))
        self.head = nn.Conv1d(c, 2, 1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.front(mel)))

    @torch.no_grad()
    def activation(self, audio: np.ndarray) -> np.ndarray:
        """Beat and downbeat probabilities ``(2, frames)`` of mono audio at the config's
        rate (one frame per ``hop`` samples)."""
        was = self.training
        self.eval()
        mel = torch.from_numpy(features(audio, self.config))[None]
        out = torch.sigmoid(self(mel))[0].numpy()
        self.train(was)
        return out

    def save(self, directory: str | Path) -> None:
        """Write ``config.json`` and float32 ``model.safetensors`` into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        config = asdict(self.config)
        config["dilations"] = list(self.config.dilations)
        (out / CONFIG_NAME).write_text(json.dumps(config, indent=1) + "\n")
        save_file({k: v.detach().contiguous().float() for k, v in self.state_dict().items()},
                  str(out / WEIGHTS_NAME))


def load_beat_net(directory: str | Path = DEFAULT_DIR) -> BeatNet:
    """The tracker saved in ``directory`` (:meth:`BeatNet.save`), in eval mode; a missing
    or unreadable file is a :class:`BeatNetError` that names it."""
    root = Path(directory)
    missing = [name for name in (CONFIG_NAME, WEIGHTS_NAME) if not (root / name).is_file()]
    if missing:
        raise BeatNetError(f"no beat tracker in {root}: {' and '.join(missing)} missing (it "
                           f"needs {CONFIG_NAME} and {WEIGHTS_NAME}; `sideman train beats` "
                           f"writes them)")
    try:
        config = BeatNetConfig.from_dict(json.loads((root / CONFIG_NAME).read_text()))
        state = load_file(str(root / WEIGHTS_NAME))
    except (json.JSONDecodeError, TypeError, SafetensorError) as exc:
        raise BeatNetError(f"{root} is not a readable beat tracker: {exc}") from None
    net = BeatNet(config)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise BeatNetError(f"{root}: the weights do not fit its config.json ({first})"
                           ) from None
    return net.eval()
