"""Training: latent cache, windows, masks over the whole grid, beat dropout, both stages end to
end on tiny synthesized songs, exact resume, the listening-proxy check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sideman.cli.main import main
from sideman.models.base import StepRequest, Transport
from sideman.models.codecs import build_codec
from sideman.models.conditioning import (
    BEAT_PLANES,
    Conditioning,
    TrainingGrid,
    TrainingMasks,
    beat_planes,
    draw_training_conditioning,
)
from sideman.models.pipeline import load_pipeline
from sideman.training.beats import misplaced, transport_at
from sideman.training.cache import (
    CacheError,
    build_cache,
    cache_dir,
    frame_activity,
    open_cache,
)
from sideman.training.datasets import STEMS, load_audio, mix_without, open_dataset
from sideman.training.masks import GridOptions, draw_conditioning
from sideman.training.windows import WindowOptions, WindowSampler

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def teacher(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ldm"
    assert main(["train", "ldm", "--data", str(data), "--out", str(out), "--smoke",
                 "--no-progress"]) == 0
    return out


# ---- cache -------------------------------------------------------------------------------
def test_cache_holds_stem_latents_and_context_from_summed_audio(data, codec, cache) -> None:
    songs = open_dataset(data)
    assert [s.id for s in cache.songs] == [s.id for s in songs]
    song, lat = songs[0], cache.songs[0]
    hop = codec.hop_length
    frames = -(-round(song.duration * codec.sample_rate) // hop)
    assert lat.target.shape == (len(STEMS), codec.latent_channels, frames)
    for i, stem in enumerate(STEMS):
        for audio, cached in ((load_audio(song, stem, sr=codec.sample_rate), lat.target[i]),
                              (mix_without(song, stem, sr=codec.sample_rate), lat.context[i])):
            padded = np.zeros(frames * hop, dtype=np.float32)
            padded[:len(audio)] = audio
            expected = codec.encode(torch.from_numpy(padded)[None])[0].numpy()
            np.testing.assert_allclose(cached, expected, atol=1e-5)
        assert np.array_equal(lat.active[i], frame_activity(
            load_audio(song, stem, sr=codec.sample_rate), hop, frames))
    # the log-mel latent of a sum is not any simple combination of the stems' latents
    drums = STEMS.index("drums")
    others = [i for i in range(len(STEMS)) if i != drums]
    assert not np.allclose(lat.context[drums], lat.target[others].max(axis=0), atol=0.05)
    assert not np.allclose(lat.context[drums], lat.target[others].mean(axis=0), atol=0.05)
    np.testing.assert_allclose(lat.beats, song.beats)
    assert lat.beats_per_bar == song.info["beats_per_bar"]
    stats = cache.index["stats_train"]
    assert stats["songs"] == len([s for s in songs if s.split == "train"])
    assert cache.sigma_data == pytest.approx(stats["rms"]) and stats["rms"] > 0


def test_cache_is_keyed_by_codec_and_reused(data, codec, cache) -> None:
    other = build_codec("mel", {"n_mels": 32})
    assert cache_dir(data / "latents", other) != cache.path
    with pytest.raises(CacheError, match="not of mel"):
        open_cache(cache.path, other)
    stamp = {p.name: p.stat().st_mtime_ns for p in cache.path.glob("*.npz")}
    build_cache(data, data / "latents", codec, progress=False)  # nothing left to encode
    assert {p.name: p.stat().st_mtime_ns for p in cache.path.glob("*.npz")} == stamp
    assert build_codec("mel", {"gl_iters": 4}) and cache_dir(
        data / "latents", build_codec("mel", {"gl_iters": 4})) == cache.path


def test_a_complete_cache_is_reused_without_reading_its_latents(data, codec, cache,
                                                                 tmp_path: Path,
                                                                 monkeypatch) -> None:
    """Every training run opens the cache through build_cache: with nothing new to encode
    its statistics are kept, not recomputed from every training latent; an index of other
    songs (here, one song's entry removed) is made again, statistics and all."""
    import sideman.training.cache as cache_module

    index_path = cache.path / "cache.json"
    copy = tmp_path / "latents" / cache.path.name
    copy.parent.mkdir()
    shutil.copytree(cache.path, copy)
    before = (copy / "cache.json").read_text()
    real_load = cache_module._load_song
    loads: list[str] = []

    def counted(path, song_id, split):
        loads.append(song_id)
        return real_load(path, song_id, split)

    monkeypatch.setattr(cache_module, "_load_song", counted)
    assert build_cache(data, tmp_path / "latents", codec, progress=False) == copy
    assert loads == [] and (copy / "cache.json").read_text() == before
    index = json.loads(before)
    index["songs"] = index["songs"][1:]
    (copy / "cache.json").write_text(json.dumps(index))
    build_cache(data, tmp_path / "latents", codec, progress=False)
    assert loads and (copy / "cache.json").read_text() == index_path.read_text()


def test_cache_command(data, tmp_path: Path, capsys) -> None:
    assert main(["data", "cache", "--data", str(data), "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert "sigma_data" in capsys.readouterr().out
    assert len(list(tmp_path.glob("mel-*/*.npz"))) == 3


# ---- beats and windows -------------------------------------------------------------------
def test_transport_from_beats() -> None:
    beats = np.arange(0, 10, 0.5)  # 120 bpm
    downbeats = beats[::4]
    t = transport_at(beats, downbeats, 3.2, sample_rate=1000, beats_per_bar=4)
    assert t is not None
    assert t.bpm == pytest.approx(120.0)
    assert t.beat_position == 3000 and t.beat_in_bar == 2  # beat 3.0 s is the 3rd of its bar
    assert transport_at(beats, downbeats, -1.0, sample_rate=1000).beat_position == 0
    assert transport_at(beats[:1], downbeats, 1.0, sample_rate=1000) is None
    planes = beat_planes(t, 0, 8, hop_length=250, sample_rate=1000)  # frame centres 0.125 s...
    assert planes.shape == (4, 8)


def test_windows_pad_with_silence_and_keep_few_silent_windows(cache, codec) -> None:
    silence = codec.silence_latent().numpy()
    songs = cache.split("train")
    sampler = WindowSampler(songs, WindowOptions(window_frames=64, keep_silent=0.0),
                            silence=silence, hop_length=codec.hop_length,
                            sample_rate=codec.sample_rate, seed=0)
    target, mixture, beat = sampler.window(songs[0], 1, 10)
    np.testing.assert_allclose(target[:, :54], np.repeat(silence[:, None], 54, 1))
    np.testing.assert_allclose(mixture[:, :54], np.repeat(silence[:, None], 54, 1))
    np.testing.assert_array_equal(target[:, 54:], songs[0].target[1, :, :10])
    assert np.abs(beat).max() > 0.5  # synthetic songs carry beats
    batch = sampler.draw(64)
    assert batch.target.shape == (64, codec.latent_channels, 64)
    by_id = {s.id: s for s in songs}

    def audible_share(stem: int) -> float:  # of the window ends a draw can pick
        ends = [(s, e) for s in songs for e in range(16, s.frames + 1)]
        return float(np.mean([s.active[stem, max(0, e - 64):e].any() for s, e in ends]))

    share = {i: audible_share(i) for i in range(len(STEMS))}
    for sid, st, e in zip(batch.song, batch.stem, batch.end, strict=True):
        if share[int(st)] > 0.3:  # a silent tail survives 32 tries with p < 1e-5
            assert by_id[sid].active[int(st), max(0, e - 64):e].any()
    assert any(share[i] > 0.3 for i in range(len(STEMS)))
    # same seed, same windows; state round trip continues identically
    again = WindowSampler(songs, sampler.options, silence=silence, hop_length=codec.hop_length,
                          sample_rate=codec.sample_rate, seed=0)
    again.load_state_dict(sampler.state_dict())
    a, b = sampler.draw(4), again.draw(4)
    assert torch.equal(a.target, b.target) and a.end == b.end


def test_a_misplaced_transport_moves_its_beat_and_scales_its_tempo_about_it() -> None:
    t = Transport(bpm=120.0, beat_position=1000, beats_per_bar=4, beat_in_bar=1)
    late = misplaced(t, phase_error=0.25, tempo_ratio=1.0, sample_rate=1000)  # 500 per beat
    assert (late.beat_position, late.bpm, late.beat_in_bar) == (1125, 120.0, 1)
    half = misplaced(t, phase_error=-0.1, tempo_ratio=0.5, sample_rate=1000)
    assert (half.beat_position, half.bpm) == (950, 60.0)
    assert misplaced(Transport(bpm=300.0, beat_position=0), phase_error=0.0, tempo_ratio=2.0,
                     sample_rate=1000).bpm == 400.0  # kept in the transport's range


def _beat_rate(planes: np.ndarray) -> float:
    """Beats per frame of beat planes (their unwrapped beat phase's slope)."""
    phase = np.unwrap(np.arctan2(planes[2], planes[0])) / (2 * np.pi)
    return float(np.polyfit(np.arange(phase.size), phase, 1)[0])


def test_wrong_grids_are_octave_or_phase_errors_and_leave_the_latents_alone(cache, codec) -> None:
    songs = cache.split("train")
    kwargs = dict(silence=codec.silence_latent().numpy(), hop_length=codec.hop_length,
                  sample_rate=codec.sample_rate, seed=0)
    true = WindowSampler(songs, WindowOptions(window_frames=64), **kwargs)
    octave = WindowSampler(songs, WindowOptions(window_frames=64, p_wrong_grid=1.0,
                                                grid_octave=1.0), **kwargs)
    phase = WindowSampler(songs, WindowOptions(window_frames=64, p_wrong_grid=1.0,
                                               grid_octave=0.0, grid_tempo_error=0.0), **kwargs)
    ratios, shifts = [], []
    for seed in range(40):
        end = 40 + seed
        t_target, t_mix, t_beat = true.window(songs[0], 1, end, np.random.default_rng(seed))
        o_target, o_mix, o_beat = octave.window(songs[0], 1, end, np.random.default_rng(seed))
        np.testing.assert_array_equal(o_target, t_target)
        np.testing.assert_array_equal(o_mix, t_mix)
        ratios.append(_beat_rate(o_beat) / _beat_rate(t_beat))
        p_beat = phase.window(songs[0], 1, end, np.random.default_rng(seed))[2]
        assert _beat_rate(p_beat) == pytest.approx(_beat_rate(t_beat), rel=1e-3)
        shift = np.angle(np.exp(1j * (np.arctan2(p_beat[2], p_beat[0])
                                      - np.arctan2(t_beat[2], t_beat[0])))) / (2 * np.pi)
        assert np.ptp(shift) < 1e-3  # one phase error over the whole window
        shifts.append(-shift[0])
    halves = sum(r == pytest.approx(0.5, rel=1e-3) for r in ratios)
    doubles = sum(r == pytest.approx(2.0, rel=1e-3) for r in ratios)
    assert halves + doubles == 40 and halves > doubles  # half the tempo three times in four
    assert 0.05 < np.std(shifts) < 0.15  # --grid-phase-error 0.1 beats


def test_grid_errors_out_of_range_are_refused_in_one_line(data: Path, tmp_path: Path,
                                                          capsys) -> None:
    for flag, value in (("--grid-error", "1.5"), ("--grid-tempo-error", "0.5")):
        assert main(["train", "ldm", "--data", str(data), "--out", str(tmp_path / "o"),
                     "--smoke", "--no-progress", flag, value]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and flag in err[0] and value in err[0]


def _pairs(cond, hops, frames: int, right: int) -> list[tuple[int, int]]:
    out = []
    for i in range(len(hops)):
        h = int(hops[i])
        known = torch.nonzero(cond.mixture_known[i]).flatten()
        mix_end = int(known[-1]) + 1 + right
        w = (frames - mix_end) // h - 1
        assert (frames - mix_end) % h == 0
        out.append((h, w))
    return out


def test_masks_cover_the_whole_grid_and_never_show_the_future() -> None:
    frames, context = 256, (2, 2)
    options = GridOptions.full(frames, (32, 64), focus_prob=0.25, p_drop_beat=0.5)
    grid = TrainingGrid.full(frames, (32, 64))
    assert options.grid == grid and max(w for _, w in grid.pairs()) == 6
    gen = torch.Generator().manual_seed(0)
    seen: list[tuple[int, int]] = []
    dropped, total = 0, 0
    for _ in range(25):
        b = 64
        target, mixture = torch.randn(b, 4, frames), torch.randn(b, 4, frames)
        beat = torch.ones(b, BEAT_PLANES, frames)
        cond, hops = draw_conditioning(target, mixture, torch.zeros(b, dtype=torch.long), beat,
                                       options=options, context_frames=context,
                                       generator=gen, uses_beat_grid=True)
        pairs = _pairs(cond, hops, frames, context[1])
        seen += pairs
        for i, (h, w) in enumerate(pairs):
            capture = frames - (w + 1) * h  # n_k inside the window
            assert not cond.mixture_known[i, capture - context[1]:].any()
            assert not cond.target_known[i, frames - h:].any()  # the region is generated
        dropped += int((cond.beat.abs().sum(dim=(1, 2)) == 0).sum())
        total += b
    assert set(seen) == set(grid.pairs())  # every hop × every allowed w
    share_w1 = sum(w == 1 for _, w in seen) / len(seen)
    assert share_w1 == pytest.approx(0.25 + 0.75 * 2 / 12, abs=0.05)
    assert dropped / total == pytest.approx(0.5, abs=0.06)


def test_mixture_dropout_and_history_corruption_touch_only_the_conditioning() -> None:
    frames, context, b = 256, (2, 2), 256
    gen = torch.Generator().manual_seed(1)
    target, mixture = torch.randn(b, 4, frames, generator=gen), torch.randn(b, 4, frames)
    stem = torch.zeros(b, dtype=torch.long)

    def draw(**masks):
        options = GridOptions.full(frames, (32, 64), **masks)
        return draw_conditioning(target, mixture, stem, None, options=options,
                                 context_frames=context, uses_beat_grid=False,
                                 generator=torch.Generator().manual_seed(7))

    plain, hops = draw()
    assert torch.equal(plain.target, target)  # nothing corrupted
    dropped, _ = draw(p_drop_mixture=0.3)
    no_mix = ~dropped.mixture_known.any(dim=1)
    assert no_mix.float().mean() == pytest.approx(0.3, abs=0.08)
    assert (~plain.mixture_known.any(dim=1)).sum() == 0  # without it, always some known mix
    before = target.clone()
    corrupt, hops2 = draw(p_corrupt_history=1.0, history_noise=0.5)
    torch.testing.assert_close(target, before, rtol=0, atol=0)  # the loss target is clean
    assert torch.equal(hops, hops2)
    changed = (corrupt.target != target).any(dim=(1, 2)) | (
        corrupt.target_known != plain.target_known).any(dim=1)
    has_history = plain.target_known.any(dim=1)
    assert changed[has_history].float().mean() > 0.8  # noise of level ~0 may change little
    # corruption never reveals the region to generate
    for i, h in enumerate(hops2.tolist()):
        assert not corrupt.target_known[i, frames - h:].any()
    with pytest.raises(ValueError, match="p_drop_mixture must be in"):
        GridOptions.full(frames, (32,), p_drop_mixture=1.5)


def test_history_shift_moves_the_history_and_never_reveals_the_region() -> None:
    """Shifted history: each item's known frames hold the target's frames from s frames
    earlier (or later), 1 <= |s| <= the limit, both ways; frames whose content would come
    from outside the known history (the region to generate, or the wrap) are not known."""
    frames, context, b, limit = 256, (2, 2), 128, 8
    gen = torch.Generator().manual_seed(3)
    target, mixture = torch.randn(b, 4, frames, generator=gen), torch.randn(b, 4, frames)
    stem = torch.zeros(b, dtype=torch.long)

    def draw(**shift):
        # no gaps and no dropped history, so both draws have the same masks before the shift
        masks = TrainingMasks(p_history_gap=0.0, p_no_history=0.0, **shift)
        return draw_training_conditioning(target, mixture, stem,
                                          grid=TrainingGrid.full(frames, (32, 64)),
                                          context_frames=context, masks=masks,
                                          generator=torch.Generator().manual_seed(7))

    plain, hops = draw()
    shifted, hops2 = draw(p_shift_history=1.0, history_shift=limit)
    assert torch.equal(hops, hops2)
    shifts = []
    for i in range(b):
        known = shifted.target_known[i]
        if not known.any():
            continue
        # the shift that explains the known frames' content
        fits = [s for s in range(-limit, limit + 1)
                if torch.equal(shifted.target[i][:, known],
                               torch.roll(target[i], s, dims=-1)[:, known])]
        assert len(fits) == 1 and fits[0] != 0
        s = fits[0]
        shifts.append(s)
        # known only where both the frame and its source were known before the shift
        source = torch.roll(plain.target_known[i], s)
        assert torch.equal(known, plain.target_known[i] & source)
        assert not known[frames - int(hops2[i]):].any()
    assert min(shifts) < 0 < max(shifts) and max(abs(s) for s in shifts) == limit
    with pytest.raises(ValueError, match="history_shift must be"):
        TrainingMasks(p_shift_history=0.5, history_shift=0)


def test_the_loss_feeds_the_conditioned_history_as_the_known_frames() -> None:
    """What the network sees on the known frames is the (possibly corrupted) history, as the
    inpainting sampler feeds it at inference; the loss still compares with the clean target
    on the frames to generate."""
    from sideman.models.denoiser import edm_loss
    from sideman.models.testing import tiny_pipeline

    pipe = tiny_pipeline()
    cond = _probe_batches(pipe.config)[0].cond
    target = cond.target.clone()
    seen = []

    class Spy(type(pipe.denoiser)):
        def forward(self, x, sigma, planes, stem):
            seen.append(x.detach().clone())
            return super().forward(x, sigma, planes, stem)

    spy = Spy(pipe.denoiser.net, sigma_data=pipe.config.sigma_data,
              sigma_min=pipe.config.sigma_min, uses_beat_grid=pipe.denoiser.uses_beat_grid)
    sigma, noise = torch.full((4,), 1e-3), torch.zeros(4, 1, *target.shape[1:])
    clean = edm_loss(spy, target, cond, sigma=sigma, noise=noise)
    corrupted = Conditioning(**{**vars(cond), "target": target + 5.0})
    worse = edm_loss(spy, target, corrupted, sigma=sigma, noise=noise)
    known = cond.target_known[:, None, None, :]
    torch.testing.assert_close(seen[1], torch.where(known, target[:, None] + 5.0,
                                                    target[:, None]))
    torch.testing.assert_close(seen[0], target[:, None])
    assert float(worse.detach()) != float(clean.detach())


def test_grid_options_refuse_focus_outside_grid() -> None:
    with pytest.raises(ValueError, match="not in the training grid"):
        GridOptions(grid=TrainingGrid(256, (32,), (0, 1)),
                    focus=TrainingGrid(256, (32,), (2,)), focus_prob=0.5)


# ---- stages end to end -------------------------------------------------------------------
def _one_step(model_dir: Path) -> np.ndarray:
    pipe = load_pipeline(str(model_dir))
    g = pipe.geometry_for(0.25, 1)
    request = StepRequest(stream=pipe.new_stream(), step=3, geometry=g,
                          mixture=np.zeros(g.window_samples, np.float32), stems=("drums",),
                          num_steps=pipe.config.default_steps, xfade=64)
    return pipe.generate([request])[0].audio["drums"]


def test_train_ldm_smoke(teacher: Path) -> None:
    log = [json.loads(x) for x in (teacher / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4]
    assert all(np.isfinite(r["valid"]) for r in log if "valid" in r)
    assert (teacher / "loss.png").stat().st_size > 1000
    config = json.loads((teacher / "model" / "config.json").read_text())
    assert config["kind"] == "teacher" and config["uses_beat_grid"]
    assert config["trained_hop_frames"] == [8, 16] and config["trained_lookaheads"] == list(
        range(-1, 7))
    run = json.loads((teacher / "run.json").read_text())
    assert config["sigma_data"] == pytest.approx(run["cache_stats"]["rms"], abs=1e-4)
    assert sorted(p.name for p in (teacher / "models").iterdir()) == ["step-0000002",
                                                                      "step-0000004"]
    audio = _one_step(teacher / "model")
    assert audio.shape == (64 + 16 * 512,) and np.isfinite(audio).all()


def test_training_logs_to_tensorboard_and_saves_samples(teacher: Path) -> None:
    pytest.importorskip("tensorboard")  # in the dev extra: CI has it
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # the run's events (accelerate writes the hyperparameters in a folder beside them)
    (events,) = (teacher / "tensorboard" / "sideman").glob("events.out.tfevents.*")
    acc = EventAccumulator(str(events.parent), size_guidance={"scalars": 0, "images": 0,
                                                              "audio": 0})
    acc.Reload()
    log = [json.loads(x) for x in (teacher / "log.jsonl").read_text().splitlines()]
    for key in ("loss", "lr", "grad_norm", "valid", "valid_w1", "probe_mix_lo"):
        expected = [(r["step"], r[key]) for r in log if r.get(key) is not None]
        got = [(e.step, e.value) for e in acc.Scalars(key)]
        assert [s for s, _ in got] == [s for s, _ in expected], key
        assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-6), key
    assert [e.step for e in acc.Images("sample/spectrogram")] == [2, 4]
    assert [e.step for e in acc.Audio("sample/generated")] == [2, 4]
    assert sorted(p.name for p in (teacher / "samples").iterdir()) == [
        "step-0000002.png", "step-0000002.wav", "step-0000004.png", "step-0000004.wav"]


def test_a_tracker_that_is_not_installed_is_a_clear_error() -> None:
    import importlib.util

    from sideman.training.loop import tracker_name

    assert tracker_name("none") is None
    if importlib.util.find_spec("wandb") is None:
        with pytest.raises(ValueError, match="wandb package is not installed"):
            tracker_name("wandb")


def test_training_logs_the_conditioning_probe(teacher: Path) -> None:
    log = [json.loads(x) for x in (teacher / "log.jsonl").read_text().splitlines()]
    probes = [r for r in log if "probe_mix_lo" in r]
    assert probes and all(r["probe_mix_lo"] >= 0 and r["probe_mix_hi"] >= 0 for r in probes)


class _Windows:
    def __init__(self, target, cond) -> None:
        self.target, self.cond = target, cond


def _probe_batches(config, b: int = 4) -> list:
    gen = torch.Generator().manual_seed(5)
    c, f = config.latent_channels, config.window_frames
    known = torch.zeros(b, f, dtype=torch.bool)
    known[:, : f // 2] = True
    cond = Conditioning(mixture=torch.randn(b, c, f, generator=gen) * 2,
                        mixture_known=torch.ones(b, f, dtype=torch.bool),
                        target=torch.randn(b, c, f, generator=gen), target_known=known,
                        stem=torch.arange(b) % 4,
                        beat=torch.randn(b, BEAT_PLANES, f, generator=gen))
    return [_Windows(cond.target.clone(), cond)]


def test_the_probe_tells_a_deaf_denoiser_from_one_that_hears() -> None:
    from sideman.models.testing import tiny_pipeline
    from sideman.training.probe import VARIANTS, conditioning_probe, probe_table

    pipe = tiny_pipeline(uses_beat_grid=True)
    hears = conditioning_probe(pipe.denoiser, _probe_batches(pipe.config), (0.5, 10.0))
    assert set(hears) == {*VARIANTS, "targets_swapped"}
    assert all(v > 1e-4 for v in hears["mixture_swapped"].values())
    assert all(v > 1e-4 for v in hears["noise"].values())
    assert hears["targets_swapped"]["0.5"] == pytest.approx(2 ** 0.5 / pipe.config.sigma_data,
                                                           rel=0.2)

    class Deaf(type(pipe.denoiser)):
        def planes(self, cond):  # the mixture never reaches the network
            planes = super().planes(cond).clone()
            planes[:, :2] = 0.0
            return planes

    deaf = Deaf(pipe.denoiser.net, sigma_data=pipe.config.sigma_data,
                sigma_min=pipe.config.sigma_min, uses_beat_grid=True)
    report = conditioning_probe(deaf, _probe_batches(pipe.config), (0.5, 10.0))
    assert report["mixture_swapped"] == {"0.5": 0.0, "10": 0.0}
    assert report["mixture_removed"] == {"0.5": 0.0, "10": 0.0}
    assert all(v > 1e-4 for v in report["noise"].values())
    assert all(v > 1e-4 for v in report["beat_removed"].values())
    assert "| mixture_swapped | 0.000 | 0.000 |" in probe_table(report)
    # without history the probe's own conditioning already has none: removing it changes
    # nothing, and the estimate is another one than with history
    blind = conditioning_probe(pipe.denoiser, _probe_batches(pipe.config), (0.5, 10.0),
                               history=False)
    assert blind["history_removed"] == {"0.5": 0.0, "10": 0.0}
    assert blind["mixture_swapped"] != hears["mixture_swapped"]


def test_probe_command(teacher: Path, data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "probe.json"
    assert main(["train", "probe", "--model", str(teacher / "model"), "--data", str(data),
                 "--windows", "4", "--sigmas", "0.5,10", "--json", str(out),
                 "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert set(report["mixture_swapped"]) == {"0.5", "10"}
    assert "| mixture_swapped |" in capsys.readouterr().out
    assert main(["train", "probe", "--model", str(teacher / "model"), "--data", str(data),
                 "--windows", "1"]) == 2


def test_warm_start_continues_from_a_teacher(teacher: Path, data: Path, tmp_path: Path
                                             ) -> None:
    out = tmp_path / "warm"
    assert main(["train", "ldm", "--init", str(teacher / "model"), "--data", str(data),
                 "--out", str(out), "--smoke", "--no-progress", "--name", "warm",
                 "--mixture-dropout", "0.5", "--history-corruption", "0.5"]) == 0
    before = json.loads((teacher / "model" / "config.json").read_text())
    after = json.loads((out / "model" / "config.json").read_text())
    assert after["name"] == "warm"
    assert {k: v for k, v in after.items() if k != "name"} == \
        {k: v for k, v in before.items() if k != "name"}
    start = load_file(str(teacher / "model" / "model.safetensors"))
    end = load_file(str(out / "model" / "model.safetensors"))
    assert start.keys() == end.keys()
    # gaining the mixture's onset plane: one more input channel, everything else kept
    onset = tmp_path / "onset"
    assert main(["train", "ldm", "--init", str(teacher / "model"), "--data", str(data),
                 "--out", str(onset), "--smoke", "--no-progress", "--mixture-onset"]) == 0
    gained = json.loads((onset / "model" / "config.json").read_text())
    assert before.get("mixture_onset", False) is False and gained["mixture_onset"] is True
    assert {k: v for k, v in gained.items() if k not in ("name", "mixture_onset")} == \
        {k: v for k, v in before.items() if k not in ("name", "mixture_onset")}
    wide = load_file(str(onset / "model" / "model.safetensors"))
    assert wide.keys() == start.keys()
    old_in, new_in = start["conv_in.weight"], wide["conv_in.weight"]
    assert new_in.shape[1] == old_in.shape[1] + 1 and new_in.shape[0] == old_in.shape[0]
    assert main(["train", "ldm", "--init", str(tmp_path / "nowhere"), "--data", str(data),
                 "--out", str(tmp_path / "bad"), "--smoke", "--no-progress"]) == 2


@pytest.mark.parametrize("flag", ["--rise-weight", "--onset-weight"])
def test_a_negative_loss_weight_is_refused_in_one_line(flag: str, data: Path, tmp_path: Path,
                                                       capsys) -> None:
    assert main(["train", "ldm", "--data", str(data), "--out", str(tmp_path / "o"), "--smoke",
                 "--no-progress", flag, "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and ">= 0" in err[0]


def test_resume_continues_exactly(data: Path, tmp_path: Path) -> None:
    common = ["train", "ldm", "--data", str(data), "--smoke", "--no-progress",
              "--lr-schedule", "constant", "--checkpoint-every", "2", "--tracker", "none",
              "--no-samples"]
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert main([*common, "--out", str(whole), "--steps", "4"]) == 0
    assert main([*common, "--out", str(split), "--steps", "2"]) == 0
    assert main([*common, "--out", str(split), "--steps", "4", "--resume"]) == 0

    def losses(run: Path) -> dict[int, float]:
        return {r["step"]: r["loss"] for r in map(json.loads, (run / "log.jsonl").read_text()
                                                  .splitlines()) if "loss" in r}

    assert losses(split) == losses(whole)
    assert not (whole / "tensorboard").exists() and not (whole / "samples").exists()
    a = load_file(str(whole / "model" / "model.safetensors"))
    b = load_file(str(split / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_cd_smoke_and_check(teacher: Path, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "cd"
    assert main(["train", "cd", "--teacher", str(teacher / "model"), "--data", str(data),
                 "--out", str(out), "--smoke", "--no-progress"]) == 0
    config = json.loads((out / "model" / "config.json").read_text())
    assert (config["kind"], config["sampler"], config["default_steps"]) == (
        "consistency", "consistency", 2)
    teacher_config = json.loads((teacher / "model" / "config.json").read_text())
    for key in ("window_frames", "trained_hop_frames", "trained_lookaheads", "unet",
                "sigma_data", "codec_params", "stems"):
        assert config[key] == teacher_config[key]
    assert (out / "loss.png").is_file()
    audio = _one_step(out / "model")
    assert audio.shape == (64 + 16 * 512,) and np.isfinite(audio).all()

    check = tmp_path / "check"
    assert main(["train", "check", "--model", str(out / "model"), "--data", str(data),
                 "--out", str(check), "--songs", "2", "--split", "train", "--r", "0.25",
                 "--beat-grid", "on", "--no-progress", "--wavs", "1"]) == 0
    report = json.loads((check / "check.json").read_text())
    runs = report["runs"]
    assert len(runs) == 2 and runs[0]["seed"] != runs[1]["seed"]  # a seed per song
    for run in runs:
        assert set(run["metrics"]) == {"generated", "other_generated", "ground_truth",
                                       "silence", "other_song"}
        assert run["metrics"]["ground_truth"]["onset_f1_stem"] == pytest.approx(1.0)
        assert run["sensitivity"]["context_change_db"] > 0
        assert run["sensitivity"]["seed_change_db"] > 0
    (row,) = report["summary"]
    assert row["sensitivity"] > 0 and "listening" in row and "listening_ceiling" in row
    assert "**listening**" in (check / "check.md").read_text()
    assert len(list(check.glob("*-generated.wav"))) == 1
    assert len(list(check.glob("*-generated-for-*-input.wav"))) == 1
    with pytest.raises(ValueError, match="test split"):
        from sideman.eval.check import CheckOptions

        CheckOptions(model=out, data=data, out=check, split="test")


def test_the_mel_recipes_run_in_their_tiny_form(data: Path, tmp_path: Path) -> None:
    """docs/recipes' mel teacher and distillation configs train as written, shrunk only in
    size on the command line (data, out, steps, batch, window, U-Net): every other option of
    the recipe (codec, precision, schedule) is the one a user runs."""
    from accelerate.state import AcceleratorState

    # accelerate keeps one state per process; a user runs one training per process, this
    # test runs after others in the same one (with another precision)
    AcceleratorState._reset_state(reset_partial_state=True)
    recipes = Path(__file__).resolve().parents[2] / "docs" / "recipes"
    tiny = ["--data", str(data), "--steps", "2", "--batch-size", "2", "--warmup", "1",
            "--checkpoint-every", "2", "--valid-every", "2", "--valid-windows", "4",
            "--no-progress", "--no-samples", "--tracker", "none"]
    teacher = tmp_path / "teacher"
    assert main(["train", "ldm", "--config", str(recipes / "slakh-mel-ldm.toml"), *tiny,
                 "--out", str(teacher), "--window-frames", "64", "--hops", "8,16",
                 "--unet", "tiny"]) == 0
    written = (teacher / "config.toml").read_text()
    assert 'mixed-precision = "bf16"' in written and 'codec = "mel"' in written
    student = tmp_path / "student"
    assert main(["train", "cd", "--config", str(recipes / "slakh-mel-cd.toml"), *tiny,
                 "--teacher", str(teacher / "model"), "--out", str(student)]) == 0
    config = json.loads((student / "model" / "config.json").read_text())
    assert config["kind"] == "consistency" and config["window_frames"] == 64
    AcceleratorState._reset_state(reset_partial_state=True)
