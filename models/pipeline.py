"""The streaming pipeline: one object for the live server and the offline evaluation.

:class:`StreamingPipeline` is a :class:`~.base.Generator`. Per call it takes the requests of
one or several streams and, for every (request, stem) item:

1. **encode**: zero the mixture at and after the step's capture position (the future: the
   pipeline never relies on the driver for this), encode every request's window in one codec
   call → ``(B_req, C, T)``; mark as known only the frames :func:`~.conditioning.window_masks`
   allows;
2. **sample**: read the stem's generated latent over the window from the stream's state by
   absolute frame index (frames before 0 are known silence, frames never generated are
   unknown), build the conditioning, and sample all items with the same step count as one
   denoiser batch per model call, inpainting the known frames; noise per item from
   :func:`~.base.step_seed`, so an item's output does not depend on its batch;
3. store the region's frames ``[region_start, region_end) / hop_length`` in the stream's
   state (absolute frames: the latent shift and the audio shift are the same number);
4. **decode**: only the frames covering ``[region_start - xfade, region_end)`` plus the
   codec's left context, cropped to exactly ``xfade + hop_samples`` samples. No fade is
   applied here: the client crossfades the ``xfade`` overlap (one fade, in one place).

Shapes and units at this boundary are those of :mod:`~.base` (model-clock samples).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import (
    DEFAULT_BEAT_TRACKER,
    Generator,
    GeneratorError,
    ModelInfo,
    StepRequest,
    StepResult,
    StreamState,
    Transport,
    heard_silence,
    step_seed,
)
from .beatnet import BeatNetError
from .checkpoint import build_denoiser, load_denoiser, save_pretrained
from .codecs import Codec, build_codec
from .conditioning import Conditioning, beat_planes, window_masks
from .config import ModelConfig
from .denoiser import Denoiser
from .geometry import Geometry, describe_rounding
from .samplers import (
    Inpaint,
    ItemNoise,
    consistency_sigmas,
    karras_sigmas,
    ode_sigma_floor,
    sample_consistency,
    sample_euler,
    sample_heun,
    tempered_sigmas,
)
from .tempo import Envelope, GridTracker, envelope_for, onset_envelope

log = logging.getLogger(__name__)

#: Where the embedded default model lives (trained separately; see MODEL_CARD.md there).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "default"


class LatentTrack:
    """Latent frames of one stem on the absolute frame axis, with which ones are known.

    Column ``i`` of ``data`` is absolute frame ``start + i``. Writing extends the span;
    frames older than ``capacity`` before the newest written frame are dropped.
    """

    def __init__(self, channels: int, capacity: int) -> None:
        self.channels = channels
        self.capacity = capacity
        self.start = 0
        self.data = torch.zeros(channels, 0)
        self.known = torch.zeros(0, dtype=torch.bool)

    @property
    def end(self) -> int:
        return self.start + self.data.shape[1]

    def write(self, first_frame: int, latent: torch.Tensor) -> None:
        """Store ``latent (C, n)`` as frames ``[first_frame, first_frame + n)``."""
        n = latent.shape[1]
        far = (first_frame + n <= self.end - self.capacity
               or first_frame >= self.end + self.capacity)
        if self.data.shape[1] == 0 or far:  # nothing held near these frames: start afresh
            self.start = first_frame
            self.data = torch.zeros(self.channels, 0)
            self.known = torch.zeros(0, dtype=torch.bool)
        lo, hi = min(self.start, first_frame), max(self.end, first_frame + n)
        if (lo, hi) != (self.start, self.end):
            data = torch.zeros(self.channels, hi - lo)
            known = torch.zeros(hi - lo, dtype=torch.bool)
            data[:, self.start - lo:self.end - lo] = self.data
            known[self.start - lo:self.end - lo] = self.known
            self.start, self.data, self.known = lo, data, known
        self.data[:, first_frame - self.start:first_frame - self.start + n] = latent.cpu()
        self.known[first_frame - self.start:first_frame - self.start + n] = True
        drop = self.end - self.capacity - self.start
        if drop > 0:
            self.start += drop
            self.data = self.data[:, drop:].clone()
            self.known = self.known[drop:].clone()

    def read(self, first_frame: int, frames: int, silence: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latent (C, frames), known (frames,))`` for frames ``[first_frame, +frames)``.

        Frames before 0 are silence and known; frames never written are zeros, unknown.
        """
        latent = torch.zeros(self.channels, frames)
        known = torch.zeros(frames, dtype=torch.bool)
        before = min(max(0, -first_frame), frames)
        latent[:, :before] = silence[:, None]
        known[:before] = True
        lo, hi = max(first_frame, self.start), min(first_frame + frames, self.end)
        if lo < hi:
            latent[:, lo - first_frame:hi - first_frame] = self.data[:, lo - self.start:
                                                                     hi - self.start]
            known[lo - first_frame:hi - first_frame] = self.known[lo - self.start:
                                                                  hi - self.start]
        return latent, known

    def frames(self) -> np.ndarray:
        """Absolute indices of the known frames held."""
        return self.start + np.flatnonzero(self.known.numpy())


