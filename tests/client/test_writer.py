"""The client's chunk writer follows PROTOCOL.md's rule whatever order chunks arrive in."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sideman.client import KEEP_STEPS, StemWriter

HOP, XFADE, CHUNK = 400, 64, 150


def step_output(step: int, final: bool) -> np.ndarray:
    """A distinct, recognisable signal per (step, version)."""
    rng = np.random.default_rng(step * 2 + int(final))
    return rng.uniform(-1, 1, HOP + XFADE).astype(np.float32)


def chunks_of(step: int, final: bool) -> list[tuple]:
    start = (step + 1) * HOP - XFADE
    x = step_output(step, final)
    out = []
    for index, offset in enumerate(range(0, len(x), CHUNK)):
        out.append((step, start, XFADE, start + offset, index, final, x[offset:offset + CHUNK]))
    return out


def reference(length: int, chunks: list[tuple]) -> np.ndarray:
    """Independent rendering: steps in order, each with its best version, one crossfade."""
    buffer = np.zeros(length, np.float64)
    steps = sorted({c[0] for c in chunks})
    for step in steps:
        start = (step + 1) * HOP - XFADE
        values: dict[int, float] = {}
        for final in (False, True):
            for c in chunks:
                if c[0] == step and c[5] == final:
                    for j, v in enumerate(c[6]):
                        values[c[3] + j] = float(v)
        for p, v in values.items():
            if not 0 <= p < length:
                continue
            if p < start + XFADE:
                g = (p - start + 1) / (XFADE + 1)
                buffer[p] = (1 - g) * buffer[p] + g * v
            else:
                buffer[p] = v
    return buffer.astype(np.float32)


def test_one_crossfade_over_the_previous_region() -> None:
    writer = StemWriter(4 * HOP)
    for c in chunks_of(0, True) + chunks_of(1, True):
        assert writer.add(*c) == "new"
    prev, new = step_output(0, True), step_output(1, True)
    start = 2 * HOP - XFADE
    for j in range(XFADE):
        g = (j + 1) / (XFADE + 1)
        expected = np.float32((1 - g) * float(prev[XFADE + HOP - XFADE + j]) + g * float(new[j]))
        assert writer.buffer[start + j] == expected
    np.testing.assert_array_equal(writer.buffer[2 * HOP:3 * HOP], new[XFADE:])
    # Step 0's own crossfade had nothing under it: a fade-in from silence.
    assert writer.buffer[HOP - XFADE] == np.float32(step_output(0, True)[0] / (XFADE + 1))


def test_duplicates_are_never_applied_twice() -> None:
    once, twice = StemWriter(4 * HOP), StemWriter(4 * HOP)
    for c in chunks_of(0, True) + chunks_of(1, True):
        once.add(*c)
        twice.add(*c)
        assert twice.add(*c) == "duplicate"
    np.testing.assert_array_equal(once.buffer, twice.buffer)


def test_final_replaces_quick_and_never_the_reverse() -> None:
    writer = StemWriter(4 * HOP)
    for c in chunks_of(0, True) + chunks_of(1, False):
        writer.add(*c)
    for c in chunks_of(1, True):
        assert writer.add(*c) == "new"
    for c in chunks_of(1, False):
        assert writer.add(*c) == "duplicate"
    late_quick = StemWriter(4 * HOP)
    for c in chunks_of(0, True) + chunks_of(1, True):
        late_quick.add(*c)
    for c in chunks_of(1, False):
        assert late_quick.add(*c) == "superseded"
    np.testing.assert_array_equal(writer.buffer, late_quick.buffer)
    np.testing.assert_array_equal(writer.buffer, reference(4 * HOP, chunks_of(0, True)
                                                           + chunks_of(1, True)))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_arrival_order_gives_the_same_output(data: st.DataObject) -> None:
    chunks = []
    for step in range(5):
        chunks += chunks_of(step, True)
        if step % 2:
            chunks += chunks_of(step, False)
    kept = data.draw(st.lists(st.sampled_from(range(len(chunks))), unique=True,
                              min_size=1, max_size=len(chunks)))
    subset = [chunks[i] for i in kept]
    order = data.draw(st.permutations(subset))
    repeats = data.draw(st.lists(st.sampled_from(subset), max_size=5))
    writer = StemWriter(6 * HOP + 17)
    for c in [*order, *repeats]:
        writer.add(*c)
    np.testing.assert_array_equal(writer.buffer, reference(6 * HOP + 17, subset))


def test_long_streams_freeze_old_steps() -> None:
    steps = 3 * KEEP_STEPS
    chunks = [c for step in range(steps) for c in chunks_of(step, True)]
    writer = StemWriter((steps + 2) * HOP)
    for c in chunks:
        writer.add(*c)
    np.testing.assert_array_equal(writer.buffer, reference((steps + 2) * HOP, chunks))
    assert len(writer._layers) <= 2 * KEEP_STEPS
    assert writer.add(*chunks_of(0, False)[0]) == "stale"
