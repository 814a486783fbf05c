"""The streaming pipeline: units, determinism, batching, masking, inpainting, no drift, I/O."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from sideman.models.base import GeneratorError, StepRequest, Transport, step_seed
from sideman.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError
from sideman.models.config import ConfigError
from sideman.models.geometry import Geometry
from sideman.models.pipeline import DEFAULT_WEIGHTS, StreamingPipeline, load_pipeline
from sideman.models.registry import load_generator
from sideman.models.samplers import (
    Inpaint,
    ItemNoise,
    consistency_sigmas,
    karras_sigmas,
    model_calls,
    ode_sigma_floor,
)
from sideman.models.testing import tiny_config, tiny_mel_codec, tiny_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pipe() -> StreamingPipeline:
    return tiny_pipeline()


def song(seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 8000)
    t = np.arange(n) / 8000
    audio = 0.3 * np.sin(2 * np.pi * 110 * t) * (np.mod(t, 0.5) < 0.1)
    return (audio + 0.05 * rng.standard_normal(n)).astype(np.float32)


def window_of(audio: np.ndarray, g: Geometry, k: int) -> np.ndarray:
    """What a driver sends: the window of step k, zero before 0 and from n_k on."""
    start, end = g.window(k)
    out = np.zeros(end - start, dtype=np.float32)
    known_end = min(end, g.step_position(k), len(audio))
    lo = max(start, 0)
    if known_end > lo:
        out[lo - start:known_end - start] = audio[lo:known_end]
    return out


def request(pipe: StreamingPipeline, stream, k: int, g: Geometry, *, audio=None,
            stems=("bass", "drums"), **kw) -> StepRequest:
    audio = song() if audio is None else audio
    kw.setdefault("num_steps", 2)
    return StepRequest(stream=stream, step=k, geometry=g, mixture=window_of(audio, g, k),
                       stems=stems, **kw)


class Spy:
    """Records the conditioning and sampled latents of every sampling call."""

    def __init__(self, pipe: StreamingPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple] = []
        original = pipe.sample

        def sample(cond, **kw):
            out = original(cond, **kw)
            self.calls.append((cond, out))
            return out

        monkeypatch.setattr(pipe, "sample", sample)


# -- units and shapes -----------------------------------------------------------------------
@pytest.mark.parametrize(("hop", "w", "xfade"), [(4, 1, 0), (8, -1, 300), (4, 2, 17), (8, 0, 64)])
def test_result_covers_region_with_xfade_exactly(pipe, hop, w, xfade) -> None:
    g = pipe.info.geometry(hop_frames=hop, lookahead=w)
    stream = pipe.new_stream()
    for k in range(3):
        (res,) = pipe.generate([request(pipe, stream, k, g, xfade=xfade)])
        region_start, region_end = g.region(k)
        assert res.start == region_start - xfade
        assert set(res.audio) == {"bass", "drums"}
        for audio in res.audio.values():
            assert audio.dtype == np.float32 and audio.shape == (region_end - res.start,)
            assert np.isfinite(audio).all()
        assert res.num_steps == 2 and set(res.timings) == {"encode", "sample", "decode"}


def test_units_come_from_the_codec(pipe) -> None:
    info = pipe.info
    assert (info.sample_rate, info.hop_length, info.window_frames) == (8000, 128, 32)
    assert info.stems == ("bass", "drums", "guitar", "piano")
    assert info.trained_hop_frames == (4, 8) and info.default_steps == 2


# -- determinism and batching -----------------------------------------------------------------
def test_same_seed_same_output_other_seed_other_output(pipe) -> None:
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    a = pipe.generate([request(pipe, pipe.new_stream(), 5, g, seed=3)])[0]
    b = pipe.generate([request(pipe, pipe.new_stream(), 5, g, seed=3)])[0]
    c = pipe.generate([request(pipe, pipe.new_stream(), 5, g, seed=4)])[0]
    for stem in ("bass", "drums"):
        assert np.array_equal(a.audio[stem], b.audio[stem])
        assert not np.array_equal(a.audio[stem], c.audio[stem])
    assert not np.array_equal(a.audio["bass"], a.audio["drums"])


def test_output_does_not_depend_on_the_batch(pipe) -> None:
    g1 = pipe.info.geometry(hop_frames=4, lookahead=1)
    g2 = pipe.info.geometry(hop_frames=8, lookahead=0)
    alone = pipe.generate([request(pipe, pipe.new_stream(), 6, g1, seed=1, xfade=50)])[0]
    batch = pipe.generate([
        request(pipe, pipe.new_stream(), 2, g2, seed=9, stems=("piano",), xfade=10,
                audio=song(seed=5)),
        request(pipe, pipe.new_stream(), 6, g1, seed=1, xfade=50),
        request(pipe, pipe.new_stream(), 6, g1, seed=2, stems=("bass", "guitar"), num_steps=3),
    ])
    assert batch[1].start == alone.start
    for stem in ("bass", "drums"):
        np.testing.assert_allclose(batch[1].audio[stem], alone.audio[stem], rtol=1e-4,
                                   atol=1e-5)
    assert batch[2].num_steps == 3 and set(batch[0].audio) == {"piano"}


# -- the future is hidden, the past is kept ------------------------------------------------------
@pytest.mark.parametrize("w", [0, 1, 2])
def test_mixture_after_the_capture_point_changes_nothing(pipe, w) -> None:
    g = pipe.info.geometry(hop_frames=4, lookahead=w)
    k = 9
    clean = window_of(song(), g, k)
    leaked = clean.copy()
    future = g.step_position(k) - g.window(k)[0]
    assert 0 < future < len(clean)
    leaked[future:] = np.random.default_rng(1).standard_normal(len(clean) - future)
    outs = []
    for mixture in (clean, leaked):
        req = StepRequest(stream=pipe.new_stream(), step=k, geometry=g, mixture=mixture,
                          stems=("bass",), num_steps=2)
        outs.append(pipe.generate([req])[0].audio["bass"])
    assert np.array_equal(outs[0], outs[1])
    # ... while the known past does matter (so the comparison above can fail).
    changed = clean.copy()
    changed[future - 2000:future - 1000] += 0.5
    req = StepRequest(stream=pipe.new_stream(), step=k, geometry=g, mixture=changed,
                      stems=("bass",), num_steps=2)
    assert not np.array_equal(pipe.generate([req])[0].audio["bass"], outs[0])


def test_sampler_output_equals_known_target_frames(pipe, monkeypatch) -> None:
    spy = Spy(pipe, monkeypatch)
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    stream = pipe.new_stream()
    for k in range(12):
        pipe.generate([request(pipe, stream, k, g)])
    for cond, out in spy.calls:
        known = cond.target_known[:, None, None, :].expand_as(out)
        assert torch.equal(out[known], cond.target[:, None].expand_as(out)[known])
    last_cond = spy.calls[-1][0]
    assert last_cond.target_known.all(dim=1).tolist() == [False, False]  # region unknown
    assert last_cond.target_known[:, :28].all()  # the whole history before it is known


def test_geometry_cannot_drift(pipe, monkeypatch) -> None:
    """Over many steps, r/w changes and skipped steps, state frames are Geometry's regions."""
    spy = Spy(pipe, monkeypatch)
    stream = pipe.new_stream()
    hop_length = pipe.info.hop_length
    plan = [(4, 1)] * 7 + [(8, 0)] * 5 + [(4, 2)] * 6 + [(8, -1)] * 4 + [(4, 1)] * 9
    written: dict[int, torch.Tensor] = {}  # absolute frame -> latent column (bass)
    k_of = {}
    captured = 0
    for i, (hop, w) in enumerate(plan):
        g = pipe.info.geometry(hop_frames=hop, lookahead=w)
        captured += g.hop_samples if i % 5 != 3 else 2 * g.hop_samples  # skip some steps
        k = g.last_step_ready(captured)
        if captured % g.hop_samples:
            continue
        res = pipe.generate([request(pipe, stream, k, g, xfade=40)])[0]
        cond, out = spy.calls[-1]
        start, end = g.region(k)
        assert res.start == start - 40 and start % hop_length == 0
        window_first = g.frame_index(g.window(k)[0])
        # Everything the conditioning called known is exactly what was written before.
        for j in np.flatnonzero(cond.target_known[0].numpy()):
            frame = window_first + int(j)
            if frame >= 0:
                assert torch.equal(cond.target[0, :, j], written[frame])
        # Every frame written before and inside the window, before the region, is known.
        for frame in written:
            if window_first <= frame < g.frame_index(start):
                assert cond.target_known[0, frame - window_first]
        for frame in range(g.frame_index(start), g.frame_index(end)):
            written[frame] = out[0, 0, :, frame - window_first].clone()
            k_of[frame] = k
        track = stream.tracks["bass"]
        latent, known = track.read(g.frame_index(start), end // hop_length - start // hop_length,
                                   torch.zeros(16))
        assert known.all() and torch.equal(latent, out[0, 0, :, -(end - start) // hop_length:])
    assert len(written) > 60


def test_reset_forgets_the_past(pipe) -> None:
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    stream = pipe.new_stream()
    for k in range(4):
        pipe.generate([request(pipe, stream, k, g)])
    with_history = pipe.generate([request(pipe, stream, 4, g)])[0]
    stream.reset()
    assert stream.tracks == {}
    after_reset = pipe.generate([request(pipe, stream, 4, g)])[0]
    fresh = pipe.generate([request(pipe, pipe.new_stream(), 4, g)])[0]
    assert np.array_equal(after_reset.audio["bass"], fresh.audio["bass"])
    assert not np.array_equal(with_history.audio["bass"], fresh.audio["bass"])


def test_beat_grid_model_listens_to_transport() -> None:
    pipe = tiny_pipeline(uses_beat_grid=True)
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    outs = [pipe.generate([request(pipe, pipe.new_stream(), 3, g, transport=t)])[0]
            for t in (None, Transport(bpm=120.0, beat_position=0),
                      Transport(bpm=97.0, beat_position=100))]
    assert not np.array_equal(outs[0].audio["bass"], outs[1].audio["bass"])
    assert not np.array_equal(outs[1].audio["bass"], outs[2].audio["bass"])


# -- contract errors ---------------------------------------------------------------------------
def test_bad_requests_are_refused(pipe) -> None:
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    stream = pipe.new_stream()
    with pytest.raises(GeneratorError, match="twice in one generate"):
        pipe.generate([request(pipe, stream, 0, g), request(pipe, stream, 1, g)])
    other = tiny_pipeline()
    with pytest.raises(GeneratorError, match="not made by this pipeline"):
        pipe.generate([request(pipe, other.new_stream(), 0, g)])
    with pytest.raises(GeneratorError, match="unknown stems"):
        pipe.generate([request(pipe, stream, 0, g, stems=("vocals",))])
    with pytest.raises(GeneratorError, match="num_steps must be in"):
        pipe.generate([request(pipe, stream, 0, g, num_steps=9)])
    wrong = Geometry(sample_rate=8000, hop_length=128, window_frames=64, hop_frames=8,
                     lookahead=1)
    with pytest.raises(GeneratorError, match="does not match the model"):
        pipe.generate([request(pipe, stream, 0, wrong)])
    with pytest.raises(GeneratorError, match="stems listed twice"):
        pipe.generate([request(pipe, stream, 0, g, stems=("bass", "bass"))])
    bad = request(pipe, stream, 0, g)
    bad.mixture[5] = np.nan
    with pytest.raises(GeneratorError, match="NaN or inf"):
        pipe.generate([bad])
    assert pipe.generate([]) == []


def test_untrained_geometry_warns_once(pipe, caplog) -> None:
    g = pipe.info.geometry(hop_frames=5, lookahead=1)
    with caplog.at_level(logging.WARNING):
        for k in range(3):
            pipe.generate([request(pipe, pipe.new_stream(), k, g)])
    warnings = [r for r in caplog.records if "outside the trained grid" in r.message]
    assert len(warnings) == 1 and "hop 5 frames, w=1" in warnings[0].message


# -- checkpoints -------------------------------------------------------------------------------
def test_save_load_round_trip(pipe, tmp_path: Path) -> None:
    pipe.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    loaded = load_pipeline(str(tmp_path / "ckpt"), channels_last=False)
    assert loaded.config == pipe.config and loaded.info == pipe.info
    # The weights round-trip bit for bit ...
    saved, got = pipe.denoiser.net.state_dict(), loaded.denoiser.net.state_dict()
    assert saved.keys() == got.keys()
    for name, tensor in saved.items():
        assert got[name].dtype == tensor.dtype and torch.equal(got[name], tensor), name
    # ... and generate the same audio. Not compared bitwise: oneDNN may pick another kernel
    # for differently aligned buffers of the same weights (a CI run differed by 1e-6 relative).
    g = pipe.info.geometry(hop_frames=8, lookahead=1)
    ra = pipe.generate([request(pipe, pipe.new_stream(), 4, g, xfade=33)])[0]
    rb = loaded.generate([request(loaded, loaded.new_stream(), 4, g, xfade=33)])[0]
    assert ra.audio.keys() == rb.audio.keys()
    for stem in ra.audio:
        assert ra.audio[stem].shape == rb.audio[stem].shape
        np.testing.assert_allclose(rb.audio[stem], ra.audio[stem], rtol=1e-4,
                                   atol=1e-5 * float(np.abs(ra.audio[stem]).max()))
    via_registry = load_generator(str(tmp_path / "ckpt"))
    assert isinstance(via_registry, StreamingPipeline)
    assert via_registry.denoiser.channels_last  # the CPU default


def test_config_records_what_the_issue_asks(pipe, tmp_path: Path) -> None:
    pipe.save_pretrained(tmp_path)
    data = json.loads((tmp_path / CONFIG_NAME).read_text())
    assert data["codec"] == "mel" and data["codec_params"]["n_mels"] == 16
    assert data["sample_rate"] == 8000 and data["hop_length"] == 128
    assert data["window_frames"] == 32 and data["stems"] == ["bass", "drums", "guitar", "piano"]
    assert data["trained_hop_frames"] == [4, 8] and data["trained_lookaheads"] == [-1, 0, 1, 2]
    assert data["uses_beat_grid"] is False and data["kind"] == "consistency"
    assert data["default_steps"] == 2 and data["unet"]["block_out_channels"] == [8, 16]


def test_fp16_storage_halves_the_file(pipe, tmp_path: Path) -> None:
    pipe.save_pretrained(tmp_path / "f32")
    pipe.save_pretrained(tmp_path / "f16", dtype=torch.float16)
    size32 = (tmp_path / "f32" / WEIGHTS_NAME).stat().st_size
    size16 = (tmp_path / "f16" / WEIGHTS_NAME).stat().st_size
    assert size16 < 0.6 * size32
    loaded = StreamingPipeline.from_pretrained(tmp_path / "f16", channels_last=False)
    for name, tensor in pipe.denoiser.net.state_dict().items():
        got = loaded.denoiser.net.state_dict()[name]
        assert got.dtype == torch.float32 and torch.equal(got, tensor.half().float())


def test_mismatched_codec_is_refused(pipe, tmp_path: Path) -> None:
    pipe.save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="n_mels"):
        StreamingPipeline.from_pretrained(tmp_path, codec=tiny_mel_codec(n_mels=24))
    with pytest.raises(ConfigError, match="sample_rate: model has 8000, codec has 16000"):
        StreamingPipeline.from_pretrained(tmp_path, codec=tiny_mel_codec(sample_rate=16000))
    # Decoder settings are runtime choices, not part of the latent space.
    ok = StreamingPipeline.from_pretrained(tmp_path, codec_options={"gl_iters": 2})
    assert ok.codec.gl_iters == 2


def test_mismatched_weights_and_broken_checkpoints_are_refused(pipe, tmp_path: Path) -> None:
    pipe.save_pretrained(tmp_path)
    data = json.loads((tmp_path / CONFIG_NAME).read_text())
    data["unet"]["block_out_channels"] = [8, 32]
    (tmp_path / CONFIG_NAME).write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="does not fit the architecture"):
        load_pipeline(str(tmp_path))
    data["window_frames"] = "many"
    (tmp_path / CONFIG_NAME).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="window_frames must be a positive int"):
        load_pipeline(str(tmp_path))
    del data["window_frames"]
    (tmp_path / CONFIG_NAME).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"missing keys \['window_frames'\]"):
        load_pipeline(str(tmp_path))
    (tmp_path / CONFIG_NAME).write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_pipeline(str(tmp_path))
    (tmp_path / CONFIG_NAME).unlink()
    with pytest.raises(CheckpointError, match=r"config\.json not found"):
        load_pipeline(str(tmp_path))


