"""A model's configuration: parsed and checked in one place, stored as ``config.json``.

It records everything needed to rebuild the model and to refuse a mismatched one: the codec
(name + parameters, hence sample rate, samples per frame, latent channels), the window T in
frames, the stems, the (hop, look-ahead) grid it was trained for, whether it takes the beat
grid, the U-Net architecture, the noise parameters and which sampler it is for.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import MAX_GUIDANCE, STEMS, GeneratorError, ModelInfo, guidance_allowed
from .codecs import CODEC_NAMES, Codec
from .conditioning import BEAT_PHASES
from .samplers import SAMPLERS

FORMAT = "sideman-ldm"
FORMAT_VERSION = 1
KINDS = ("teacher", "consistency")


class ConfigError(GeneratorError):
    """A model configuration is invalid or does not match what it is used with."""


def default_unet() -> dict[str, Any]:
    """The proposed architecture of the embedded default (measured in docs/MODELS.md).

    Five levels on the (64 mel × 256 frame) image, narrow at full resolution where the cost
    is, wider below; self-attention over the whole window at the lowest level (4 × 16 after
    four downsamplings, 64 tokens) and in the mid block, so tempo and pattern over the whole
    window reach the masked future.
    """
    return {
        "block_out_channels": [8, 16, 32, 64, 128],
        "layers_per_block": 1,
        "down_block_types": ["DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D",
                             "AttnDownBlock2D"],
        "up_block_types": ["AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D",
                           "UpBlock2D"],
        "norm_num_groups": 8,
        "attention_head_dim": 32,
        "add_attention": True,
    }


def tiny_unet() -> dict[str, Any]:
    """A very small U-Net for tests and smoke runs (still with attention)."""
    return {
        "block_out_channels": [8, 16],
        "layers_per_block": 1,
        "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
        "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
        "norm_num_groups": 4,
        "attention_head_dim": 8,
        "add_attention": True,
    }


def _ints(values: Any, name: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a list of ints, got {values!r}") from exc
    if not out:
        raise ConfigError(f"{name} must not be empty")
    return out


@dataclass(frozen=True)
class ModelConfig:
    """Everything ``config.json`` holds (see the module docstring)."""

    name: str
    codec: str
    codec_params: Mapping[str, Any]
    sample_rate: int
    hop_length: int
    latent_channels: int
    window_frames: int
    trained_hop_frames: tuple[int, ...]
    trained_lookaheads: tuple[int, ...]
    stems: tuple[str, ...] = STEMS
    uses_beat_grid: bool = False
    #: which beat-grid planes the network reads (conditioning.BEAT_PHASES); configs written
    #: before this field existed read only the cosines
    beat_phase: str = "cos"
    #: width of the conditioning pyramid that adds the planes at every U-Net level
    #: (denoiser.ConditionPyramid); 0 = none (the planes enter at the input only, as in
    #: the shipped models and every older config.json)
    cond_width: int = 0
    #: c_noise = noise_scale·ln σ (EDM's 0.25 in the shipped models and older configs)
    noise_scale: float = 0.25
    #: whether the network sees the generated history clean in the target planes (the
    #: shipped models, older configs); False: only through the noisy input, noised to the
    #: current σ, so at high σ the part must come from the mix and the beat grid
    history_planes: bool = True
    #: whether the network reads the mixture's onset plane (conditioning.mixture_onset);
    #: False in the shipped models and older configs
    mixture_onset: bool = False
    unet: Mapping[str, Any] = field(default_factory=default_unet)
    sigma_data: float = 0.5
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    kind: str = "teacher"
    sampler: str = "heun"
    default_steps: int = 4
    max_steps: int = 16
    #: the grid-guidance scale (StepRequest.grid_guidance) a server starts a session with:
    #: measured per model (its card says how); 1 = off, as in older configs
    default_grid_guidance: float = 1.0

    def __post_init__(self) -> None:
        for name in ("sample_rate", "hop_length", "latent_channels", "window_frames",
                     "default_steps", "max_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if self.codec not in CODEC_NAMES:
            raise ConfigError(f"unknown codec {self.codec!r}; known: {', '.join(CODEC_NAMES)}")
        if not self.stems or len(set(self.stems)) != len(self.stems):
            raise ConfigError(f"stems must be distinct and non-empty, got {self.stems}")
        if self.beat_phase not in BEAT_PHASES:
            raise ConfigError(f"beat_phase must be one of {', '.join(BEAT_PHASES)}, got "
                              f"{self.beat_phase!r}")
        if not isinstance(self.cond_width, int) or isinstance(self.cond_width, bool) \
                or self.cond_width < 0:
            raise ConfigError(f"cond_width must be an int >= 0, got {self.cond_width!r}")
        if not (isinstance(self.noise_scale, int | float) and math.isfinite(self.noise_scale)
                and self.noise_scale > 0):
            raise ConfigError(f"noise_scale must be a positive number, got {self.noise_scale!r}")
        for flag in ("history_planes", "mixture_onset"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(f"{flag} must be true or false, got "
                                  f"{getattr(self, flag)!r}")
        if not (isinstance(self.default_grid_guidance, int | float)
                and guidance_allowed(self.default_grid_guidance)):
            raise ConfigError(f"default_grid_guidance must be in [0, {MAX_GUIDANCE:g}], got "
                              f"{self.default_grid_guidance!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if (self.kind == "consistency") != (self.sampler == "consistency"):
            raise ConfigError(f"a {self.kind} model cannot use the {self.sampler} sampler "
                              f"(consistency models use 'consistency', teachers euler/heun)")
        if not self.default_steps <= self.max_steps:
            raise ConfigError(f"default_steps ({self.default_steps}) > max_steps "
                              f"({self.max_steps})")
        if not (0 < self.sigma_min < self.sigma_max and self.sigma_data > 0 and self.rho > 0
                and all(map(math.isfinite, (self.sigma_min, self.sigma_max, self.rho)))):
            raise ConfigError("need 0 < sigma_min < sigma_max, sigma_data > 0, rho > 0")
        bad = [h for h in self.trained_hop_frames if not 1 <= h <= self.window_frames]
        if bad or any(w < -1 for w in self.trained_lookaheads):
            raise ConfigError(f"trained hops must be in [1, {self.window_frames}] frames and "
                              f"look-aheads >= -1, got {self.trained_hop_frames}, "
                              f"{self.trained_lookaheads}")

    @property
    def parameterization(self) -> str:
        return "consistency" if self.kind == "consistency" else "edm"

    # -- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            data[f.name] = list(value) if isinstance(value, tuple) else (
                dict(value) if isinstance(value, Mapping) else value)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "config") -> ModelConfig:
        if data.get("format") != FORMAT:
            raise ConfigError(f"{source} is not a sideman model config (format "
                              f"{data.get('format')!r}, expected {FORMAT!r})")
        if data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"{source} has format_version {data.get('format_version')!r}; "
                              f"this sideman reads version {FORMAT_VERSION}")
        names = {f.name for f in dataclasses.fields(cls)}
        body = {k: v for k, v in data.items() if k not in ("format", "format_version")}
        unknown = sorted(set(body) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown keys {unknown}")
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(body))
        if missing:
            raise ConfigError(f"{source}: missing keys {missing}")
        for key in ("trained_hop_frames", "trained_lookaheads"):
            body[key] = _ints(body[key], key)
        if "stems" in body:
            body["stems"] = tuple(str(s) for s in body["stems"])
        try:
            return cls(**body)
        except TypeError as exc:
            raise ConfigError(f"{source}: {exc}") from exc

    @classmethod
    def from_json(cls, text: str, *, source: str = "config.json") -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def for_codec(cls, codec: Codec, **kwargs: Any) -> ModelConfig:
        """A config whose codec fields are taken from ``codec`` (the rest from ``kwargs``)."""
        return cls(codec=codec.name, codec_params=codec.params(),
                   sample_rate=codec.sample_rate, hop_length=codec.hop_length,
                   latent_channels=codec.latent_channels, **kwargs)

    # -- use --------------------------------------------------------------------------------
    def model_info(self) -> ModelInfo:
        return ModelInfo(
            name=self.name, sample_rate=self.sample_rate, hop_length=self.hop_length,
            window_frames=self.window_frames, stems=tuple(self.stems),
            trained_hop_frames=tuple(self.trained_hop_frames),
            trained_lookaheads=tuple(self.trained_lookaheads),
            uses_beat_grid=self.uses_beat_grid, default_steps=self.default_steps,
            max_steps=self.max_steps,
            default_grid_guidance=float(self.default_grid_guidance) if self.uses_beat_grid
            else 1.0,
        )

    def check_codec(self, codec: Codec) -> None:
        """Refuse a codec whose latent space is not the one this model was trained on.

        Decoder settings (e.g. Griffin-Lim iterations) may differ; they are runtime choices.
        """
        want = {"name": self.codec, "sample_rate": self.sample_rate,
                "hop_length": self.hop_length, "latent_channels": self.latent_channels}
        got = {"name": codec.name, "sample_rate": codec.sample_rate,
               "hop_length": codec.hop_length, "latent_channels": codec.latent_channels}
        if codec.name == self.codec:
            recorded = _jsonable(dict(self.codec_params))
            actual = _jsonable(codec.latent_params())
            for key in codec.LATENT_KEYS:
                want[key], got[key] = recorded.get(key), actual[key]
        diff = [f"{k}: model has {want[k]!r}, codec has {got[k]!r}" for k in want
                if want[k] != got[k]]
        if diff:
            raise ConfigError(f"model {self.name!r} does not fit this codec: " + "; ".join(diff))

    def check_window(self, window_frames: int) -> None:
        if window_frames != self.window_frames:
            raise ConfigError(f"model {self.name!r} has a {self.window_frames}-frame window, "
                              f"asked for {window_frames}")


def _jsonable(value: Any) -> Any:
    """Normalise through JSON so tuples/lists and int/float spellings compare equal."""
    return json.loads(json.dumps(value))
