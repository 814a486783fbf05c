"""Preconditioning, schedules, samplers (inpainting, determinism) and conditioning masks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import CMStochasticIterativeScheduler, EDMEulerScheduler

from sideman.models.base import Transport
from sideman.models.checkpoint import build_denoiser, load_denoiser, save_pretrained
from sideman.models.conditioning import (
    BEAT_PLANES,
    Conditioning,
    TrainingGrid,
    TrainingMasks,
    beat_planes,
    condition_planes,
    draw_training_conditioning,
    frame_geometry,
    mixture_onset,
    num_condition_planes,
    window_masks,
)
from sideman.models.denoiser import (
    consistency_scalings,
    edm_loss,
    edm_scalings,
    with_mixture_onset,
)
from sideman.models.geometry import Geometry, GeometryError
from sideman.models.samplers import (
    Inpaint,
    ItemNoise,
    consistency_sigmas,
    karras_sigmas,
    model_calls,
    ode_sigma_floor,
    sample_consistency,
    sample_euler,
    sample_heun,
    tempered_sigmas,
)
from sideman.models.testing import tiny_config

C, F = 16, 32


pytestmark = pytest.mark.usefixtures("one_thread")


def make_cond(b: int, *, seed: int = 0, known_until: int = 20, beat: bool = False
              ) -> Conditioning:
    gen = torch.Generator().manual_seed(seed)
    known = torch.zeros(b, F, dtype=torch.bool)
    known[:, :known_until] = True
    return Conditioning(
        mixture=torch.randn(b, C, F, generator=gen), mixture_known=known.clone(),
        target=torch.randn(b, C, F, generator=gen), target_known=known.clone(),
        stem=torch.arange(b) % 4,
        beat=torch.randn(b, BEAT_PLANES, F, generator=gen) if beat else None,
    )


# -- preconditioning and schedules, checked against diffusers' schedulers -----------------
def test_edm_scalings_match_diffusers() -> None:
    sched = EDMEulerScheduler(sigma_data=0.5)
    sigma = torch.tensor([0.002, 0.1, 1.0, 80.0])
    c_skip, c_out, c_in, c_noise = edm_scalings(sigma, 0.5)
    x = torch.ones(4)
    torch.testing.assert_close(c_in, sched.precondition_inputs(x, sigma))
    torch.testing.assert_close(c_noise, sched.precondition_noise(sigma))
    torch.testing.assert_close(c_skip * 2 + c_out * 3,
                               sched.precondition_outputs(2 * x, 3 * x, sigma))


def test_consistency_boundary_condition_and_diffusers() -> None:
    sched = CMStochasticIterativeScheduler(sigma_min=0.002, sigma_data=0.5)
    sigma = torch.tensor([0.002, 0.5, 80.0])
    c_skip, c_out, _, _ = consistency_scalings(sigma, 0.5, 0.002)
    ref_skip, ref_out = sched.get_scalings_for_boundary_condition(sigma)
    torch.testing.assert_close(c_skip, ref_skip)
    torch.testing.assert_close(c_out, ref_out)
    assert float(c_skip[0]) == 1.0 and float(c_out[0]) == 0.0  # f(x, σ_min) = x


@pytest.mark.parametrize("steps", [1, 2, 5, 18])
def test_karras_sigmas_match_diffusers(steps: int) -> None:
    sched = EDMEulerScheduler(sigma_min=0.002, sigma_max=80.0, rho=7.0)
    sched.set_timesteps(steps)
    ours = karras_sigmas(steps, 0.002, 80.0, 7.0)
    assert ours.shape == (steps + 1,) and float(ours[-1]) == 0.0
    if steps > 1:  # diffusers' one-step ramp is [0, 1]-spaced differently; ours is σ_max
        torch.testing.assert_close(ours, sched.sigmas.float())
    assert float(ours[0]) == pytest.approx(80.0)


def test_consistency_sigmas() -> None:
    assert consistency_sigmas(1, 0.002, 80.0).tolist() == pytest.approx([80.0])
    two = consistency_sigmas(2, 0.002, 80.0)
    assert two.tolist() == pytest.approx([80.0, 2.5152], rel=1e-3)
    assert model_calls("consistency", 2) == 2 and model_calls("heun", 4) == 6
    assert model_calls("heun", 1) == 1 and model_calls("heun", 2) == 2


def test_tempered_sigmas_scale_per_item_and_clamp_to_the_trained_range() -> None:
    base = karras_sigmas(4, 0.05, 80.0)
    v = torch.tensor([0.0, 0.01, 0.5, 1.0, 2.0])
    got = tempered_sigmas(base, v, 0.05, 80.0)
    assert got.shape == (5, 5)
    for k, sigma in enumerate(base.tolist()):
        for i, vi in enumerate(v.tolist()):
            want = 0.0 if sigma == 0 else min(max(vi * sigma, 0.05), 80.0)
            assert float(got[k, i]) == pytest.approx(want, rel=1e-6), (k, i)
    assert torch.equal(got[:, 3], base)  # v = 1: the schedule itself, bit for bit
    assert torch.all(got[:, 0][:-1] == torch.tensor(0.05))  # v = 0: every level at the floor


def test_ode_floor_is_a_trained_noise_level() -> None:
    # σ / σ_data is log-normal in training with mean -1.2 - ln 0.5 and std 1.2 (training/ldm.py)
    for sigma_data in (0.5, 1.2481):
        floor = ode_sigma_floor(0.002, sigma_data)
        z = (np.log(floor / sigma_data) - (-1.2 - np.log(0.5))) / 1.2
        assert -2.1 < z < -1.8
    assert ode_sigma_floor(0.5, 0.5) == 0.5  # never below the config's own σ_min


# -- samplers -----------------------------------------------------------------------------
def fake_denoiser(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A smooth stand-in for a network: pulls towards a fixed pattern."""
    pattern = torch.linspace(-1, 1, x.shape[-1])
    return x / (1 + sigma.reshape(-1, 1, 1, 1) ** 2) + pattern