def test_geometry_mismatch_on_load(pipe) -> None:
    with pytest.raises(ConfigError, match="32-frame window, asked for 64"):
        pipe.config.check_window(64)
    with pytest.raises(ConfigError, match="cannot use the heun sampler"):
        tiny_config(sampler="heun")


def test_the_embedded_default_model_loads_and_streams() -> None:
    """The packaged weights: a 2-step consistency model on the mel codec whose size fits the
    package budget, and whose steps give finite audio of exactly the region's length."""
    assert (DEFAULT_WEIGHTS / CONFIG_NAME).is_file() and (DEFAULT_WEIGHTS / WEIGHTS_NAME).is_file()
    assert (DEFAULT_WEIGHTS / WEIGHTS_NAME).stat().st_size < 25 * 2**20
    assert (DEFAULT_WEIGHTS / "MODEL_CARD.md").is_file()
    pipe = load_generator("default")
    info = pipe.info
    assert (pipe.config.kind, pipe.config.sampler, info.default_steps) == (
        "consistency", "consistency", 2)
    assert (info.sample_rate, info.hop_length, info.window_frames) == (22050, 512, 256)
    assert info.trained_hop_frames == (32, 64) and 1 in info.trained_lookaheads
    g = info.geometry(hop_frames=64, lookahead=1)
    stream = pipe.new_stream()
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(g.window_samples * 2)).astype(np.float32)
    for k in range(2):
        (res,) = pipe.generate([request(pipe, stream, k, g, audio=audio, stems=("drums",))])
        start, end = g.region(k)
        assert res.start == start and res.audio["drums"].shape == (end - start,)
        assert np.isfinite(res.audio["drums"]).all()
    with pytest.raises(GeneratorError, match="unknown model options"):
        load_pipeline("default", colour="red")