class PipelineStream(StreamState):
    """One stream's state: per stem, its generated latent by absolute frame."""

    def __init__(self, owner: StreamingPipeline) -> None:
        self.owner = owner
        self.tracks: dict[str, LatentTrack] = {}
        #: the beat heard so far (used when the request asks to track it)
        self.beats = GridTracker(owner.config.sample_rate, envelope=owner.beat_envelope)

    def track(self, stem: str) -> LatentTrack:
        if stem not in self.tracks:
            config = self.owner.config
            self.tracks[stem] = LatentTrack(config.latent_channels, 2 * config.window_frames)
        return self.tracks[stem]

    def reset(self) -> None:
        self.tracks.clear()
        self.beats.reset()


def _known(request: StepRequest) -> int:
    """Samples of the request's window heard before its step position (the rest is the
    future, zeros)."""
    g = request.geometry
    return g.step_position(request.step) - g.window(request.step)[0]


@dataclass
class _Item:
    """One (request, stem) pair inside a generate() call."""

    request_index: int
    request: StepRequest
    stem: str
    window_first_frame: int
    latent: torch.Tensor | None = None  # (1, C, T) sampled window


class StreamingPipeline(Generator):
    """Codec + denoiser + sampler with per-stream state (see the module docstring)."""

    def __init__(self, denoiser: Denoiser, codec: Codec, config: ModelConfig, *,
                 device: str | torch.device = "cpu", sampler: str | None = None,
                 beat_tracker: str = DEFAULT_BEAT_TRACKER) -> None:
        config.check_codec(codec)
        if denoiser.parameterization != config.parameterization:
            raise GeneratorError(f"denoiser is {denoiser.parameterization!r} but the config "
                                 f"says kind={config.kind!r}")
        sampler = sampler or config.sampler
        if (sampler == "consistency") != (config.kind == "consistency"):
            raise GeneratorError(f"a {config.kind} model cannot use the {sampler} sampler")
        self.config = config
        self.codec = codec
        self.device = torch.device(device)
        self.denoiser = denoiser.to(self.device).eval()
        self.sampler = sampler
        self.info: ModelInfo = config.model_info()
        self._silence = codec.silence_latent().float().cpu()
        self._warned: set[tuple[int, int]] = set()
        #: what the beat grid is tracked in when the host sends no transport (models.tempo)
        self.beat_envelope: Envelope = onset_envelope
        self.beat_tracker = "none"
        if config.uses_beat_grid:
            try:
                self.beat_envelope, self.beat_tracker = envelope_for(beat_tracker,
                                                                     config.sample_rate)
            except BeatNetError as exc:
                raise GeneratorError(f"beat_tracker {beat_tracker!r}: {exc}") from None

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory: str | Path, *, codec: Codec | None = None,
                        device: str | torch.device = "cpu", sampler: str | None = None,
                        channels_last: bool | None = None,
                        codec_options: dict[str, Any] | None = None,
                        beat_tracker: str = DEFAULT_BEAT_TRACKER) -> StreamingPipeline:
        """Load a checkpoint; build its codec from the recorded parameters unless given.

        ``codec_options`` are runtime options of the codec (e.g. ``weights`` for
        music2latent, ``gl_iters`` for mel); see :func:`~.codecs.build_codec`.
        """
        device = torch.device(device)
        if channels_last is None:
            channels_last = device.type == "cpu"
        denoiser, config = load_denoiser(directory, device=device, channels_last=channels_last)
        if codec is None:
            codec = build_codec(config.codec, config.codec_params, device=device,
                                **(codec_options or {}))
        return cls(denoiser, codec, config, device=device, sampler=sampler,
                   beat_tracker=beat_tracker)

    @classmethod
    def random(cls, config: ModelConfig, codec: Codec, *, seed: int = 0,
               device: str | torch.device = "cpu", channels_last: bool = False
               ) -> StreamingPipeline:
        """Randomly initialised weights (tests, speed measurements, training's start)."""
        with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG alone
            torch.manual_seed(seed)
            denoiser = build_denoiser(config, channels_last=channels_last)
        return cls(denoiser, codec, config, device=device)

    def save_pretrained(self, directory: str | Path, *, dtype: torch.dtype = torch.float32
                        ) -> Path:
        return save_pretrained(directory, self.denoiser, self.config, dtype=dtype)

    # -- Generator --------------------------------------------------------------------------
    def new_stream(self) -> PipelineStream:
        return PipelineStream(self)

    def _now(self) -> float:
        """Wall time for the stage timings; on a GPU after the queued kernels have run, so a
        stage is not billed for the one before it (CUDA calls return before they finish)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    @torch.no_grad()
    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        if not requests:
            return []
        self._check(requests)
        started = self._now()
        mixture = self._encode(requests)
        grids = [self._grid(r) for r in requests]
        stopped = [heard_silence(r.mixture, _known(r), r.stop_seconds, r.geometry.sample_rate,
                                 heard_from=-r.geometry.window(r.step)[0]) for r in requests]
        encoded = self._now()

        items = [_Item(i, r, stem, r.geometry.frame_index(r.geometry.window(r.step)[0]))
                 for i, r in enumerate(requests) for stem in r.stems]
        for steps in sorted({r.num_steps for r in requests}):
            group = [it for it in items if it.request.num_steps == steps]
            sampled_latent = self._sample(group, mixture, [grids[it.request_index][0]
                                                           for it in group], steps)
            for item, latent in zip(group, sampled_latent, strict=True):
                item.latent = latent[None]
        for item in items:  # state advances only once the whole batch has sampled
            g, k = item.request.geometry, item.request.step
            start, end = (g.frame_index(p) for p in g.region(k))
            assert item.latent is not None
            region = item.latent[0, 0, :, start - item.window_first_frame:]
            assert region.shape[-1] == end - start
            if stopped[item.request_index]:  # the performer stopped: so does the part
                region = self._silence[:, None].expand(-1, end - start).to(region)
            stream = item.request.stream
            assert isinstance(stream, PipelineStream)
            stream.track(item.stem).write(start, region)
        sampled = self._now()

        audio = self._decode(items)
        for item in items:
            if stopped[item.request_index]:
                audio[id(item)] = np.zeros_like(audio[id(item)])
        decoded = self._now()
        timings = {"encode": encoded - started, "sample": sampled - encoded,
                   "decode": decoded - sampled}
        results = []
        for i, request in enumerate(requests):
            results.append(StepResult(
                start=request.output_start,
                audio={item.stem: audio[id(item)] for item in items if item.request_index == i},
                num_steps=request.num_steps,
                timings=dict(timings),
                grid=grids[i][0],
                grid_source=grids[i][1],
            ))
        return results

    def _grid(self, request: StepRequest) -> tuple[Transport | None, str]:
        """The beat grid a request's items get, and where it came from: the host's transport,
        one tracked in the heard mixture (``track_beats``, beat-grid models only), or none."""
        if request.transport is not None:
            return request.transport, "host"
        if not (request.track_beats and self.config.uses_beat_grid):
            return None, "none"
        stream = request.stream
        assert isinstance(stream, PipelineStream)
        tracked = stream.beats.update(request.mixture, known=_known(request),
                                      start=request.geometry.window(request.step)[0])
        return (tracked, "tracked") if tracked is not None else (None, "none")

    def geometry_for(self, r: float, w: int, *, exact: bool = False) -> Geometry:
        """The geometry of hop ratio ``r`` and look-ahead ``w`` for this model's window.

        ``r·T`` must be a whole number of latent frames: with ``exact`` anything else is
        refused, otherwise it is rounded to the nearest frame and the rounding is logged.
        """
        note = describe_rounding(r, self.config.window_frames)
        g = Geometry.from_ratio(sample_rate=self.config.sample_rate,
                                hop_length=self.config.hop_length,
                                window_frames=self.config.window_frames, r=r, w=w, exact=exact)
        if note:
            log.warning("%s: %s", self.info.name, note)
        return g

    def warmup(self, stems: int = 1) -> None:
        """Run one throw-away step so the first real step does not pay one-off set-up costs."""
        c = self.config
        g = Geometry(sample_rate=c.sample_rate, hop_length=c.hop_length,
                     window_frames=c.window_frames,
                     hop_frames=max(1, min(c.trained_hop_frames)), lookahead=0)
        request = StepRequest(stream=self.new_stream(), step=0, geometry=g,
                              mixture=np.zeros(g.window_samples, dtype=np.float32),
                              stems=tuple(c.stems[:stems]), num_steps=c.default_steps)
        self.generate([request])

    # -- stages ----------------------------------------------------------------------------
    def _check(self, requests: Sequence[StepRequest]) -> None:
        seen: set[int] = set()
        for request in requests:
            request.validate(self.info)
            stream = request.stream
            if not isinstance(stream, PipelineStream) or stream.owner is not self:
                raise GeneratorError("request.stream was not made by this pipeline's "
                                     "new_stream()")
            if id(stream) in seen:
                raise GeneratorError("a stream appears twice in one generate() call; its "
                                     "second step needs the first one's output: call twice")
            seen.add(id(stream))
            if len(set(request.stems)) != len(request.stems):
                raise GeneratorError(f"stems listed twice: {request.stems}")
            if not np.isfinite(request.mixture).all():
                raise GeneratorError(f"step {request.step}: the mixture holds NaN or inf samples")
            g = request.geometry
            key = (g.hop_frames, g.lookahead)
            trained = (g.hop_frames in self.info.trained_hop_frames
                       and g.lookahead in self.info.trained_lookaheads)
            if not trained and key not in self._warned:
                self._warned.add(key)
                log.warning("%s: hop %d frames, w=%d is outside the trained grid (hops %s, "
                            "w %s); quality may suffer", self.info.name, g.hop_frames,
                            g.lookahead, self.info.trained_hop_frames,
                            self.info.trained_lookaheads)

    def _encode(self, requests: Sequence[StepRequest]) -> torch.Tensor:
        """``(B_req, C, T)`` mixture latents, computed from known samples only."""
        batch = np.stack([r.mixture for r in requests]).astype(np.float32, copy=True)
        for row, r in zip(batch, requests, strict=True):
            future = r.geometry.step_position(r.step) - r.geometry.window(r.step)[0]
            row[max(0, future):] = 0.0
        return self.codec.encode(torch.from_numpy(batch).to(self.device)).float()

    def _sample(self, group: list[_Item], mixture: torch.Tensor,
                grids: Sequence[Transport | None], steps: int) -> torch.Tensor:
        """Sample one batch of items that share a step count → ``(b, 1, C, T)``; item ``i``
        is given the beat grid ``grids[i]``."""
        c = self.config
        mix, mix_known, tgt, tgt_known, beat, labels, seeds, variation, guidance = (
            [] for _ in range(9))
        grid_guidance = []
        for item, grid in zip(group, grids, strict=True):
            r, g = item.request, item.request.geometry
            mix_mask, tgt_mask = window_masks(g, self.codec.context_frames)
            latent, known = item.request.stream.track(item.stem).read(  # type: ignore[attr-defined]
                item.window_first_frame, g.window_frames, self._silence)
            mix.append(mixture[item.request_index])
            mix_known.append(mix_mask)
            tgt.append(latent)
            tgt_known.append(known & tgt_mask)
            if c.uses_beat_grid:
                beat.append(torch.from_numpy(beat_planes(
                    grid, item.window_first_frame, g.window_frames,
                    hop_length=c.hop_length, sample_rate=c.sample_rate)))
            labels.append(c.stems.index(item.stem))
            seeds.append(step_seed(r.seed, r.step, item.stem))
            variation.append(float(r.variation))
            guidance.append(float(r.guidance))
            # no grid: nothing to guide towards (the extra branch would equal the first)
            grid_guidance.append(float(r.grid_guidance) if c.uses_beat_grid and grid is not None
                                 else 1.0)
        dev = self.device
        cond = Conditioning(
            mixture=torch.stack(mix).to(dev), mixture_known=torch.stack(mix_known).to(dev),
            target=torch.stack(tgt).to(dev), target_known=torch.stack(tgt_known).to(dev),
            stem=torch.tensor(labels, dtype=torch.long, device=dev),
            beat=torch.stack(beat).to(dev) if beat else None,
        )
        return self.sample(cond, seeds=seeds, steps=steps,
                           variation=torch.tensor(variation, device=dev),
                           guidance=torch.tensor(guidance, device=dev),
                           grid_guidance=torch.tensor(grid_guidance, device=dev))

    def sample(self, cond: Conditioning, *, seeds: Sequence[int], steps: int,
               variation: torch.Tensor | None = None, guidance: torch.Tensor | None = None,
               grid_guidance: torch.Tensor | None = None) -> torch.Tensor:
        """Sample target latents ``(B, 1, C, F)`` for ``cond`` with this model's sampler.

        Item ``i`` draws all its noise from ``seeds[i]``. ``variation (B,)`` is a noise
        temperature ``v`` per item (default 1: exactly the trained sampler). Every noise level
        item ``i`` visits is ``v_i·σ`` clamped to the trained range
        (:func:`~.samplers.tempered_sigmas`): the start latent is unit noise times the first,
        the network is told the σ it is given, a consistency model re-noises to the next. The
        ODE samplers' schedule ends at :func:`~.samplers.ode_sigma_floor` instead of
        ``sigma_min``, a level the teacher was trained on.

        Useful range, measured on the embedded default (drums, 2 steps): from 0.05 to 2 the
        stream's level stays within 3 dB of v = 1; lower v gives a flatter, less accented
        envelope. What matters is that the start is still mostly noise, ``v·σ_max`` a few
        ``σ_data`` (0.05·80 = 4 ≈ 3·σ_data here). Below that the model, told the data is
        already there, keeps the empty latent: at v = 0 every level clamps to the floor and
        the output is the same quiet hiss (-46 dBFS) whatever the music and the seed, not a
        deterministic mode.

        ``guidance (B,)``: classifier-free guidance on the mixture (Ho & Salimans 2022), per
        item; 1 (the default) is the plain conditional model. Otherwise every network call
        also runs with the mixture removed (every frame unknown, as a model trained with
        mixture dropout sees it) and the estimate gains ``(g - 1)·(D - D_no_mix)``: what the
        mix changes is pushed further. ``grid_guidance (B,)``: the same on the beat grid
        (the planes zeroed, as beat dropout trains the model to go without them): ``(g -
        1)·(D - D_no_grid)`` pushes the part onto the grid. Each guidance in use adds one
        copy of the batch to every network call.
        """
        c = self.config
        b, channels, frames = cond.mixture.shape
        dev = self.device
        noise = ItemNoise(seeds, (1, channels, frames), device=dev)
        var = torch.ones(b, device=dev) if variation is None else variation.to(dev)
        # the branches every call evaluates: the conditional one, then one per guidance in use
        branches = [self.denoiser.planes(cond)]
        scales: list[torch.Tensor] = []
        if guidance is not None and bool((guidance != 1).any()):
            branches.append(self.denoiser.planes(
                replace(cond, mixture_known=torch.zeros_like(cond.mixture_known))))
            scales.append(guidance.to(dev).reshape(-1, 1, 1, 1))
        if (grid_guidance is not None and c.uses_beat_grid
                and bool((grid_guidance != 1).any())):
            branches.append(self.denoiser.planes(replace(cond, beat=None)))
            scales.append(grid_guidance.to(dev).reshape(-1, 1, 1, 1))
        planes = torch.cat(branches)
        stems = cond.stem.repeat(len(branches))
        copies = len(branches)

        bounds = self.codec.latent_bounds()

        def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            if copies == 1:
                estimate = self.denoiser(x, sigma, planes, stems)
            else:  # one call for every branch: D, then D without the mix / the grid
                outs = self.denoiser(x.repeat(copies, 1, 1, 1), sigma.repeat(copies), planes,
                                     stems).chunk(copies)
                estimate = outs[0]
                for scale, without in zip(scales, outs[1:], strict=True):
                    estimate = estimate + (scale - 1) * (outs[0] - without)
            return estimate if bounds is None else estimate.clamp(*bounds)

        inpaint = Inpaint(cond.target[:, None], cond.target_known)
        if self.sampler == "consistency":
            floor = c.sigma_min
            schedule = consistency_sigmas(steps, floor, c.sigma_max, c.rho)
        else:  # a teacher is never evaluated below the noise levels it was trained on
            floor = ode_sigma_floor(c.sigma_min, c.sigma_data)
            schedule = karras_sigmas(steps, floor, c.sigma_max, c.rho)
        sigmas = tempered_sigmas(schedule.to(dev), var, floor, c.sigma_max)  # (S, B)
        x = noise() * sigmas[0].reshape(-1, 1, 1, 1)
        if self.sampler == "consistency":
            out = sample_consistency(denoise, x, sigmas, noise=noise, sigma_min=c.sigma_min,
                                     inpaint=inpaint)
        else:
            solver = sample_heun if self.sampler == "heun" else sample_euler
            out = solver(denoise, x, sigmas, noise=noise, inpaint=inpaint)
        # The ODE samplers extrapolate from the (clamped) estimates and can leave the bounds
        return out if bounds is None else out.clamp(*bounds)

    def _decode(self, items: list[_Item]) -> dict[int, np.ndarray]:
        """Audio ``[region_start - xfade, region_end)`` per item, batched by span size."""
        hop = self.config.hop_length
        spans: dict[tuple[int, int], list[tuple[_Item, int, int]]] = {}
        for item in items:
            r = item.request
            out_start = r.output_start
            first = out_start // hop  # frame holding the first output sample
            begin = max(item.window_first_frame, first - self.codec.decode_context_frames)
            frames = r.geometry.window_frames - (begin - item.window_first_frame)
            spans.setdefault((frames, first - begin), []).append(
                (item, begin - item.window_first_frame, out_start - first * hop))
        out: dict[int, np.ndarray] = {}
        for (_, skip), group in spans.items():
            latent = torch.cat([it.latent[0, :, :, offset:]  # type: ignore[index]
                                for it, offset, _ in group])
            seeds = [step_seed(it.request.seed, it.request.step, f"{it.stem}/decode")
                     for it, _, _ in group]
            audio = self.codec.decode(latent, skip_frames=skip, seeds=seeds).cpu().numpy()
            for row, (it, _, crop) in zip(audio, group, strict=True):
                length = it.request.xfade + it.request.geometry.hop_samples
                out[id(it)] = np.ascontiguousarray(row[crop:crop + length], dtype=np.float32)
                assert out[id(it)].shape == (length,)
        return out


RUNTIME_OPTIONS = ("device", "sampler", "codec", "codec_options", "codec_weights",
                   "channels_last", "beat_tracker")


def _available_device(spec: str | torch.device) -> torch.device:
    """``spec`` as a device this torch build can use, or a clear error saying why not."""
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError) as exc:
        raise GeneratorError(f"unknown device {str(spec)!r}: use cpu, cuda, cuda:N or mps "
                             f"({exc})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GeneratorError(f"device {str(spec)!r}: this torch ({torch.__version__}) "
                                 f"sees no CUDA GPU; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GeneratorError(f"device {str(spec)!r}: there are "
                                 f"{torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GeneratorError(f"device {str(spec)!r}: MPS is not available here; use "
                             f"--device cpu")
    return device


def load_pipeline(spec: str, **options: Any) -> StreamingPipeline:
    """``"default"`` (the embedded model) or a checkpoint directory → a pipeline.

    Options: ``device`` (default cpu), ``sampler`` (override the config's), ``codec`` (a
    built :class:`~.codecs.Codec`), ``codec_options`` (dict of codec runtime options),
    ``codec_weights`` (shortcut for ``codec_options={"weights": ...}``, music2latent),
    ``channels_last`` (default: on CPU), ``beat_tracker`` (what a beat grid is tracked in
    without a host transport: ``learned``, the default, ``onsets``, or a directory of learned
    weights; :func:`~.tempo.envelope_for`).
    """
    unknown = sorted(set(options) - set(RUNTIME_OPTIONS))
    if unknown:
        raise GeneratorError(f"unknown model options {unknown}; allowed: "
                             f"{', '.join(RUNTIME_OPTIONS)}")
    device = _available_device(options.get("device", "cpu"))
    if spec == "default":
        directory = DEFAULT_WEIGHTS
        if not (directory / "config.json").is_file():
            raise GeneratorError(
                f"the embedded default model is not in this build yet ({directory} has no "
                f"config.json and model.safetensors). Train one with `sideman train` and "
                f"pass its checkpoint directory, or use the 'clicktrack' diagnostic model."
            )
    else:
        directory = Path(spec)
    codec_options = dict(options.get("codec_options") or {})
    if options.get("codec_weights") is not None:
        codec_options["weights"] = options["codec_weights"]
    return StreamingPipeline.from_pretrained(
        directory, codec=options.get("codec"), device=device,
        sampler=options.get("sampler"), channels_last=options.get("channels_last"),
        codec_options=codec_options,
        beat_tracker=options.get("beat_tracker") or DEFAULT_BEAT_TRACKER,
    )