@pytest.mark.parametrize("sampler", ["euler", "heun", "consistency"])
def test_inpainting_leaves_known_frames_exact(sampler: str) -> None:
    b = 3
    cond = make_cond(b)
    noise = ItemNoise([1, 2, 3], (1, C, F))
    x = noise() * 80.0
    inpaint = Inpaint(cond.target[:, None], cond.target_known)
    if sampler == "consistency":
        out = sample_consistency(fake_denoiser, x, consistency_sigmas(3, 0.002, 80.0),
                                 noise=noise, sigma_min=0.002, inpaint=inpaint)
    else:
        solver = sample_heun if sampler == "heun" else sample_euler
        out = solver(fake_denoiser, x, karras_sigmas(4, 0.002, 80.0), noise=noise,
                     inpaint=inpaint)
    known = cond.target_known[:, None, None, :].expand_as(out)
    assert torch.equal(out[known], cond.target[:, None].expand_as(out)[known])
    assert not torch.equal(out[~known], cond.target[:, None].expand_as(out)[~known])


def test_inpainting_feeds_the_known_frames_noised_to_sigma() -> None:
    cond = make_cond(1)
    seen = []

    def spy(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        seen.append((x.clone(), float(sigma[0])))
        return torch.zeros_like(x)

    noise = ItemNoise([5], (1, C, F))
    sample_euler(spy, noise() * 80, karras_sigmas(3, 0.002, 80.0), noise=noise,
                 inpaint=Inpaint(cond.target[:, None], cond.target_known))
    replay = ItemNoise([5], (1, C, F))
    replay()  # the initial latent's draw
    for x, sigma in seen:
        expected = cond.target[:, None] + sigma * replay()
        torch.testing.assert_close(x[..., :20], expected[..., :20])


def _expected_calls(sampler: str, rows: list[list[float]]) -> list[list[float]]:
    """The σ rows a sampler must call the network with, for the schedule ``rows`` (S, B)."""
    if sampler == "consistency":
        return rows
    if sampler == "euler":
        return rows[:-1]
    n = len(rows) - 1  # heun: Heun steps (σ_k, σ_k+1), then Euler onto the floor and to 0
    calls = [r for k in range(n - 2) for r in (rows[k], rows[k + 1])]
    return calls + rows[max(0, n - 2):n]


@pytest.mark.parametrize("sampler", ["euler", "heun", "consistency"])
@pytest.mark.parametrize("steps", [1, 2, 4])
def test_samplers_tell_the_network_the_tempered_sigma_per_item(sampler: str, steps: int
                                                               ) -> None:
    """Each item of a batch with different variations is called at v·σ_k, clamped."""
    lo, hi = (0.002, 80.0) if sampler == "consistency" else (0.05, 80.0)
    base = (consistency_sigmas(steps, lo, hi) if sampler == "consistency"
            else karras_sigmas(steps, lo, hi))
    v = [0.0, 0.03, 0.5, 1.0, 2.0]
    sigmas = tempered_sigmas(base, torch.tensor(v), lo, hi)
    seen: list[list[float]] = []

    def spy(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        assert sigma.shape == (len(v),)
        seen.append(sigma.tolist())
        return fake_denoiser(x, sigma)

    noise = ItemNoise(range(len(v)), (1, C, F))
    x = noise() * sigmas[0].reshape(-1, 1, 1, 1)
    cond = make_cond(len(v))
    inpaint = Inpaint(cond.target[:, None], cond.target_known)
    if sampler == "consistency":
        out = sample_consistency(spy, x, sigmas, noise=noise, sigma_min=lo, inpaint=inpaint)
    else:
        solver = sample_heun if sampler == "heun" else sample_euler
        out = solver(spy, x, sigmas, noise=noise, inpaint=inpaint)
    rows = [[0.0 if s == 0 else min(max(vi * s, lo), hi) for vi in v] for s in base.tolist()]
    want = _expected_calls(sampler, rows)
    assert len(seen) == len(want) == model_calls(sampler, steps)
    for got, expected in zip(seen, want, strict=True):
        assert got == pytest.approx(expected, rel=1e-6)
    assert min(min(row) for row in seen) >= lo * (1 - 1e-6)  # never below the floor
    assert torch.isfinite(out).all()


def test_euler_with_per_item_sigmas_matches_item_by_item() -> None:
    v = torch.tensor([0.3, 1.0, 1.7])
    sigmas = tempered_sigmas(karras_sigmas(3, 0.05, 80.0), v, 0.05, 80.0)
    x = torch.randn(3, 1, C, F, generator=torch.Generator().manual_seed(4))
    batch = sample_euler(fake_denoiser, x, sigmas, noise=ItemNoise([0, 1, 2], (1, C, F)))
    for i in range(3):
        alone = sample_euler(fake_denoiser, x[i:i + 1], sigmas[:, i],
                             noise=ItemNoise([i], (1, C, F)))
        torch.testing.assert_close(batch[i:i + 1], alone)


def test_consistency_renoises_to_the_tempered_sigma() -> None:
    """Between calls the estimate gets fresh noise of std sqrt((v·σ_k)² - σ_min²) per item."""
    v = torch.tensor([0.25, 1.0, 2.0])
    sigmas = tempered_sigmas(consistency_sigmas(2, 0.002, 80.0), v, 0.002, 80.0)
    inputs: list[torch.Tensor] = []

    def spy(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        inputs.append(x.clone())
        return torch.zeros_like(x)  # the estimate is 0: the next input is the noise alone

    noise = ItemNoise([7, 8, 9], (1, C, F))
    sample_consistency(spy, noise() * sigmas[0].reshape(-1, 1, 1, 1), sigmas, noise=noise,
                       sigma_min=0.002)
    replay = ItemNoise([7, 8, 9], (1, C, F))
    torch.testing.assert_close(inputs[0], replay() * sigmas[0].reshape(-1, 1, 1, 1))
    std = (sigmas[1] ** 2 - 0.002**2).sqrt().reshape(-1, 1, 1, 1)
    torch.testing.assert_close(inputs[1], replay() * std)


def test_item_noise_is_batch_independent() -> None:
    alone = ItemNoise([42], (1, 2, 3))
    batch = ItemNoise([7, 42, 9], (1, 2, 3))
    for _ in range(3):
        assert torch.equal(alone()[0], batch()[1])


# -- denoiser -------------------------------------------------------------------------------
@pytest.mark.parametrize("beat", [False, True])
def test_denoiser_shapes_and_determinism(beat: bool) -> None:
    config = tiny_config(uses_beat_grid=beat, kind="teacher", sampler="heun")
    torch.manual_seed(0)
    denoiser = build_denoiser(config).eval()
    assert denoiser.net.config.in_channels == 1 + num_condition_planes(beat)
    cond = make_cond(2, beat=beat)
    planes = denoiser.planes(cond)
    assert planes.shape == (2, num_condition_planes(beat), C, F)
    x = torch.randn(2, 1, C, F)
    sigma = torch.tensor([80.0, 0.5])
    with torch.no_grad():
        out = denoiser(x, sigma, planes, cond.stem)
        again = denoiser(x, sigma, planes, cond.stem)
    assert out.shape == (2, 1, C, F) and torch.equal(out, again)


def test_consistency_denoiser_is_identity_at_sigma_min() -> None:
    config = tiny_config()
    denoiser = build_denoiser(config).eval()
    cond = make_cond(2)
    x = torch.randn(2, 1, C, F)
    with torch.no_grad():
        out = denoiser(x, torch.full((2,), config.sigma_min), denoiser.planes(cond), cond.stem)
    torch.testing.assert_close(out, x)


def test_edm_loss_trains_only_unknown_frames() -> None:
    config = tiny_config(kind="teacher", sampler="heun")
    denoiser = build_denoiser(config)
    cond = make_cond(2)
    gen = torch.Generator().manual_seed(0)
    loss = edm_loss(denoiser, cond.target, cond, generator=gen)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in denoiser.parameters() if p.requires_grad)
    # The default counts exactly the frames not known; no frame counted means no loss.
    sigma, noise = torch.tensor([1.0, 2.0]), torch.randn(2, 1, C, F)
    with torch.no_grad():
        default = edm_loss(denoiser, cond.target, cond, sigma=sigma, noise=noise)
        explicit = edm_loss(denoiser, cond.target, cond, sigma=sigma, noise=noise,
                            loss_frames=~cond.target_known)
        everything = edm_loss(denoiser, cond.target, cond, sigma=sigma, noise=noise,
                              loss_frames=torch.ones(2, F, dtype=torch.bool))
        nothing = edm_loss(denoiser, cond.target, cond, sigma=sigma, noise=noise,
                           loss_frames=torch.zeros(2, F, dtype=torch.bool))
    assert float(default) == float(explicit) and float(default) != float(everything)
    assert float(nothing) == 0.0


def test_rise_loss_counts_when_the_hits_land() -> None:
    class Fixed:  # an estimate of all zeros, whatever the input
        sigma_data = 1.0

        def planes(self, cond: Conditioning) -> torch.Tensor:
            return torch.zeros(1)

        def __call__(self, x, sigma, planes, stem) -> torch.Tensor:
            return torch.zeros_like(x)

    target = torch.zeros(1, C, F)
    target[..., 5:] = 1.0  # one hit: every channel rises at frame 5
    cond = Conditioning(mixture=target, mixture_known=torch.ones(1, F, dtype=torch.bool),
                        target=target, target_known=torch.zeros(1, F, dtype=torch.bool),
                        stem=torch.zeros(1, dtype=torch.long))
    sigma, noise = torch.ones(1), torch.zeros(1, 1, C, F)
    plain = edm_loss(Fixed(), target, cond, sigma=sigma, noise=noise)
    rise = edm_loss(Fixed(), target, cond, sigma=sigma, noise=noise, rise_weight=3.0)
    # lambda(1) = 2 at sigma_data 1; 27 of 32 frames are wrong by 1; the one rise of 31 missed
    torch.testing.assert_close(plain, torch.tensor(2 * 27 / 32))
    torch.testing.assert_close(rise, torch.tensor(2 * (27 / 32 + 3.0 / 31)))
    # only pairs of counted frames count: the rise at frame 5 is outside frames 10..31
    late = torch.zeros(1, F, dtype=torch.bool)
    late[:, 10:] = True
    torch.testing.assert_close(
        edm_loss(Fixed(), target, cond, sigma=sigma, noise=noise, rise_weight=3.0,
                 loss_frames=late),
        edm_loss(Fixed(), target, cond, sigma=sigma, noise=noise, loss_frames=late))


# -- conditioning ---------------------------------------------------------------------------
def test_condition_planes_mask_the_unknown() -> None:
    cond = make_cond(1, known_until=12)
    planes = condition_planes(cond, uses_beat_grid=False)
    assert planes.shape == (1, 4, C, F)
    assert torch.equal(planes[0, 0, :, :12], cond.mixture[0, :, :12])
    assert torch.all(planes[0, 0, :, 12:] == 0) and torch.all(planes[0, 2, :, 12:] == 0)
    assert torch.all(planes[0, 1, :, :12] == 1) and torch.all(planes[0, 1, :, 12:] == 0)
    with_beat = condition_planes(cond, uses_beat_grid=True)  # absent beat -> zero planes
    assert with_beat.shape == (1, 6, C, F) and torch.all(with_beat[0, 4:] == 0)


def test_mixture_onset_marks_the_mix_rises_and_never_the_future() -> None:
    mixture = torch.zeros(1, C, F)
    mixture[..., 5:] += 1.0  # every band rises at frame 5
    mixture[:, : C // 2, 9:] += 1.0  # half the bands at frame 9: half the strength
    mixture[..., 15:] += 1.0  # frame 15 is in the unknown future
    known = torch.zeros(1, F, dtype=torch.bool)
    known[:, 2:12] = True
    onset = mixture_onset(mixture, known)
    assert onset.shape == (1, F)
    assert onset[0].nonzero().flatten().tolist() == [5, 9]
    # divided by the mean over the 9 frames whose rise is known (frames 3..11): 1.5 / 9
    torch.testing.assert_close(onset[0, [5, 9]], torch.tensor([6.0, 3.0]))
    # the level and offset of the mix do not matter; a falling mix has no onsets
    torch.testing.assert_close(mixture_onset(3 * mixture - 2, known), onset)
    assert torch.all(mixture_onset(-mixture, known) == 0)
    cond = Conditioning(mixture=mixture, mixture_known=known, target=torch.zeros(1, C, F),
                        target_known=known.clone(), stem=torch.zeros(1, dtype=torch.long))
    planes = condition_planes(cond, uses_beat_grid=True, beat_phase="sincos",
                              mixture_onset_plane=True)
    assert planes.shape == (1, num_condition_planes(True, "sincos", True), C, F) \
        == (1, 9, C, F)
    assert torch.equal(planes[0, -1], onset.expand(C, F))  # last, broadcast over channels
    assert torch.equal(planes[:, :-1], condition_planes(cond, uses_beat_grid=True,
                                                        beat_phase="sincos"))


def test_a_model_gaining_the_onset_plane_computes_the_same_until_trained(tmp_path) -> None:
    config = tiny_config(uses_beat_grid=True, beat_phase="sincos", kind="teacher",
                         sampler="heun", cond_width=4)
    torch.manual_seed(0)
    denoiser = build_denoiser(config).eval()
    wider = with_mixture_onset(denoiser).eval()
    assert wider.net.config.in_channels == denoiser.net.config.in_channels + 1
    cond = make_cond(2, beat=True)
    x, sigma = torch.randn(2, 1, C, F), torch.tensor([0.5, 5.0])
    with torch.no_grad():
        before = denoiser(x, sigma, denoiser.planes(cond), cond.stem)
        same = wider(x, sigma, wider.planes(cond), cond.stem)
        torch.testing.assert_close(same, before, rtol=0, atol=1e-6)
        wider.net.conv_in.weight[:, -1].fill_(0.1)  # trained: the mix's onsets now count
        after = wider(x, sigma, wider.planes(cond), cond.stem)
    assert not torch.allclose(after, before)
    with pytest.raises(ValueError, match="already reads"):
        with_mixture_onset(wider)
    # saved and loaded as a model that reads the plane
    save_pretrained(tmp_path / "m", wider, replace(config, mixture_onset=True))
    loaded, loaded_config = load_denoiser(tmp_path / "m")
    assert loaded_config.mixture_onset and loaded.mixture_onset
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(x, sigma, loaded.planes(cond), cond.stem),
                                   after)


def test_window_masks_follow_geometry_and_codec_context() -> None:
    g = Geometry(sample_rate=22050, hop_length=512, window_frames=256, hop_frames=32,
                 lookahead=1)
    mixture, target = window_masks(g, (2, 2))
    assert g.known_mixture_frames() == 192
    assert mixture.nonzero().flatten().tolist() == list(range(2, 190))
    assert target.nonzero().flatten().tolist() == list(range(0, 224))
    retro = window_masks(g.with_settings(lookahead=-1), (2, 2))[0]
    assert retro.nonzero().flatten().tolist() == list(range(2, 254))


def test_beat_planes_follow_transport() -> None:
    t = Transport(bpm=120.0, beat_position=1000, beats_per_bar=4, beat_in_bar=1)
    planes = beat_planes(t, first_frame=10, frames=64, hop_length=512, sample_rate=22050)
    assert planes.shape == (4, 64) and planes.dtype == np.float32
    centres = (10 + np.arange(64) + 0.5) * 512
    beat = (centres - 1000) / 11025
    np.testing.assert_allclose(planes[0], np.cos(2 * np.pi * beat), atol=1e-5)
    bar = (beat + 1) % 4 / 4
    np.testing.assert_allclose(planes[1], np.cos(2 * np.pi * bar), atol=1e-5)
    np.testing.assert_allclose(planes[2], np.sin(2 * np.pi * beat), atol=1e-5)
    np.testing.assert_allclose(planes[3], np.sin(2 * np.pi * bar), atol=1e-4)
    # the sines tell just before a beat from just after it, which the cosines cannot
    frac = beat % 1.0
    before, after = int(np.argmin(np.abs(frac - 0.9))), int(np.argmin(np.abs(frac - 0.1)))
    assert planes[0, before] == pytest.approx(planes[0, after], abs=0.15)
    assert planes[2, before] < -0.3 < 0.3 < planes[2, after]
    assert not beat_planes(None, 0, 8, hop_length=512, sample_rate=22050).any()


def test_training_grid_covers_every_valid_pair() -> None:
    grid = TrainingGrid.full(256, (32, 64))
    assert grid.lookaheads == tuple(range(-1, 7))
    assert (32, 6) in grid.pairs() and (64, 2) in grid.pairs() and (64, 3) not in grid.pairs()
    with pytest.raises(GeometryError, match="no valid"):
        TrainingGrid(8, (8,), (0,))


def test_training_masks_match_inference_masks() -> None:
    grid = TrainingGrid(F, (4, 8), (-1, 0, 1, 2))
    cond = make_cond(64, beat=True)
    gen = torch.Generator().manual_seed(0)
    drawn, hops = draw_training_conditioning(
        cond.target, cond.mixture, cond.stem, grid=grid, context_frames=(2, 2),
        generator=gen, beat=cond.beat, uses_beat_grid=True)
    possible = {}
    for h, w in grid.pairs():
        mix, tgt = window_masks(frame_geometry(F, h, w), (2, 2))
        possible.setdefault(h, []).append((mix, tgt))
    seen_pairs = set()
    for i in range(64):
        h = int(hops[i])
        matches = [j for j, (mix, _) in enumerate(possible[h])
                   if torch.equal(mix, drawn.mixture_known[i])]
        assert matches, f"item {i}: mixture mask not one the pipeline uses"
        seen_pairs.add((h, matches[0]))
        full_history = possible[h][matches[0]][1]
        # History is the pipeline's target mask, possibly with frames dropped, never added.
        assert not (drawn.target_known[i] & ~full_history).any()
        assert not drawn.target_known[i, F - h:].any()  # the region is always unknown
    assert len(seen_pairs) >= 6
    dropped = (drawn.beat.abs().sum(dim=(1, 2)) == 0).sum()
    assert 0 < int(dropped) < 64


def test_heun_step_with_per_item_sigmas_matches_item_by_item() -> None:
    from sideman.models.samplers import heun_step

    x = torch.randn(3, 1, C, F, generator=torch.Generator().manual_seed(2))
    sigma = torch.tensor([10.0, 2.0, 0.5])
    sigma_next = torch.tensor([5.0, 0.0, 0.3])
    batch = heun_step(fake_denoiser, x, sigma, sigma_next)
    for i in range(3):
        alone = heun_step(fake_denoiser, x[i:i + 1], sigma[i], sigma_next[i])
        torch.testing.assert_close(batch[i:i + 1], alone)


def test_consistency_student_copies_the_teacher() -> None:
    from sideman.models.denoiser import consistency_student

    teacher = build_denoiser(tiny_config(kind="teacher", sampler="heun"))
    student = consistency_student(teacher)
    assert student.parameterization == "consistency" and teacher.parameterization == "edm"
    for (name, a), (_, b) in zip(teacher.net.state_dict().items(),
                                 student.net.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    next(student.net.parameters()).data.add_(1.0)
    assert not torch.equal(next(student.net.parameters()), next(teacher.net.parameters()))


def test_beat_phase_decides_which_beat_planes_the_network_reads(tmp_path) -> None:
    """A ``sincos`` model reads all four beat planes, a ``cos`` model (a config written before
    the field existed, as the default's until 2026-12-07) the first two; changing a sine
    changes only the first's estimate."""
    import json
    from dataclasses import replace

    from sideman.models.checkpoint import load_config
    from sideman.models.config import ConfigError
    from sideman.models.pipeline import DEFAULT_WEIGHTS

    written = json.loads((DEFAULT_WEIGHTS / "config.json").read_text())
    assert written["beat_phase"] == "sincos"
    older = {k: v for k, v in written.items() if k != "beat_phase"}
    (tmp_path / "config.json").write_text(json.dumps(older))
    assert load_config(tmp_path).beat_phase == "cos"
    cond = make_cond(2, beat=True)
    other = replace(cond, beat=cond.beat.clone())
    other.beat[:, 2:] += 1.0  # the sines only
    x, sigma = torch.randn(2, 1, C, F), torch.tensor([1.0, 1.0])
    for phase, planes in (("cos", 2), ("sincos", 4)):
        config = tiny_config(uses_beat_grid=True, kind="teacher", sampler="heun",
                             beat_phase=phase)
        torch.manual_seed(0)
        denoiser = build_denoiser(config).eval()
        assert denoiser.net.config.in_channels == 1 + 4 + planes
        with torch.no_grad():
            a = denoiser(x, sigma, denoiser.planes(cond), cond.stem)
            b = denoiser(x, sigma, denoiser.planes(other), cond.stem)
        assert torch.equal(a, b) == (phase == "cos")
    with pytest.raises(ConfigError, match="beat_phase must be one of cos, sincos"):
        tiny_config(beat_phase="tan")


def test_condition_pyramid_reaches_every_level_and_survives_save_and_distillation(
        tmp_path) -> None:
    """A fresh pyramid leaves the U-Net's function unchanged (zero-initialised outputs);
    trained, it makes the estimate depend on the planes at every level; its weights are
    saved and loaded with the U-Net's, and a distilled student feeds its own copy."""
    from sideman.models.checkpoint import CheckpointError, load_denoiser, save_pretrained
    from sideman.models.denoiser import consistency_student

    cond = make_cond(2, beat=True)
    x, sigma = torch.randn(2, 1, C, F), torch.tensor([1.0, 30.0])
    base = dict(uses_beat_grid=True, kind="teacher", sampler="heun", beat_phase="sincos")
    torch.manual_seed(0)
    plain = build_denoiser(tiny_config(**base)).eval()
    torch.manual_seed(0)
    denoiser = build_denoiser(tiny_config(**base, cond_width=4)).eval()
    pyramid = denoiser.net.cond_pyramid
    levels = len(denoiser.net.down_blocks) + 1  # and the mid block
    assert len(pyramid.encode(denoiser.planes(cond))) == levels
    with torch.no_grad():
        fresh = denoiser(x, sigma, denoiser.planes(cond), cond.stem)
        torch.testing.assert_close(fresh, plain(x, sigma, plain.planes(cond), cond.stem),
                                   rtol=0, atol=0)
        for out in [*pyramid.out, pyramid.out_mid]:
            out.weight.normal_(0.0, 0.2)
        trained = denoiser(x, sigma, denoiser.planes(cond), cond.stem)
    assert (trained - fresh).abs().max() > 1e-3
    # each level alone changes the estimate (the hooks reach every block)
    for level in range(levels):
        with torch.no_grad():
            outs = [*pyramid.out, pyramid.out_mid]
            saved = [o.weight.clone() for o in outs]
            for i, o in enumerate(outs):
                if i != level:
                    o.weight.zero_()
            alone = denoiser(x, sigma, denoiser.planes(cond), cond.stem)
            for o, w in zip(outs, saved, strict=True):
                o.weight.copy_(w)
        assert (alone - fresh).abs().max() > 1e-4, level
    config = tiny_config(**base, cond_width=4)
    save_pretrained(tmp_path / "m", denoiser, config)
    loaded, loaded_config = load_denoiser(tmp_path / "m")
    assert loaded_config.cond_width == 4
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, sigma, loaded.planes(cond), cond.stem), trained)
    student = consistency_student(denoiser)
    with torch.no_grad():
        before = student(x, sigma, student.planes(cond), cond.stem)
        pyramid.out_mid.weight.zero_()  # the teacher's; the student keeps its copy
        after = student(x, sigma, student.planes(cond), cond.stem)
    torch.testing.assert_close(before, after, rtol=0, atol=0)
    # an old checkpoint without the pyramid does not load into a config that has one
    save_pretrained(tmp_path / "plain", plain, tiny_config(**base))
    (tmp_path / "plain" / "config.json").write_text(config.to_json())
    with pytest.raises(CheckpointError, match="does not fit the architecture"):
        load_denoiser(tmp_path / "plain")


def test_noise_scale_sets_what_the_noise_embedding_reads() -> None:
    from sideman.models.config import ConfigError

    sigma = torch.tensor([0.01, 1.0, 50.0])
    assert torch.allclose(edm_scalings(sigma, 0.5)[3], 0.25 * sigma.log())
    assert torch.allclose(edm_scalings(sigma, 0.5, 2.0)[3], 2.0 * sigma.log())
    assert torch.allclose(consistency_scalings(sigma, 0.5, 0.002, 2.0)[3], 2.0 * sigma.log())
    denoiser = build_denoiser(tiny_config(noise_scale=2.0))
    assert denoiser.noise_scale == 2.0
    assert torch.allclose(denoiser.scalings(sigma)[3], 2.0 * sigma.log())
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="noise_scale must be a positive number"):
            tiny_config(noise_scale=bad)
    with pytest.raises(ConfigError, match="cond_width must be an int >= 0"):
        tiny_config(cond_width=-1)