def test_speed_measurement_runs_on_a_real_stream(pipe) -> None:
    from sideman.bench.architecture import default_candidate, measure_steps

    row = measure_steps(pipe, hop_frames=4, stems=2, num_steps=2, steps=2)
    assert row["hop_ms"] == pytest.approx(1000 * 4 * 128 / 8000)
    assert row["total_ms_median"] >= row["sample_ms_median"] > 0
    candidate = default_candidate()
    assert (candidate.sample_rate, candidate.hop_length, candidate.window_frames) == \
        (22050, 512, 256)
    assert candidate.kind == "consistency" and candidate.default_steps == 2


def test_ratio_geometry_is_whole_frames_or_refused(pipe, caplog) -> None:
    from sideman.models.geometry import GeometryError

    g = pipe.geometry_for(0.25, 1, exact=True)
    assert (g.hop_frames, g.hop_samples) == (8, 8 * 128)
    with caplog.at_level(logging.WARNING):
        rounded = pipe.geometry_for(0.2, 1)
    assert rounded.hop_frames == 6 and rounded.hop_samples == 6 * 128
    assert "r=0.2 rounded to 0.1875 (6 latent frames of 32)" in caplog.text
    with pytest.raises(GeometryError, match="not a whole number"):
        pipe.geometry_for(0.2, 1, exact=True)


