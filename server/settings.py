"""Per-session settings (PROTOCOL.md, "Settings"): defaults, validation and the ack values.

Each setting is validated against the model and the geometry it would produce; a refusal is a
:class:`SettingError` whose text names what was wrong and what is allowed. ``r`` is rounded to
whole latent frames (with a warning), and any setting outside the model's training grid is
accepted with a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sideman.models.base import MAX_GUIDANCE, ModelInfo
from sideman.models.geometry import ClockMap, Geometry, GeometryError, hop_frames_for_ratio

from .protocol import DEFAULT_DATAGRAM, MIN_DATAGRAM, as_float, as_int, as_str
from .resample import Resampler

SETTING_KEYS: tuple[str, ...] = ("r", "w", "stems", "steps", "seed", "variation", "guidance",
                                 "grid_guidance", "track", "stop", "xfade", "datagram",
                                 "delay", "realtime", "refine", "wrap")
DEFAULT_R = 0.25
DEFAULT_W = 1
DEFAULT_XFADE = 256
MAX_XFADE = 8192
MAX_DELAY_SECONDS = 10
#: ``stop``: the parts stop after this many seconds of silence in what the server hears
DEFAULT_STOP = 2.0
MAX_STOP = 60.0
MAX_VARIATION = 2.0
#: Below this noise temperature a diffusion model's start is no longer mostly noise and its
#: output fades to one quiet hiss whatever the music and seed (StreamingPipeline.sample).
MIN_USEFUL_VARIATION = 0.05
#: ``wrap``: positions go modulo 2**wrap; 32 is plain int32, 23 what Pd's float32 needs.
MAX_WRAP = 32
MIN_WRAP = 16


class SettingError(ValueError):
    """A setting refused; the message names the allowed values."""


@dataclass(frozen=True)
class SettingContext:
    """What validation needs to know: the model, the client's rate and the server limits."""

    info: ModelInfo
    client_rate: int
    max_datagram: int

    @property
    def model_rate(self) -> int:
        """The rate the model runs at for this client (the client's own for diagnostic
        generators)."""
        return self.info.sample_rate or self.client_rate

    @property
    def clock_map(self) -> ClockMap:
        return ClockMap(model_rate=self.model_rate, client_rate=self.client_rate)

    @property
    def input_span(self) -> int:
        """Client samples of input a session holds: the next step's window, steps still
        queued, and audio sent ahead (a position further from the session's input is
        refused, so a wrapped position within half a wrap of it unwraps uniquely)."""
        window = self.clock_map.to_client(self.info.window_frames * self.info.hop_length)
        return 3 * window + self.client_rate


@dataclass(frozen=True)
class Settings:
    hop_frames: int
    w: int
    stems: tuple[str, ...]
    steps: int
    seed: int = 0
    variation: float = 1.0
    guidance: float = 1.0
    #: guidance on the beat grid (beat-grid models; the session starts at the model's own
    #: default_grid_guidance): 1 = off
    grid_guidance: float = 1.0
    #: without a host transport, track the beat in the input and give the model that grid
    track: bool = True
    #: after this many seconds of silence heard the parts are silent too (0: never)
    stop: float = DEFAULT_STOP
    xfade: int = DEFAULT_XFADE
    datagram: int = DEFAULT_DATAGRAM
    delay: int = 0
    realtime: bool = True
    refine: bool = True
    wrap: int = MAX_WRAP

    def geometry(self, ctx: SettingContext) -> Geometry:
        return ctx.info.geometry(hop_frames=self.hop_frames, lookahead=self.w,
                                 client_rate=ctx.client_rate)

    def r(self, ctx: SettingContext) -> float:
        return self.hop_frames / ctx.info.window_frames


