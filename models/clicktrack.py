"""Diagnostic generator: unit impulses on a fixed absolute grid, to check alignment to the sample.

``clicktrack`` runs on the client's own clock (no codec, no resampling). For every stem it
writes ``1.0`` at each absolute sample position that is a multiple of ``period`` and ``0.0``
everywhere else, so an output file recorded by a client must have its clicks exactly at
``0, period, 2·period, ...`` whatever r, w, loss or reordering happened on the way.

An optional compute delay (fixed, plus per sampling step) turns it into a stand-in for a slow
model in scheduling and reliability tests; the delay does not change the audio.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .base import STEMS, Generator, ModelInfo, StepRequest, StepResult, StreamState

#: Default click period in samples: 0.1 s at 44.1 kHz.
DEFAULT_PERIOD = 4410
#: Samples per "latent frame" of the click track: the step grid's quantum.
CLICK_HOP_LENGTH = 64
#: Window of 4096 frames = 262144 samples (5.94 s at 44.1 kHz, like Music2Latent's 64 frames).
CLICK_WINDOW_FRAMES = 4096


def click_positions(start: int, end: int, period: int) -> np.ndarray:
    """Absolute positions in ``[start, end)`` that are multiples of ``period``."""
    first = -(-start // period) * period  # ceil to the grid, also for negative starts
    return np.arange(first, end, period, dtype=np.int64)


def render_clicks(start: int, length: int, period: int) -> np.ndarray:
    """``float32 (length,)``: impulses at multiples of ``period`` in ``[start, start+length)``."""
    out = np.zeros(length, dtype=np.float32)
    out[click_positions(start, start + length, period) - start] = 1.0
    return out


class ClickTrack(Generator):
    """Unit impulses every ``period`` samples for each requested stem."""

    def __init__(self, period: int = DEFAULT_PERIOD, delay: float = 0.0,
                 delay_per_step: float = 0.0) -> None:
        if period < 1:
            raise ValueError(f"period must be >= 1 sample, got {period}")
        if delay < 0 or delay_per_step < 0:
            raise ValueError("delays must be >= 0 seconds")
        self.period = period
        self.delay = delay
        self.delay_per_step = delay_per_step
        self.info = ModelInfo(
            name="clicktrack",
            sample_rate=None,
            hop_length=CLICK_HOP_LENGTH,
            window_frames=CLICK_WINDOW_FRAMES,
            stems=STEMS,
            trained_hop_frames=tuple(range(1, CLICK_WINDOW_FRAMES + 1)),
            trained_lookaheads=tuple(range(-1, CLICK_WINDOW_FRAMES - 1)),
            uses_beat_grid=False,
            default_steps=2,
            max_steps=8,
        )

    def new_stream(self) -> StreamState:
        return StreamState()

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        for request in requests:
            request.validate(self.info)
        started = time.perf_counter()
        # One "model call" for the whole batch: the delay models a batched forward pass.
        steps = max((r.num_steps for r in requests), default=0)
        sleep = self.delay + self.delay_per_step * steps
        if sleep > 0:
            time.sleep(sleep)
        sampled = time.perf_counter()
        results = []
        for request in requests:
            length = request.xfade + request.geometry.hop_samples
            clicks = render_clicks(request.output_start, length, self.period)
            results.append(StepResult(
                start=request.output_start,
                audio={stem: clicks.copy() for stem in request.stems},
                num_steps=request.num_steps,
                timings={"encode": 0.0, "sample": sampled - started,
                         "decode": time.perf_counter() - sampled},
            ))
        return results