def test_latent_track_keeps_frames_by_absolute_index() -> None:
    from sideman.models.pipeline import LatentTrack

    track = LatentTrack(channels=2, capacity=10)
    silence = torch.tensor([-1.0, -2.0])
    track.write(3, torch.ones(2, 4))
    track.write(9, 2 * torch.ones(2, 2))  # frames 7 and 8 stay unknown (a skipped step)
    latent, known = track.read(-2, 14, silence)
    assert known.tolist() == [True, True] + [False] * 3 + [True] * 4 + [False] * 2 + \
        [True] * 2 + [False]
    assert torch.equal(latent[:, 0], silence) and torch.equal(latent[:, 5], torch.ones(2))
    assert torch.equal(latent[:, 11], 2 * torch.ones(2))
    assert torch.equal(latent[:, 7], torch.ones(2))
    assert track.frames().tolist() == [3, 4, 5, 6, 9, 10]
    track.write(15, 3 * torch.ones(2, 2))  # keeps only the last 10 frames: 7 .. 16
    assert track.frames().tolist() == [9, 10, 15, 16]
    track.write(100, torch.zeros(2, 1))  # a jump far ahead starts afresh
    assert track.frames().tolist() == [100]
    track.write(50, torch.zeros(2, 1))  # and so does a jump far back
    assert track.frames().tolist() == [50]