def max_xfade(geometry: Geometry, ctx: SettingContext) -> int:
    """Largest crossfade (client samples) for this geometry: at most one hop, at most
    :data:`MAX_XFADE`, and the model's output must fit ``window - hop`` before the region."""
    cm = ctx.clock_map
    hop_client = geometry.hop_samples * cm.client_rate // cm.model_rate
    room = geometry.window_samples - geometry.hop_samples
    limit = min(hop_client, MAX_XFADE)
    if cm.identity:
        return max(0, min(limit, room))
    resampler = Resampler(cm)
    x = min(limit, room * cm.client_rate // cm.model_rate)
    # Worst case over region starts: the common grid costs up to one model quantum.
    while x > 0 and (cm.to_model(x + resampler.margin) + 1 + resampler.model_quantum) > room:
        x -= 1
    return max(0, x)


def _check_resampling_room(settings: Settings, ctx: SettingContext) -> None:
    """Refuse an ``r``/``w`` whose output cannot be resampled for this client: the model's
    output must start a resampler margin (and up to one common-grid quantum) before the
    region, within the window. Checked at ``set`` so a geometry is never acknowledged and
    then failed by every step."""
    cm = ctx.clock_map
    if cm.identity:
        return
    g = settings.geometry(ctx)
    resampler = Resampler(cm)
    need = cm.to_model(resampler.margin) + 1 + resampler.model_quantum
    room = g.window_samples - g.hop_samples
    if need > room:
        raise SettingError(
            f"r={settings.r(ctx):g} with w={settings.w} leaves {room} model samples before "
            f"the region; resampling from {ctx.client_rate} Hz needs {need}: choose a "
            f"smaller r")


def _check_wrap(settings: Settings, ctx: SettingContext) -> None:
    """Refuse a ``wrap`` (or a ``delay`` under it) with which a wrapped position could stand
    for two: half a wrap must cover what the session holds plus the output delay (the
    furthest a chunk can lie from the client's capture position)."""
    if settings.wrap >= MAX_WRAP:
        return
    need = ctx.input_span + settings.delay
    if 2 ** (settings.wrap - 1) < need:
        bits = max(MIN_WRAP, (2 * need - 1).bit_length())
        raise SettingError(f"wrap={settings.wrap} with delay={settings.delay}: half a wrap "
                           f"({2 ** (settings.wrap - 1)} samples) must cover the {need} "
                           f"samples a session spans here; allowed wrap {bits} ... "
                           f"{MAX_WRAP}")


def lookahead_range(window_frames: int, hop_frames: int) -> tuple[int, int]:
    return -1, Geometry.max_lookahead(window_frames, hop_frames)


def default_settings(ctx: SettingContext) -> Settings:
    info = ctx.info
    frames = hop_frames_for_ratio(DEFAULT_R, info.window_frames)
    w = min(DEFAULT_W, Geometry.max_lookahead(info.window_frames, frames))
    stems = ("drums",) if "drums" in info.stems else info.stems[:1]
    settings = Settings(hop_frames=frames, w=w, stems=stems, steps=info.default_steps,
                        grid_guidance=info.default_grid_guidance,
                        datagram=min(DEFAULT_DATAGRAM, ctx.max_datagram))
    return replace(settings, xfade=min(DEFAULT_XFADE, max_xfade(settings.geometry(ctx), ctx)))


def ack_values(settings: Settings, key: str, ctx: SettingContext) -> list:
    """The values an ``ack`` carries for ``key`` (the value now in effect)."""
    if key == "r":
        return [settings.r(ctx)]
    if key == "stems":
        return list(settings.stems)
    if key in ("variation", "guidance", "grid_guidance", "stop"):
        return [float(getattr(settings, key))]
    return [int(getattr(settings, key))]


def _one(values: tuple, tags: str, key: str) -> tuple[object, str]:
    if len(values) != 1:
        raise SettingError(f"{key} takes one value, got {len(values)}")
    return values[0], tags[0]


def _int_in(values: tuple, tags: str, key: str, lo: int, hi: int) -> int:
    value, tag = _one(values, tags, key)
    try:
        number = as_int(value, tag, key)
    except ValueError as exc:
        raise SettingError(f"{exc}; allowed {lo} ... {hi}") from None
    if not lo <= number <= hi:
        raise SettingError(f"{key}={number} is out of range; allowed {lo} ... {hi}")
    return number


def _float_in(values: tuple, tags: str, key: str, hi: float, note: str = "") -> float:
    """One float in ``[0, hi]``; ``note`` follows the allowed range in the out-of-range error."""
    value, tag = _one(values, tags, key)
    try:
        number = as_float(value, tag, key)
    except ValueError as exc:
        raise SettingError(f"{exc}; allowed 0 ... {hi:g}") from None
    if not 0.0 <= number <= hi:
        raise SettingError(f"{key}={number:g} is out of range; allowed 0 ... {hi:g}{note}")
    return number


def apply_setting(settings: Settings, key: str, values: tuple, tags: str, ctx: SettingContext
                  ) -> tuple[Settings, list[str], list[str]]:
    """Validate and apply one ``set``. Returns the new settings, the keys to acknowledge (the
    key itself, plus any other setting that had to follow it) and warnings."""
    info = ctx.info
    warnings: list[str] = []
    changed = [key]
    if key == "r":
        value, tag = _one(values, tags, key)
        try:
            r = as_float(value, tag, "r")
            frames = hop_frames_for_ratio(r, info.window_frames)
        except (ValueError, GeometryError) as exc:
            raise SettingError(f"{exc}; allowed r in (0, 1] with (w+2)*r <= 1") from None
        if (settings.w + 2) * frames > info.window_frames:
            rmax = math.floor(info.window_frames / (settings.w + 2)) / info.window_frames
            raise SettingError(
                f"r={r:g} with w={settings.w} breaks (w+2)*r <= 1: allowed r in (0, {rmax:g}] "
                f"for w={settings.w} (set a smaller w first)")
        if abs(frames - r * info.window_frames) > 1e-6:
            warnings.append(f"r={r:g} rounded to {frames / info.window_frames:g} ({frames} "
                            f"latent frames of {info.window_frames})")
        if frames not in info.trained_hop_frames:
            warnings.append(f"r={frames / info.window_frames:g} is outside the model's training "
                            f"grid ({_trained_ratios(info)})")
        new = replace(settings, hop_frames=frames)
    elif key == "w":
        lo, hi = lookahead_range(info.window_frames, settings.hop_frames)
        w = _int_in(values, tags, key, lo, hi)
        if w not in info.trained_lookaheads:
            warnings.append(f"w={w} is outside the model's training grid "
                            f"{list(info.trained_lookaheads)[:16]}")
        new = replace(settings, w=w)
    elif key == "stems":
        if not values:
            raise SettingError(f"stems needs at least one of {', '.join(info.stems)}")
        try:
            stems = tuple(as_str(v, t, "stem") for v, t in zip(values, tags, strict=True))
        except ValueError as exc:
            raise SettingError(f"{exc}; allowed stems: {', '.join(info.stems)}") from None
        unknown = [s for s in stems if s not in info.stems]
        if unknown:
            raise SettingError(f"unknown stems {', '.join(unknown)}; allowed: "
                               f"{', '.join(info.stems)}")
        if len(set(stems)) != len(stems):
            raise SettingError(f"stems listed twice: {', '.join(stems)}")
        new = replace(settings, stems=stems)
    elif key == "steps":
        new = replace(settings, steps=_int_in(values, tags, key, 1, info.max_steps))
    elif key == "seed":
        new = replace(settings, seed=_int_in(values, tags, key, -(2**31), 2**31 - 1))
    elif key == "variation":
        variation = _float_in(values, tags, key, MAX_VARIATION)
        if variation < MIN_USEFUL_VARIATION:
            warnings.append(f"variation={variation:g} is below the useful range "
                            f"{MIN_USEFUL_VARIATION:g} ... {MAX_VARIATION:g}: the model starts "
                            f"from almost no noise and returns a quiet hiss that ignores the "
                            f"music (0 is not a deterministic mode)")
        new = replace(settings, variation=variation)
    elif key in ("guidance", "grid_guidance"):
        scale = _float_in(values, tags, key, MAX_GUIDANCE, " (1 = off)")
        new = (replace(settings, guidance=scale) if key == "guidance"
               else replace(settings, grid_guidance=scale))
        if key == "grid_guidance" and not info.uses_beat_grid and new.grid_guidance != 1:
            warnings.append(f"{info.name} has no beat-grid input: grid_guidance has no effect")
    elif key == "stop":
        new = replace(settings, stop=_float_in(values, tags, key, MAX_STOP,
                                               " (seconds of silence; 0 = never)"))
    elif key == "xfade":
        hi = max_xfade(settings.geometry(ctx), ctx)
        new = replace(settings, xfade=_int_in(values, tags, key, 0, hi))
    elif key == "datagram":
        new = replace(settings, datagram=_int_in(values, tags, key, MIN_DATAGRAM,
                                                 ctx.max_datagram))
    elif key == "delay":
        new = replace(settings, delay=_int_in(values, tags, key, 0,
                                              MAX_DELAY_SECONDS * ctx.client_rate))
    elif key in ("realtime", "refine", "track"):
        flag = bool(_int_in(values, tags, key, 0, 1))
        new = (replace(settings, realtime=flag) if key == "realtime"
               else replace(settings, refine=flag) if key == "refine"
               else replace(settings, track=flag))
    elif key == "wrap":
        new = replace(settings, wrap=_int_in(values, tags, key, MIN_WRAP, MAX_WRAP))
    else:
        raise SettingError(f"unknown setting {key!r}; settings: {', '.join(SETTING_KEYS)}")
    if key in ("wrap", "delay"):
        _check_wrap(new, ctx)
    if key in ("r", "w"):
        _check_resampling_room(new, ctx)
        hi = max_xfade(new.geometry(ctx), ctx)
        if new.xfade > hi:
            warnings.append(f"xfade {new.xfade} reduced to {hi} samples (at most one hop and "
                            f"what fits the window)")
            new = replace(new, xfade=hi)
            changed.append("xfade")
    return new, changed, warnings


def _trained_ratios(info: ModelInfo) -> str:
    return ", ".join(f"{r:g}" for r in allowed_ratios(info))


def allowed_ratios(info: ModelInfo) -> list[float]:
    """The ``allowed r`` list: the trained ratios, or, when the model accepts very many (the
    click track accepts every whole frame), those that are multiples of 1/64."""
    frames = sorted(info.trained_hop_frames)
    if len(frames) > 64:
        step = max(1, info.window_frames // 64)
        frames = [f for f in frames if f % step == 0]
    return [f / info.window_frames for f in frames]
