"""Fixtures shared by test files."""

from __future__ import annotations

import pytest


@pytest.fixture
def one_thread():
    """One torch thread while a test runs (a module opts in with ``pytestmark =
    pytest.mark.usefixtures("one_thread")``): tiny tensors on a busy shared CPU are faster
    and steadier without OpenMP's barriers."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def _default_generator():
    """The embedded default model, loaded once per test session."""
    pytest.importorskip("torch")
    from sideman.models.registry import load_generator
    from sideman.models.tempo import warm_up

    warm_up()  # the beat tracker's first use compiles (seconds): not in a real-time test
    return load_generator("default")


@pytest.fixture
def default_model(_default_generator):
    """The default model for a test that runs it in real time against a patch: one torch
    thread while the test runs (the machine is shared with Pd or Node), restored after it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield _default_generator
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def click_songs():
    """``make(root, songs, seconds) -> root``: a data set of constructed songs (drums = unit
    impulses every half second, bass = a decaying tone on each, beats annotated on the
    impulses), as tests/eval/test_sweep.py builds them, for the eval merge / compare tests."""
    import json
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    sr, period = 22050, 11025

    def make(root: Path, songs: int, seconds: float) -> Path:
        n = round(seconds * sr)
        t = np.arange(n) / sr
        for index in range(songs):
            track = root / f"Track{index:05d}"
            (track / "stems").mkdir(parents=True)
            drums = np.zeros(n, np.float32)
            drums[::period] = 1.0
            phase = (np.arange(n) % period) / sr
            bass = (0.3 * np.exp(-phase * 8) * np.sin(2 * np.pi * (110 + 20 * index) * t))
            silent = np.zeros(n, np.float32)
            stems = {"bass": bass.astype(np.float32), "drums": drums, "guitar": silent,
                     "piano": silent}
            for name, audio in stems.items():
                sf.write(track / "stems" / f"{name}.wav", audio, sr, subtype="FLOAT")
            sf.write(track / "mix.wav", sum(stems.values()), sr, subtype="FLOAT")
            beats = [i * period / sr for i in range(-(-n // period))]
            meta = {"id": track.name, "index": index, "split": "test", "sample_rate": sr,
                    "duration": seconds, "beats": beats, "downbeats": beats[::4],
                    "tempo": 60 * sr / period, "meter": "4/4", "beats_per_bar": 4,
                    "chords": [],
                    "files": {"mix": "mix.wav", "stems": {s: f"stems/{s}.wav" for s in stems}}}
            (track / "metadata.json").write_text(json.dumps(meta))
        (root / "index.json").write_text(json.dumps({
            "format": "sideman-synth",
            "songs": [{"id": f"Track{i:05d}"} for i in range(songs)]}))
        return root

    return make
