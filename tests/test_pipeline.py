"""The streaming pipeline: units, determinism, batching, masking, inpainting, no drift, I/O."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from sideman.models.base import GeneratorError, StepRequest, Transport
from sideman.models.checkpoint import CONFIG_NAME, WEIGHTS_NAME, CheckpointError
from sideman.models.config import ConfigError
from sideman.models.geometry import Geometry
from sideman.models.pipeline import DEFAULT_WEIGHTS, StreamingPipeline, load_pipeline
from sideman.models.registry import load_generator
from sideman.models.testing import tiny_config, tiny_mel_codec, tiny_pipeline


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    from sideman.models.speed import default_candidate, measure_steps

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
