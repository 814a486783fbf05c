"""Fixtures of the training tests: tiny synthesized songs, the mel codec, their latent cache
(built once per test session, read only by the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sideman.models.codecs import build_codec
from sideman.training.cache import build_cache, open_cache
from sideman.training.synth.dataset import SynthOptions, synthesize


@pytest.fixture(scope="session")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train") / "synth"
    synthesize(out, SynthOptions(seed=3, songs=3, seconds=4.0,
                                 split_fractions=(0.67, 0.33, 0.0)), progress=False)
    return out


@pytest.fixture(scope="session")
def codec():
    return build_codec("mel")


@pytest.fixture(scope="session")
def cache(data: Path, codec):
    return open_cache(build_cache(data, data / "latents", codec, progress=False), codec)