def test_history_dropout_shows_no_history() -> None:
    target, mixture = torch.randn(8, C, F), torch.randn(8, C, F)
    grid = TrainingGrid.full(F, (4, 8))
    for p, any_known in ((1.0, False), (0.0, True)):
        cond, _ = draw_training_conditioning(
            target, mixture, torch.zeros(8, dtype=torch.long), grid=grid,
            context_frames=(0, 0), generator=torch.Generator().manual_seed(0),
            masks=TrainingMasks(p_no_history=p, p_history_gap=0.0))
        assert bool(cond.target_known.any()) == any_known


def test_without_history_planes_the_history_reaches_the_network_only_through_the_noise(
        ) -> None:
    """``history_planes=False``: a changed clean history changes nothing in the planes, and
    the conditioning keeps its known frames (the inpainting samplers still pin them)."""
    from dataclasses import replace

    config = tiny_config(kind="teacher", sampler="heun", history_planes=False)
    denoiser = build_denoiser(config).eval()
    assert denoiser.history_planes is False
    cond = make_cond(2)
    other = replace(cond, target=cond.target + 1.0)
    assert torch.equal(denoiser.planes(cond), denoiser.planes(other))
    assert cond.target_known[:, :20].all()
    assert torch.equal(denoiser.planes(cond)[:, 2:4], torch.zeros_like(cond.target)[:, None]
                       .expand(-1, 2, -1, -1))
    with_planes = build_denoiser(tiny_config(kind="teacher", sampler="heun"))
    assert not torch.equal(with_planes.planes(cond), with_planes.planes(other))
    from sideman.models.config import ConfigError
    with pytest.raises(ConfigError, match="history_planes must be true or false"):
        tiny_config(history_planes="no")


def test_onset_weights_favour_the_frames_where_a_hit_starts() -> None:
    from sideman.models.denoiser import onset_frame_weights

    target = torch.full((2, C, F), -2.0)
    target[0, :, 10:13] = 1.0  # one hit: rises at frame 10 only
    weights = onset_frame_weights(target, 4.0)
    assert weights.shape == (2, F)
    assert int(weights[0].argmax()) == 10 and weights[0, 10] > 4.0
    assert torch.all(weights[0, :10] == 1.0) and weights[0, 11] == 1.0
    assert torch.all(weights[1] == 1.0)  # flat: no rise anywhere
    # the loss follows: an error at the onset frame costs more than one on the floor
    from sideman.models.denoiser import edm_loss

    denoiser = build_denoiser(tiny_config(kind="teacher", sampler="heun")).eval()
    cond = make_cond(1, known_until=0)
    sigma, noise = torch.tensor([1.0]), torch.zeros(1, 1, C, F)
    with torch.no_grad():
        plain = edm_loss(denoiser, target[:1], cond, sigma=sigma, noise=noise)
        weighted = edm_loss(denoiser, target[:1], cond, sigma=sigma, noise=noise,
                            onset_weight=4.0)
    assert not torch.isclose(plain, weighted)
