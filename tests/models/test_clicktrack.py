"""The diagnostic click-track generator honours the generator contract to the sample."""

from __future__ import annotations

import numpy as np
import pytest

from sideman.models.base import GeneratorError, StepRequest, step_seed
from sideman.models.clicktrack import ClickTrack, click_positions, render_clicks
from sideman.models.registry import load_generator


def request(gen: ClickTrack, k: int, *, r_frames: int = 512, w: int = 1, xfade: int = 256,
            stems: tuple[str, ...] = ("drums",), client_rate: int = 44100) -> StepRequest:
    geometry = gen.info.geometry(hop_frames=r_frames, lookahead=w, client_rate=client_rate)
    return StepRequest(stream=gen.new_stream(), step=k, geometry=geometry,
                       mixture=np.zeros(geometry.window_samples, np.float32), stems=stems,
                       num_steps=2, xfade=xfade)


def test_click_positions_are_multiples_of_period() -> None:
    assert click_positions(0, 10000, 4410).tolist() == [0, 4410, 8820]
    assert click_positions(4411, 8821, 4410).tolist() == [8820]
    assert click_positions(-5000, 1, 4410).tolist() == [-4410, 0]
    out = render_clicks(4000, 1000, 4410)
    assert np.flatnonzero(out).tolist() == [410] and out.sum() == 1.0


@pytest.mark.parametrize("w", [-1, 0, 1, 2])
def test_step_output_covers_region_plus_crossfade(w: int) -> None:
    gen = load_generator("clicktrack")
    req = request(gen, 5, w=w, stems=("drums", "bass"))
    (res,) = gen.generate([req])
    start, end = req.region
    assert res.start == start - 256
    for stem in ("drums", "bass"):
        audio = res.audio[stem]
        assert audio.dtype == np.float32 and audio.shape == (end - res.start,)
        hits = np.flatnonzero(audio) + res.start
        assert hits.tolist() == click_positions(res.start, end, 4410).tolist()


def test_contract_violations_are_named() -> None:
    gen = ClickTrack()
    req = request(gen, 1, stems=("kazoo",))
    with pytest.raises(GeneratorError, match="unknown stems"):
        gen.generate([req])
    req = request(gen, 1)
    req.mixture = np.zeros(10, np.float32)
    with pytest.raises(GeneratorError, match="mixture must have shape"):
        gen.generate([req])


def test_step_seed_is_stable_and_distinct() -> None:
    assert step_seed(0, 1, "drums") == step_seed(0, 1, "drums")
    assert len({step_seed(0, 1, "drums"), step_seed(0, 2, "drums"), step_seed(0, 1, "bass"),
                step_seed(1, 1, "drums")}) == 4
