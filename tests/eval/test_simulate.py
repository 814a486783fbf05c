"""The simulated-clock driver (eval/simulate.py): the live server's own code, offline.

Its output equals what a live client gets over real UDP for the same settings and seed; under
a simulated model latency the scheduler misses and degrades exactly where its rules say; a
lossy simulated link gives silence where datagrams were lost and counts every loss.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sideman.client import ClientSettings, RunOptions, TransportUpdate, run_client
from sideman.eval.latency import Latency
from sideman.eval.network import Impairment
from sideman.eval.simulate import SimClient, Simulation
from sideman.models.base import Transport
from sideman.models.testing import tiny_pipeline
from sideman.server.testing import RecordingGenerator, TinyClickTrack, live_server

RATE = 22050
#: The tiny pipeline: 8 kHz, 32 frames of 128 samples; r = 0.25 is 8 frames = 1024 samples.
TINY_HOP_SECONDS = 1024 / 8000


pytestmark = pytest.mark.usefixtures("one_thread")


def noise(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    envelope = 0.5 + 0.5 * np.cos(2 * np.pi * 2.0 * np.arange(n) / RATE)  # 2 Hz pulses
    return (0.2 * envelope * rng.standard_normal(n)).astype(np.float32)


def assert_same_output(sim_core, live_core, stems) -> None:
    for stem in stems:
        a, b = sim_core.writers[stem], live_core.writers[stem]
        np.testing.assert_array_equal(a.covered, b.covered)  # the same samples, aligned
        assert a.covered.sum() > 0.5 * len(a.covered)
        np.testing.assert_allclose(a.buffer, b.buffer, rtol=0, atol=2e-4)
        assert np.abs(a.buffer).max() > 1e-3


def test_simulation_equals_the_live_fast_client() -> None:
    cases = [
        (noise(1.6, 1), ClientSettings(r=0.25, w=1, stems=("drums",), realtime=False, seed=5)),
        (noise(1.3, 2), ClientSettings(r=0.125, w=2, stems=("bass", "piano"), realtime=False,
                                       seed=1)),
        (noise(1.6, 3), ClientSettings(r=0.25, w=-1, stems=("guitar",), realtime=False,
                                       seed=2, xfade=100)),
    ]
    recorder = RecordingGenerator(tiny_pipeline())
    sim = Simulation(recorder)
    simulated = sim.run([SimClient(audio, RATE, settings, name=f"c{i}")
                         for i, (audio, settings) in enumerate(cases)])
    # The three sessions shared model calls (one engine, several sessions).
    assert max(len(call.requests) for call in recorder.calls) == 3
    for (audio, settings), core in zip(cases, simulated, strict=True):
        with live_server(tiny_pipeline()) as (_, address):
            live = run_client(audio, RATE, settings, address,
                              options=RunOptions(fast=True, pings=0))
        assert_same_output(core, live, settings.stems)
        ours, theirs = core.stats(), live.stats()
        for key in ("steps", "steps_complete", "chunks_expected", "chunks_received",
                    "lost_chunks", "misses"):
            assert ours[key] == theirs[key], key
        assert ours["steps_complete"] == ours["steps"] > 5


def test_simulation_equals_the_live_realtime_client() -> None:
    # One sampling step: nothing to degrade, so a live run on a busy machine gives the same
    # audio as long as no step is superseded (w = 2 leaves it two hops).
    audio = noise(1.5, 4)
    settings = ClientSettings(r=0.25, w=2, stems=("drums",), realtime=True, steps=1, seed=3)
    core = Simulation(tiny_pipeline()).run([SimClient(audio, RATE, settings)])[0]
    with live_server(tiny_pipeline()) as (_, address):
        live = run_client(audio, RATE, settings, address, options=RunOptions(pings=0))
    assert live.stats()["superseded"] == 0
    assert_same_output(core, live, settings.stems)
    stats = core.stats()
    assert stats["steps_complete"] == stats["steps"] and stats["misses"] == 0
    assert stats["latency_p50_ms"] == 0.0  # model calls take no simulated time here


def calls_and_status(latency: Latency, w: int, seconds: float = 2.0):
    recorder = RecordingGenerator(tiny_pipeline())
    sim = Simulation(recorder, latency=latency)
    settings = ClientSettings(r=0.25, w=w, stems=("drums",), realtime=True, steps=2)
    core = sim.run([SimClient(noise(seconds, 5), RATE, settings)])[0]
    # The first three calls are the server's warm-up (2 steps, 1 step, 1 step on 2 stems).
    warmup = recorder.calls[:3]
    assert [(len(c.requests), c.requests[0][1], len(c.requests[0][2])) for c in warmup] == [
        (1, 2, 1), (1, 1, 1), (1, 1, 2)]
    steps = [call.requests[0][1] for call in recorder.calls[3:]]
    return core, steps, core.stats()["server_status"]


def test_simulated_latency_degrades_where_the_scheduler_predicts() -> None:
    # 80 ms per sampling step against a 128 ms hop at w = 1: two steps never fit, one does.
    core, steps, status = calls_and_status(Latency(per_step=0.08), w=1)
    # Step 0 is due at the mark of position 0, before the client's clock is known: no
    # deadline yet, so it runs at full quality (160 ms) and lands after the region starts
    # (128 ms after capture). Every later step runs at one sampling step and is in time.
    assert steps[0] == 2 and set(steps[1:]) == {1}
    assert status["steps"] == len(steps) > 10
    assert status["misses"] == 1 and status["degraded"] == len(steps) - 1
    assert status["refined"] == 0  # a refinement (240 ms) never fits the 176 ms left
    stats = core.stats()
    assert stats["misses"] == 1 and stats["steps_complete"] == stats["steps"]
    # Samples past the deadline (rounded up from a float time difference: ±1).
    assert core.steps[0].miss_late == pytest.approx(round(0.16 * RATE) - 2822, abs=1)
    assert stats["latency_p50_ms"] == pytest.approx(80.0)


def test_simulated_latency_misses_every_immediate_step() -> None:
    # w = 0: the region starts at the capture point, so a call of 0.6 hop is late by 0.6 hop
    # every time (and never piles up: the next step is due a whole hop later).
    per_call = 0.6 * TINY_HOP_SECONDS
    core, steps, status = calls_and_status(Latency(per_call=per_call), w=0)
    assert status["misses"] == status["steps"] == len(steps) > 10
    assert steps[0] == 2 and set(steps[1:]) == {1}  # no time left: the least quality
    assert status["superseded"] == 0
    # Every step the client planned is late by exactly the call's time. (The server also
    # runs a few steps past the end of the capture, started by its watchdog 20 ms late.)
    planned = {p.step for p in core.plan()}
    assert {core.steps[k].miss_late for k in planned} == {math.ceil(per_call * RATE)}
    assert core.stats()["misses"] == status["misses"]  # each one reported to the client
    assert status["slack_p50_ms"] == pytest.approx(-per_call * 1e3, abs=1e-3)


def test_latency_jitter_is_seeded() -> None:
    def run(seed: int) -> list[int]:
        recorder = RecordingGenerator(TinyClickTrack())
        sim = Simulation(recorder, latency=Latency(per_call=0.07, jitter=0.04), seed=seed)
        settings = ClientSettings(r=0.25, w=1, stems=("drums",), realtime=True, steps=2)
        core = sim.run([SimClient(np.zeros(RATE, np.float32), RATE, settings)])[0]
        return [core.stats()["misses"], *[c.requests[0][1] for c in recorder.calls]]

    assert run(1) == run(1)
    assert any(run(1) != run(s) for s in (2, 3, 4))


def test_lossy_link_gives_silence_and_counted_losses() -> None:
    period = 100
    n = 3 * RATE
    link = dict(up=Impairment(loss=0.05), down=Impairment(loss=0.1, duplicate=0.05))

    def run(seed: int, realtime: bool):
        settings = ClientSettings(r=0.25, w=1, stems=("drums",), realtime=realtime,
                                  datagram=1024)
        return Simulation(TinyClickTrack(period=period)).run(
            [SimClient(np.zeros(n, np.float32), RATE, settings, link_seed=seed, **link)])[0]

    for realtime in (False, True):
        core = run(7, realtime)
        stats = core.stats()
        writer = core.writers["drums"]
        hits = np.flatnonzero(writer.buffer)
        grid = np.arange(0, n, period)
        # Nothing shifted, and exactly the delivered chunks sound: lost output is silence.
        assert hits.tolist() == grid[writer.covered[grid]].tolist()
        expected = np.zeros(n, bool)
        for p in core.plan():
            expected[max(0, p.out_start):min(p.region[1], n)] = True
        lost = int(np.count_nonzero(expected & ~writer.covered))
        assert lost > 0 and stats["lost_chunks"] > 0 and stats["duplicate_chunks"] > 0
        assert stats["server_status"]["lost_in"] > 0  # the uplink lost audio too
        # Every expected chunk either arrived or is counted as lost.
        assert stats["chunks_received"] + stats["lost_chunks"] >= stats["chunks_expected"]
        again = run(7, realtime)
        np.testing.assert_array_equal(again.writers["drums"].buffer, writer.buffer)
        other = run(8, realtime)
        assert not np.array_equal(other.writers["drums"].covered, writer.covered)


def test_transport_updates_reach_the_model_through_the_protocol() -> None:
    recorder = RecordingGenerator(TinyClickTrack())
    updates = (TransportUpdate(at=0, bpm=120.0, beat_position=0, beats_per_bar=4),
               TransportUpdate(at=10000, bpm=121.0, beat_position=10000, beats_per_bar=4,
                               beat_in_bar=1))
    settings = ClientSettings(r=0.25, w=1, stems=("drums",), realtime=False)
    core = Simulation(recorder).run([SimClient(np.zeros(30000, np.float32), RATE, settings,
                                               transport=updates)])[0]
    assert core.acks["transport"] == (121.0, 10000, 4, 1)
    seen = [(call.requests[0][0], call.transports[0]) for call in recorder.calls]
    hop = 4096  # r = 0.25 of the tiny click track's 16384-sample window
    for step, transport in seen:
        capture = step * hop
        expected = updates[1] if capture >= 10000 else updates[0]
        assert transport == Transport(expected.bpm, expected.beat_position,
                                      expected.beats_per_bar, expected.beat_in_bar)


def test_simulation_refuses_what_it_cannot_simulate() -> None:
    fast = ClientSettings(realtime=False)
    with pytest.raises(ValueError, match="only matters in real time"):
        Simulation(TinyClickTrack(), latency=Latency(per_call=0.1)).run(
            [SimClient(np.zeros(1000, np.float32), RATE, fast)])
    with pytest.raises(ValueError, match="share realtime"):
        Simulation(TinyClickTrack()).run(
            [SimClient(np.zeros(1000, np.float32), RATE, fast),
             SimClient(np.zeros(1000, np.float32), RATE, ClientSettings(realtime=True))])
    with pytest.raises(ValueError, match="jitter needs a mean"):
        Latency(jitter=0.01)
    with pytest.raises(ValueError, match="measured latency takes no"):
        Latency(per_call=0.1, measured=2.0)
