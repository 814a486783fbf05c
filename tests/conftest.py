"""Fixtures shared by test files."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def default_model():
    """The embedded default model, loaded once per test session, for tests that run it in
    real time against a patch (one torch thread: the machine is shared with Pd or Node)."""
    torch = pytest.importorskip("torch")
    from sideman.models.registry import load_generator

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield load_generator("default")
    finally:
        torch.set_num_threads(threads)
