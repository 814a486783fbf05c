"""Geometry: whole latent frames, no drift between latent and audio shifts, exact clock maps."""

from __future__ import annotations

import pytest

from sideman.models.geometry import (
    ClockMap,
    Geometry,
    GeometryError,
    describe_rounding,
    hop_frames_for_ratio,
)


def make(r: float, w: int, *, window_frames: int = 64, hop_length: int = 4096) -> Geometry:
    return Geometry.from_ratio(sample_rate=44100, hop_length=hop_length,
                               window_frames=window_frames, r=r, w=w)


@pytest.mark.parametrize("r", [0.125, 0.25, 0.5, 1.0])
def test_exact_ratios_are_whole_frames(r: float) -> None:
    g = make(r, -1)
    assert g.hop_frames == int(r * 64)
    assert g.hop_samples == g.hop_frames * g.hop_length
    assert g.r == r


def test_reference_drift_case_is_rounded_visibly() -> None:
    # The reference shifts latents by int(64*0.2)=12 frames but audio by int(T*0.2) samples.
    # Here the hop is one number of frames and the audio hop is derived from it.
    g = make(0.2, 1)
    assert g.hop_frames == 13
    assert g.hop_samples == 13 * 4096
    assert describe_rounding(0.2, 64) == "r=0.2 rounded to 0.203125 (13 latent frames of 64)"
    with pytest.raises(GeometryError, match="not a whole number"):
        hop_frames_for_ratio(0.2, 64, exact=True)


def test_no_drift_over_many_steps() -> None:
    # Latent shift and audio shift stay in lock-step for every step, for every ratio.
    for frames in range(1, 33):
        g = Geometry(sample_rate=22050, hop_length=512, window_frames=256,
                     hop_frames=frames, lookahead=1)
        for k in (0, 1, 7, 1000, 123457):
            start, end = g.region(k)
            assert start % g.hop_length == 0 and end % g.hop_length == 0
            assert g.frame_index(start) == (k + 1) * frames
            assert end - start == g.hop_samples
            w_start, w_end = g.window(k)
            assert w_end == end and w_end - w_start == g.window_samples


@pytest.mark.parametrize(("r", "w", "ok"), [
    (0.25, 2, True), (0.25, 3, False), (0.5, 0, True), (0.5, 1, False),
    (0.125, 6, True), (0.125, 7, False), (1.0, -1, True), (1.0, 0, False),
])
def test_lookahead_must_leave_known_context(r: float, w: int, ok: bool) -> None:
    if ok:
        g = make(r, w)
        assert g.known_mixture_frames() >= g.hop_frames
    else:
        with pytest.raises(GeometryError, match=r"\(w\+2\)\*r must be <= 1"):
            make(r, w)


def test_regions_follow_design_md() -> None:
    g = make(0.25, 1)  # H = 16 frames
    h = g.hop_samples
    assert g.step_position(3) == 3 * h
    assert g.region(3) == (4 * h, 5 * h)
    assert g.deadline_position(3) == 4 * h
    assert make(0.25, -1).region(3) == (2 * h, 3 * h)
    assert make(0.25, 0).region(3) == (3 * h, 4 * h)
    assert make(0.25, 2).region(3) == (5 * h, 6 * h)
    assert g.last_step_ready(3 * h - 1) == 2 and g.last_step_ready(3 * h) == 3


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, float("nan")])
def test_bad_ratio_refused(bad: float) -> None:
    with pytest.raises(GeometryError, match="r must be in"):
        hop_frames_for_ratio(bad, 64)


def test_lookahead_below_minus_one_refused() -> None:
    with pytest.raises(GeometryError, match="w must be an int >= -1"):
        make(0.25, -2)


@pytest.mark.parametrize(("model", "client"), [(44100, 44100), (22050, 44100), (44100, 48000),
                                               (22050, 48000), (48000, 44100)])
def test_clock_map_tiles_client_timeline(model: int, client: int) -> None:
    cm = ClockMap(model_rate=model, client_rate=client)
    g = Geometry(sample_rate=model, hop_length=512, window_frames=256, hop_frames=37,
                 lookahead=1)
    previous_end = None
    total = 0
    for k in range(200):
        a, b = cm.client_span(*g.region(k))
        if previous_end is not None:
            assert a == previous_end  # no gap, no overlap
        previous_end = b
        total += b - a
    first = cm.to_client(g.region(0)[0])
    assert total == cm.to_client(g.region(199)[1]) - first
    # Never more than half a sample away from the exact position.
    exact = g.region(199)[1] * client / model
    assert abs(previous_end - exact) <= 0.5
    if model == client:
        assert cm.identity and cm.to_client(12345) == 12345 == cm.to_model(12345)