# -- bounded latents ----------------------------------------------------------------------------
def test_mel_bounds_hold_full_scale_audio() -> None:
    codec = tiny_mel_codec()
    low, high = codec.latent_bounds()
    t = torch.arange(8000) / 8000
    for audio in (torch.sin(2 * np.pi * 440 * t), torch.sign(torch.sin(2 * np.pi * 55 * t)),
                  torch.zeros(8000)):
        latent = codec.encode(audio[None, :7936])
        assert low <= latent.min().item() and latent.max().item() <= high


@pytest.mark.parametrize("sampler", ["heun", "consistency"])
def test_overshooting_denoiser_cannot_leave_the_codec_bounds(monkeypatch, sampler) -> None:
    """A streaming model reads its own output back as known target: an overshoot must not
    grow from step to step (an undertrained teacher at 2 Heun steps reached ±240)."""
    kind = "consistency" if sampler == "consistency" else "teacher"
    pipe = tiny_pipeline(kind=kind, sampler=sampler)
    low, high = pipe.codec.latent_bounds()
    real = pipe.denoiser

    class Overshoot:
        def planes(self, cond):
            return real.planes(cond)

        def __call__(self, x, sigma, planes, stem):
            return real(x, sigma, planes, stem) + 1e4 * torch.sign(x)

    monkeypatch.setattr(pipe, "denoiser", Overshoot())
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    stream = pipe.new_stream()
    spy = Spy(pipe, monkeypatch)
    for k in range(4):
        (res,) = pipe.generate([request(pipe, stream, k, g)])
        assert all(np.isfinite(a).all() for a in res.audio.values())
    for _, out in spy.calls:
        assert low <= out.min().item() and out.max().item() <= high


