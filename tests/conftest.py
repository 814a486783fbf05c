"""Fixtures shared by test files."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def _default_generator():
    """The embedded default model, loaded once per test session."""
    pytest.importorskip("torch")
    from sideman.models.registry import load_generator

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
