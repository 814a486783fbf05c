"""The whole live path on loopback UDP: clicks come back aligned to the sample."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sideman.client import ClientError, ClientSettings, RunOptions, StreamClient, run_client
from sideman.models.clicktrack import ClickTrack
from sideman.models.geometry import ClockMap, Geometry
from sideman.server.testing import ModelClockClicks, TinyClickTrack, live_server

PERIOD = 4410
FAST = RunOptions(fast=True, pings=2)


def noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def assert_clicks(core: StreamClient, stem: str, period: int) -> None:
    """Every nonzero sample is a click on the period grid; every click of every region the
    client received is there, at full height wherever the previous region was received."""
    buffer = core.writers[stem].buffer
    hits = np.flatnonzero(buffer)
    assert np.all(hits % period == 0), f"off-grid samples at {hits[hits % period != 0][:5]}"
    plan = core.plan()
    first = plan[0]
    # From the first region's start to the end, every click is there at exactly 1.0.
    grid = np.arange(-(-first.region[0] // period) * period, len(buffer), period)
    assert grid.size > 0
    np.testing.assert_array_equal(buffer[grid], 1.0)
    # Before the first region only its crossfade may hold (partial) clicks.
    head = np.flatnonzero(buffer[:max(0, first.out_start)])
    assert head.size == 0


def expected_steps(core: StreamClient) -> None:
    stats = core.stats()
    assert stats["steps"] == stats["steps_complete"] > 0
    assert stats["lost_chunks"] == stats["duplicate_chunks"] == stats["misses"] == 0
    assert stats["server_status"]["steps"] == stats["steps"]
    assert stats["server_status"]["lost_in"] == 0


VALID = [(r, w) for r in (0.125, 0.25, 0.5) for w in (-1, 0, 1, 2) if (w + 2) * r <= 1]
INVALID = [(r, w) for r in (0.125, 0.25, 0.5) for w in (-1, 0, 1, 2) if (w + 2) * r > 1]


@pytest.fixture(scope="module")
def clicktrack_server():
    with live_server(ClickTrack(period=PERIOD)) as (server, address):
        yield server, address


@pytest.mark.parametrize(("r", "w"), VALID)
def test_clicktrack_aligned_for_every_r_and_w(clicktrack_server, r: float, w: int) -> None:
    _server, address = clicktrack_server
    # Enough audio for three hops at r = 0.5 (a hop is 131072 samples), not on the grid.
    audio = noise(3 * 131072 + 4321)
    core = run_client(audio, 44100, ClientSettings(r=r, w=w, realtime=False), address,
                      options=FAST)
    assert core.writers["drums"].buffer.shape == audio.shape
    assert_clicks(core, "drums", PERIOD)
    expected_steps(core)
    first = core.plan()[0]
    hop = int(r * 262144)
    # The first step is k = 0 (k = 1 for w = -1, whose step 0 region ends at 0).
    assert first.region == (max(0, w) * hop, max(0, w) * hop + hop)


@pytest.mark.parametrize(("r", "w"), INVALID)
def test_impossible_lookahead_is_refused_naming_the_range(clicktrack_server, r: float,
                                                          w: int) -> None:
    _, address = clicktrack_server
    with pytest.raises(ClientError) as info:
        run_client(noise(1000), 44100, ClientSettings(r=r, w=w, realtime=False), address,
                   options=FAST)
    text = str(info.value)
    assert "(w+2)*r <= 1" in text or "allowed -1 ... " in text, text


@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_clicktrack_in_real_time() -> None:
    # A short window (16384 samples) so real time takes about a second and a half.
    generator = TinyClickTrack(period=441)
    with live_server(generator) as (_server, address):
        core = run_client(noise(44100), 44100, ClientSettings(r=0.25, w=1, stems=("bass",)),
                          address, options=RunOptions(pings=2))
    buffer = core.writers["bass"].buffer
    hits = np.flatnonzero(buffer)
    assert hits.size and np.all(hits % 441 == 0)
    stats = core.stats()
    status = stats["server_status"]
    # The watchdog keeps stepping while the client plays out its last region, so the server
    # may run a few steps past the input; the client's planned steps all ran or were dropped.
    assert status["steps"] + status["superseded"] >= stats["steps"]
    assert stats["steps_complete"] + stats["superseded"] + stats["steps_lost"] == stats["steps"]
    assert stats["superseded"] <= status["superseded"]
    assert stats["misses"] == status["misses"]
    # Clicks are missing only inside regions the server reported as superseded.
    superseded = [p for p in core.plan() if core.steps.get(p.step) and
                  core.steps[p.step].superseded]
    first = core.plan()[0].region[0]
    for click in range(-(-first // 441) * 441, len(buffer), 441):
        if buffer[click] == 0:
            assert any(p.region[0] - 256 <= click < p.region[1] for p in superseded), click


@pytest.mark.parametrize(("model_rate", "client_rate"), [(22050, 44100), (44100, 48000)])
def test_model_clock_differs_from_client_clock(model_rate: int, client_rate: int) -> None:
    """Clicks every 0.1 s of the model clock land on every 0.1 s of the client clock, and the
    regions tile the client timeline exactly as ClockMap says."""
    generator = ModelClockClicks(model_rate=model_rate, period=model_rate // 10)
    with live_server(generator) as (_server, address):
        core = run_client(noise(client_rate * 2), client_rate,
                          ClientSettings(r=0.25, w=1, stems=("drums",), realtime=False),
                          address, options=FAST)
    expected_steps(core)
    g = Geometry(sample_rate=model_rate, hop_length=64, window_frames=256, hop_frames=64,
                 lookahead=1)
    cm = ClockMap(model_rate=model_rate, client_rate=client_rate)
    previous_end = None
    for p in core.plan():
        a, b = cm.client_span(*g.region(p.step))
        assert p.region == (a, b)
        assert core.spans[("drums", p.step, 1)] == (max(0, a - 256), b)
        if previous_end is not None:
            assert a == previous_end
        previous_end = b
    buffer = core.writers["drums"].buffer
    period = client_rate // 10
    start = core.plan()[0].region[0]
    body = buffer[start:]
    peaks = [i for i in range(1, len(body) - 1)
             if body[i] > 0.8 and body[i] >= body[i - 1] and body[i] >= body[i + 1]]
    grid = [c - start for c in range(-(-start // period) * period, len(buffer) - 1, period)]
    assert peaks == grid


def test_two_concurrent_clients_do_not_disturb_each_other() -> None:
    generator = ClickTrack(period=PERIOD)
    settings_a = ClientSettings(r=0.125, w=1, stems=("drums",), xfade=256, realtime=False)
    settings_b = ClientSettings(r=0.25, w=2, stems=("bass", "piano"), xfade=1024,
                                datagram=1500, seed=7, realtime=False)
    results: dict[str, StreamClient] = {}
    errors: list[BaseException] = []
    with live_server(generator) as (_server, address):
        def go(name: str, settings: ClientSettings, n: int) -> None:
            try:
                results[name] = run_client(noise(n, seed=len(name)), 44100, settings, address,
                                           options=FAST, name=name)
            except BaseException as exc:  # surfaced below
                errors.append(exc)
        threads = [threading.Thread(target=go, args=("a", settings_a, 300000)),
                   threading.Thread(target=go, args=("bb", settings_b, 350000))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors, errors
    a, b = results["a"], results["bb"]
    assert len(a.writers["drums"].buffer) == 300000
    assert len(b.writers["bass"].buffer) == 350000
    assert_clicks(a, "drums", PERIOD)
    assert_clicks(b, "bass", PERIOD)
    assert_clicks(b, "piano", PERIOD)
    expected_steps(a)
    expected_steps(b)
    assert a.stats()["server_status"]["r"] == 0.125 and a.stats()["server_status"]["w"] == 1
    assert b.stats()["server_status"]["r"] == 0.25 and b.stats()["server_status"]["w"] == 2
    # Each session got its own geometry: hops of 32768 and 65536 samples, its own crossfade.
    assert {p.region[1] - p.region[0] for p in a.plan()} == {32768}
    assert {p.region[1] - p.region[0] for p in b.plan()} == {65536}
    for p in b.plan():
        assert b.spans[("piano", p.step, 1)][0] == max(0, p.region[0] - 1024)