def test_unusable_devices_are_refused_clearly(pipe, tmp_path: Path) -> None:
    pipe.save_pretrained(tmp_path)
    with pytest.raises(GeneratorError, match="unknown device 'gpu': use cpu, cuda"):
        load_pipeline(str(tmp_path), device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(GeneratorError, match="sees no CUDA GPU; use --device cpu"):
            load_pipeline(str(tmp_path), device="cuda")
    else:
        with pytest.raises(GeneratorError, match="CUDA devices"):
            load_pipeline(str(tmp_path), device=f"cuda:{torch.cuda.device_count()}")
    assert load_pipeline(str(tmp_path), device="cpu").device == torch.device("cpu")


# -- noise temperature and the teacher's schedule ------------------------------------------------
class SigmaSpy:
    """Stands in for a pipeline's denoiser: records every call's input and σ."""

    def __init__(self, pipe: StreamingPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = pipe.denoiser
        self.calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        monkeypatch.setattr(pipe, "denoiser", self)

    def planes(self, cond):
        return self.real.planes(cond)

    def __call__(self, x, sigma, planes, stem):
        out = self.real(x, sigma, planes, stem)
        self.calls.append((x.clone(), sigma.clone(), out.clone()))
        return out


@pytest.mark.parametrize("sampler", ["consistency", "heun", "euler"])
def test_sampling_starts_and_stays_at_the_tempered_sigma(monkeypatch, sampler) -> None:
    """Item i starts from noise·(v_i·σ_0), the network is told v_i·σ_k (clamped to the trained
    range) at every call, and a consistency model re-noises to v_i·σ_k."""
    kind = "consistency" if sampler == "consistency" else "teacher"
    pipe = tiny_pipeline(kind=kind, sampler=sampler)
    c = pipe.config
    spy = SigmaSpy(pipe, monkeypatch)
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    v = [0.0, 0.02, 0.5, 1.0, 2.0]
    reqs = [request(pipe, pipe.new_stream(), 3, g, stems=("bass",), num_steps=3, seed=i,
                    variation=vi) for i, vi in enumerate(v)]
    cond_spy = Spy(pipe, monkeypatch)
    pipe.generate(reqs)
    ((cond, _),) = cond_spy.calls
    if sampler == "consistency":
        lo, base = c.sigma_min, consistency_sigmas(3, c.sigma_min, c.sigma_max, c.rho)
    else:
        lo = ode_sigma_floor(c.sigma_min, c.sigma_data)
        base = karras_sigmas(3, lo, c.sigma_max, c.rho)
    want = [[min(max(vi * s, lo), c.sigma_max) for vi in v] for s in base.tolist() if s > 0]
    told = [sigma.tolist() for _, sigma, _ in spy.calls]
    assert len(told) == model_calls(sampler, 3)
    assert told[0] == pytest.approx(want[0], rel=1e-6)
    assert {tuple(round(x, 4) for x in t) for t in told} == {
        tuple(round(x, 4) for x in w) for w in want}  # every level visited, no other
    # The start latent on the frames to generate is exactly the first draw times v·σ_0.
    unknown = ~cond.target_known
    x0 = spy.calls[0][0]
    for i, r in enumerate(reqs):
        first = ItemNoise([step_seed(r.seed, 3, "bass")], x0.shape[1:])()[0]
        torch.testing.assert_close(x0[i][:, :, unknown[i]],
                                   first[:, :, unknown[i]] * want[0][i])
    if sampler == "consistency":  # re-noised to v·σ_1 around the clamped first estimate
        low, high = pipe.codec.latent_bounds()
        estimate = spy.calls[0][2].clamp(low, high)
        spread = (spy.calls[1][0] - estimate)[:, :, :, unknown[0]].std(dim=(1, 2, 3))
        target = torch.tensor([(max(w**2 - c.sigma_min**2, 0.0)) ** 0.5 for w in want[1]])
        torch.testing.assert_close(spread, target, rtol=0.15, atol=1e-6)


def _band(seconds: float, sr: int = 22050, seed: int = 0) -> np.ndarray:
    """A drumless band at 120 bpm: a plucked bass on every beat and a chord per bar."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    beat = np.mod(t, 0.5)
    roots = np.array([55.0, 55.0, 73.4, 65.4])[(t // 2).astype(int) % 4]
    bass = 0.3 * np.sin(2 * np.pi * roots * t) * np.exp(-6 * beat)
    chord = sum(np.sin(2 * np.pi * roots * m * t) for m in (4, 5, 6)) * 0.05 * np.exp(
        -1.5 * np.mod(t, 2.0))
    return (bass + chord + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def _stream_level(pipe: StreamingPipeline, audio: np.ndarray, *, steps: int, variation: float,
                  hops: int) -> float:
    """RMS level (dBFS) of the drums the pipeline streams over ``audio`` at r = 1/8, w = 1."""
    g = pipe.info.geometry(hop_frames=32, lookahead=1)
    stream = pipe.new_stream()
    track = [pipe.generate([request(pipe, stream, k, g, audio=audio, stems=("drums",),
                                    num_steps=steps, variation=variation)])[0].audio["drums"]
             for k in range(hops)]
    return float(20 * np.log10(np.sqrt(np.mean(np.concatenate(track).astype(np.float64) ** 2))))


@pytest.fixture(scope="module")
def default_pipe() -> StreamingPipeline:
    return load_pipeline("default")


def test_variation_keeps_the_level_of_the_embedded_default(default_pipe) -> None:
    """Below 1 the stream used to collapse (v = 0.5: -77 dBFS where v = 1 gave -30) because the
    noise was scaled but the network told the unscaled σ."""
    audio = _band(7.0)
    at_one = _stream_level(default_pipe, audio, steps=2, variation=1.0, hops=7)
    for v in (0.5, 2.0):
        assert abs(_stream_level(default_pipe, audio, steps=2, variation=v, hops=7)
                   - at_one) < 6.0, v


def test_variation_one_is_the_trained_consistency_sampler_bit_for_bit(default_pipe) -> None:
    """v = 1 (and no variation) is exactly Song et al.'s multistep sampler, as it always was."""
    pipe, c = default_pipe, default_pipe.config
    g = pipe.info.geometry(hop_frames=64, lookahead=1)
    cond_spy: list = []
    original = pipe.sample
    pipe.sample = lambda cond, **kw: cond_spy.append(cond) or original(cond, **kw)
    try:
        pipe.generate([request(pipe, pipe.new_stream(), 2, g, audio=_band(6.0),
                               stems=("drums", "bass"))])
    finally:
        del pipe.sample
    (cond,) = cond_spy
    seeds = [11, 12]
    bounds = pipe.codec.latent_bounds()
    planes = pipe.denoiser.planes(cond)
    noise = ItemNoise(seeds, (1, *cond.mixture.shape[1:]))
    inpaint = Inpaint(cond.target[:, None], cond.target_known)

    def model(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = sigma.expand(2)
        return pipe.denoiser(inpaint.noised(x, sigma, noise()), sigma, planes,
                             cond.stem).clamp(*bounds)

    with torch.no_grad():
        sigmas = consistency_sigmas(2, c.sigma_min, c.sigma_max, c.rho)
        x0 = model(noise() * c.sigma_max, sigmas[0])
        for sigma in sigmas[1:]:
            x0 = model(x0 + (sigma**2 - c.sigma_min**2).clamp(min=0).sqrt() * noise(), sigma)
        reference = inpaint.finish(x0).clamp(*bounds)
        for variation in (None, torch.ones(2)):
            got = pipe.sample(cond, seeds=seeds, steps=2, variation=variation)
            assert torch.equal(got, reference)


@pytest.fixture(scope="module")
def teacher_pipe() -> StreamingPipeline:
    return load_pipeline(str(DEFAULT_WEIGHTS.parent / "default-teacher"))


@pytest.mark.parametrize("steps", [2, 3, 4, 6, 8])
def test_the_teacher_stays_sane_at_few_heun_steps(teacher_pipe, monkeypatch, steps) -> None:
    """The embedded teacher at 2-8 Heun steps: a correction evaluated at σ_min = 0.002 (never
    trained) used to send 55-75 % of the latent to the codec's floor and up to 28 % to its
    clamp, at +11 dBFS. Now it is evaluated at trained σ only, and lands on the floor σ with
    an Euler step."""
    pipe = teacher_pipe
    c = pipe.config
    low, high = pipe.codec.latent_bounds()
    spy = Spy(pipe, monkeypatch)
    sigma_spy = SigmaSpy(pipe, monkeypatch)
    level = _stream_level(pipe, _band(4.0), steps=steps, variation=1.0, hops=3)
    region = torch.cat([out[..., ~cond.target_known[0]].flatten() for cond, out in spy.calls])
    at_floor = float((region <= low + 1e-3).float().mean())
    at_clamp = float((region >= high - 1e-3).float().mean())
    assert at_floor < 0.25 and at_clamp < 0.01, (at_floor, at_clamp)
    assert -90.0 < level < -12.0
    told = torch.cat([sigma for _, sigma, _ in sigma_spy.calls])
    assert float(told.min()) >= ode_sigma_floor(c.sigma_min, c.sigma_data) * (1 - 1e-6)
    assert len(sigma_spy.calls) == 3 * model_calls("heun", steps)


# -- mixture guidance --------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["consistency", "heun"])
def test_mixture_guidance_extrapolates_away_from_the_model_without_the_mix(monkeypatch,
                                                                          sampler) -> None:
    """g = 1 is the plain model bit for bit; g = 0 is the model that hears no mix (every
    mixture frame unknown); g = 2 is 2·D_mix − D_no_mix at each call; items of one batch keep
    their own scale."""
    kind = "consistency" if sampler == "consistency" else "teacher"
    pipe = tiny_pipeline(kind=kind, sampler=sampler)
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    dev = pipe.device
    reqs = [request(pipe, pipe.new_stream(), 3, g, stems=("drums",), seed=7 + i)
            for i in range(3)]
    spy = Spy(pipe, monkeypatch)
    pipe.generate(reqs)
    ((cond, _),) = spy.calls
    monkeypatch.undo()
    seeds = [step_seed(r.seed, 3, "drums") for r in reqs]

    def sample(c, guidance=None):
        return pipe.sample(c, seeds=seeds, steps=2, guidance=guidance)

    plain = sample(cond)
    torch.testing.assert_close(sample(cond, torch.ones(3, device=dev)), plain, rtol=0, atol=0)
    deaf = replace(cond, mixture_known=torch.zeros_like(cond.mixture_known))
    torch.testing.assert_close(sample(cond, torch.zeros(3, device=dev)), sample(deaf),
                               rtol=1e-5, atol=1e-5)
    mixed = sample(cond, torch.tensor([1.0, 0.0, 2.0], device=dev))
    torch.testing.assert_close(mixed[0], plain[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mixed[1], sample(deaf)[1], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(mixed[2], plain[2], atol=1e-4)


def test_guidance_is_a_request_field_the_pipeline_validates() -> None:
    pipe = tiny_pipeline()
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    with pytest.raises(GeneratorError, match=r"guidance must be in \[0, 16\]"):
        pipe.generate([request(pipe, pipe.new_stream(), 3, g, guidance=17.0)])
    out = pipe.generate([request(pipe, pipe.new_stream(), 3, g, guidance=2.5)])
    assert all(np.isfinite(a).all() for a in out[0].audio.values())


# -- the beat grid: the host's, or one tracked in the input ------------------------------------
class TrackerSpy:
    """Stands in for :meth:`~sideman.models.tempo.GridTracker.update` (the tiny codec's window
    is shorter than the real tracker needs): records what it was given, returns a fixed
    grid."""

    def __init__(self, grid: Transport | None) -> None:
        self.grid = grid
        self.calls: list[tuple[np.ndarray, int, int, int]] = []

    def __call__(self, tracker, audio, *, known, start):
        self.calls.append((np.array(audio), tracker.sample_rate, known, start))
        return self.grid


def test_without_a_host_transport_the_model_gets_the_grid_tracked_in_what_it_heard(
        monkeypatch) -> None:
    """The tracked grid is the grid the model is given (the output equals that of a host
    transport equal to it), read from the heard part of the window only; the host's grid
    wins when sent; track_beats off, or a model without the grid input, gives none."""
    from sideman.models.tempo import GridTracker

    grid = Transport(bpm=113.0, beat_position=1234)
    spy = TrackerSpy(grid)
    monkeypatch.setattr(GridTracker, "update",
                        lambda self, audio, **kw: spy(self, audio, **kw))
    pipe = tiny_pipeline(uses_beat_grid=True)
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    k = 9
    tracked = pipe.generate([request(pipe, pipe.new_stream(), k, g, track_beats=True)])[0]
    assert (tracked.grid, tracked.grid_source) == (grid, "tracked")
    ((audio, rate, known, start),) = spy.calls
    assert rate == g.sample_rate and start == g.window(k)[0]
    assert known == g.step_position(k) - g.window(k)[0]
    np.testing.assert_array_equal(audio[:known], window_of(song(), g, k)[:known])

    hosted = pipe.generate([request(pipe, pipe.new_stream(), k, g, transport=grid)])[0]
    for stem in ("bass", "drums"):
        np.testing.assert_array_equal(tracked.audio[stem], hosted.audio[stem])
    assert hosted.grid_source == "host" and len(spy.calls) == 1  # the host's grid wins
    host_too = pipe.generate([request(pipe, pipe.new_stream(), k, g, track_beats=True,
                                      transport=Transport(bpm=90.0, beat_position=0))])[0]
    assert host_too.grid_source == "host" and host_too.grid.bpm == 90.0
    assert len(spy.calls) == 1
    off = pipe.generate([request(pipe, pipe.new_stream(), k, g)])[0]
    assert (off.grid, off.grid_source) == (None, "none")
    assert not np.array_equal(off.audio["bass"], tracked.audio["bass"])
    plain = tiny_pipeline()
    result = plain.generate([request(plain, plain.new_stream(), k, plain.info.geometry(
        hop_frames=4, lookahead=1), track_beats=True)])[0]
    assert result.grid_source == "none" and len(spy.calls) == 1
    spy.grid = None  # nothing trackable heard: no grid
    lost = pipe.generate([request(pipe, pipe.new_stream(), k, g, track_beats=True)])[0]
    assert lost.grid_source == "none" and len(spy.calls) == 2
    np.testing.assert_array_equal(lost.audio["bass"], off.audio["bass"])


@pytest.mark.parametrize("sampler", ["consistency", "heun"])
def test_grid_guidance_extrapolates_away_from_the_model_without_the_grid(monkeypatch,
                                                                        sampler) -> None:
    """g = 1 is the plain model bit for bit; g = 0 the model given no grid (the planes zeroed,
    as beat dropout trains it); per item; with mixture guidance both terms add up."""
    kind = "consistency" if sampler == "consistency" else "teacher"
    pipe = tiny_pipeline(kind=kind, sampler=sampler, uses_beat_grid=True)
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    dev = pipe.device
    reqs = [request(pipe, pipe.new_stream(), 3, g, stems=("drums",), seed=7 + i,
                    transport=Transport(bpm=100.0 + 10 * i, beat_position=50 * i))
            for i in range(3)]
    spy = Spy(pipe, monkeypatch)
    pipe.generate(reqs)
    ((cond, _),) = spy.calls
    monkeypatch.undo()
    seeds = [step_seed(r.seed, 3, "drums") for r in reqs]

    def sample(c, **kw):
        return pipe.sample(c, seeds=seeds, steps=2, **kw)

    ones, zeros = torch.ones(3, device=dev), torch.zeros(3, device=dev)
    plain = sample(cond)
    torch.testing.assert_close(sample(cond, grid_guidance=ones), plain, rtol=0, atol=0)
    gridless = sample(replace(cond, beat=None))
    assert not torch.allclose(gridless, plain, atol=1e-4)
    torch.testing.assert_close(sample(cond, grid_guidance=zeros), gridless, rtol=1e-5,
                               atol=1e-5)
    mixed = sample(cond, grid_guidance=torch.tensor([1.0, 0.0, 3.0], device=dev))
    torch.testing.assert_close(mixed[0], plain[0], rtol=1e-4, atol=1e-4)  # batch size differs
    torch.testing.assert_close(mixed[1], gridless[1], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(mixed[2], plain[2], atol=1e-4)
    # both guidances: one network call per step, on the batch three times over (D, D
    # without the mix, D without the grid)
    sizes: list[int] = []
    original = pipe.denoiser.forward

    def forward(x_in, sigma_in, planes, stems):
        sizes.append(x_in.shape[0])
        return original(x_in, sigma_in, planes, stems)

    monkeypatch.setattr(pipe.denoiser, "forward", forward)
    twice = sample(cond, guidance=torch.full((3,), 2.0), grid_guidance=torch.full((3,), 2.0))
    assert sizes and set(sizes) == {9} and len(sizes) == model_calls(sampler, 2)
    assert not torch.allclose(twice, sample(cond, grid_guidance=torch.full((3,), 2.0)),
                              atol=1e-4)


def test_grid_guidance_is_validated_and_ignored_by_a_model_without_the_grid() -> None:
    pipe = tiny_pipeline(uses_beat_grid=True)
    g = pipe.info.geometry(hop_frames=4, lookahead=1)
    with pytest.raises(GeneratorError, match=r"grid_guidance must be in \[0, 16\]"):
        pipe.generate([request(pipe, pipe.new_stream(), 3, g, grid_guidance=16.5)])
    plain = tiny_pipeline()
    outs = [plain.generate([request(plain, plain.new_stream(), 3, g, grid_guidance=s)])[0]
            for s in (1.0, 3.0)]
    np.testing.assert_array_equal(outs[0].audio["bass"], outs[1].audio["bass"])
    # a beat-grid model given no grid has nothing to be guided towards: the plain model
    gridless = [pipe.generate([request(pipe, pipe.new_stream(), 3, g, grid_guidance=s)])[0]
                for s in (1.0, 3.0)]
    np.testing.assert_array_equal(gridless[0].audio["bass"], gridless[1].audio["bass"])


def test_heard_silence_is_the_last_seconds_heard() -> None:
    from sideman.models.base import heard_silence

    sr = 1000
    mix = np.zeros(10 * sr, np.float32)
    mix[:4 * sr] = 0.1  # played for 4 s, then silent
    assert heard_silence(mix, 7 * sr, 2.0, sr)  # 3 s of silence heard
    assert not heard_silence(mix, 5 * sr, 2.0, sr)  # 1 s: still playing
    assert not heard_silence(mix, 7 * sr, 0.0, sr)  # 0: never
    assert not heard_silence(mix, 0, 2.0, sr)  # nothing heard yet: too little to tell
    assert not heard_silence(mix, 7 * sr, 2.0, sr, heard_from=int(5.5 * sr))  # 1.5 s heard
    assert heard_silence(mix, 7 * sr, 2.0, sr, heard_from=5 * sr)  # the whole 2 s heard
    mix[int(6.5 * sr)] = 0.5  # one click in the last 2 s is not silence
    assert not heard_silence(mix, 7 * sr, 2.0, sr)
    assert heard_silence(mix * 1e-4, 7 * sr, 2.0, sr)  # below -60 dBFS
