"""Units of the server: the input ring, the clock estimate, the cost model, the allowlist,
the metrics endpoint, positions out of range."""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest

from sideman.server import osc, protocol
from sideman.server.app import Server, ServerConfig
from sideman.server.clock import ManualClock
from sideman.server.protocol import ErrorCode
from sideman.server.scheduler import CostModel, choose_num_steps
from sideman.server.session import ClientClockEstimate, InputBuffer, PositionError
from sideman.server.telemetry import MetricsServer
from sideman.server.testing import TinyClickTrack


def test_input_ring_counts_new_duplicate_late_and_lost() -> None:
    ring = InputBuffer(1000)
    r = ring.write(0, np.ones(100, np.float32))
    assert (r.new, r.duplicate, r.late) == (100, 0, 0)
    r = ring.write(50, np.full(100, 2.0, np.float32))  # half of it again
    assert (r.new, r.duplicate) == (50, 50)
    np.testing.assert_array_equal(ring.read(40, 60), [1.0] * 10 + [1.0] * 10)  # not re-applied
    ring.write(200, np.ones(100, np.float32))  # [150, 200) never arrives
    assert not ring.complete(0, 300) and ring.complete(0, 150)
    assert ring.consume(300) == 50  # lost when its step ran
    r = ring.write(150, np.ones(60, np.float32))  # arrives late: 50 late, 10 duplicates
    assert (r.new, r.late, r.duplicate) == (50, 50, 10)
    np.testing.assert_array_equal(ring.read(-5, 0), np.zeros(5))  # before 0: silence


def test_input_ring_is_bounded() -> None:
    ring = InputBuffer(1000)
    ring.write(0, np.ones(900, np.float32))
    with pytest.raises(PositionError, match="too far ahead"):
        ring.write(950, np.ones(100, np.float32))
    with pytest.raises(PositionError, match="negative"):
        ring.write(-1, np.ones(10, np.float32))
    ring.consume(800)
    ring.release(700)
    assert ring.base == 700
    ring.write(950, np.ones(100, np.float32))  # fits now: the ring wrapped
    np.testing.assert_array_equal(ring.read(690, 710), [0.0] * 10 + [1.0] * 10)
    r = ring.write(100, np.ones(10, np.float32))  # long gone: counted late, not stored
    assert (r.new, r.late, r.too_old) == (0, 10, 10)


def test_clock_estimate_takes_the_least_delayed_arrival() -> None:
    clock = ClientClockEstimate(1000, window=10.0)
    clock.observe(1.05, 1000)  # 50 ms of network delay
    clock.observe(2.01, 2000)  # 10 ms
    clock.observe(3.20, 3000)  # a late burst
    assert clock.origin == pytest.approx(0.01)
    assert clock.position_at(4.01) == pytest.approx(4000)
    assert clock.time_of(5000) == pytest.approx(5.01)
    clock.observe(9.0, 8950)  # within the window a larger delay does not move the origin
    assert clock.origin == pytest.approx(0.01)
    clock.observe(20.0, 19950)  # the client clock drifted 40 ms; the old minimum has expired
    assert clock.origin == pytest.approx(0.05)


def test_cost_model_fits_fixed_plus_per_step() -> None:
    cost = CostModel()
    assert choose_num_steps(8, 0.001, cost) == 8  # nothing known yet: full quality
    cost.observe(4, 0.4)
    assert cost.predict(2) == pytest.approx(0.2)  # one size seen: proportional
    for steps in (1, 2, 4, 8):
        cost.observe(steps, 0.1 + 0.05 * steps)
    cost = CostModel()
    for steps in (1, 2, 4, 8):
        cost.observe(steps, 0.1 + 0.05 * steps)
    assert cost.coefficients() == pytest.approx((0.1, 0.05))
    assert choose_num_steps(8, 0.5, cost) == 7
    assert choose_num_steps(8, 0.01, cost) == 1
    assert choose_num_steps(8, float("inf"), cost) == 8
    # Several stems in one call: until a call of several items is seen, each item costs as
    # much as one call alone (a CPU); then the fit's batch slope is what one more item adds.
    assert cost.batch_slope() == CostModel.PRIOR_SLOPE == 1.0
    assert cost.predict(2, items=3) == pytest.approx(3 * 0.2)
    assert choose_num_steps(8, 0.51, cost, items=2) == 3  # 2 x (0.1 + 0.05 x 3) = 0.5
    cost.observe(2, 0.2 * 1.25, items=2)
    cost.observe(2, 0.2 * 1.75, items=4)
    assert cost.batch_slope() == pytest.approx(0.25)
    assert cost.coefficients() == pytest.approx((0.1, 0.05))  # one-item calls only
    assert cost.predict(4, items=5) == pytest.approx(0.3 * 2.0)
    # Only calls of several items: their time scaled back to one item by the prior slope.
    batched = CostModel()
    for steps in (1, 2, 4):
        batched.observe(steps, 2 * (0.1 + 0.05 * steps), items=2)
    assert batched.coefficients() == pytest.approx((0.1, 0.05))
    assert batched.predict(1, items=2) == pytest.approx(0.3)


def test_allowlist_and_loopback() -> None:
    sent: list[tuple[bytes, tuple[str, int]]] = []
    server = Server(TinyClickTrack(), ServerConfig(allow=("192.168.1.0/24",), log_interval=0),
                    clock=ManualClock(), send=lambda p, to: sent.append((p, to)))
    for host in ("127.0.0.1", "192.168.1.77", "10.0.0.1", "192.168.2.1"):
        server.handle_datagram(protocol.encode_ping(1), (host, 5000))
    assert [to[0] for _, to in sent] == ["127.0.0.1", "192.168.1.77"]
    assert server.counters.not_allowed == 2
    with pytest.raises(ValueError, match="not a network"):
        ServerConfig(allow=("everyone",))


def test_audio_too_far_ahead_is_refused_and_rate_limited() -> None:
    clock = ManualClock()
    sent: list[bytes] = []
    server = Server(TinyClickTrack(), ServerConfig(log_interval=0), clock=clock,
                    send=lambda p, _: sent.append(p))
    client = ("127.0.0.1", 4000)
    server.handle_datagram(protocol.encode_hello(44100, 1, "x"), client)
    welcome = osc.decode(sent[0], max_size=65536).messages[0]
    session, token = welcome.args[0], welcome.args[1]
    assert 1 <= session < 2**24  # Pd's float32 numbers carry it exactly
    sent.clear()
    for _ in range(3):
        server.handle_datagram(protocol.encode_audio(session, token, 10**7,
                                                     np.ones(10, np.float32)), client)
    errors = [osc.decode(p, max_size=65536).messages[0] for p in sent]
    assert len(errors) == 1 and errors[0].args[1] == ErrorCode.POSITION
    assert "too far ahead" in errors[0].args[2]
    assert server.status(session)["rejected"] == 3


def test_metrics_endpoint() -> None:
    server = Server(TinyClickTrack(), ServerConfig(log_interval=0), clock=ManualClock())
    server.handle_datagram(b"\x00\x01", ("127.0.0.1", 1))
    metrics = MetricsServer("127.0.0.1", 0, server.metrics_text)
    metrics.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics.port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        metrics.stop()
    assert "sideman_datagrams_in_total 1" in text
    assert 'sideman_malformed_total{reason="alignment"} 1' in text
    assert "# TYPE sideman_sessions gauge" in text


def test_warmup_calibrates_the_cost_model() -> None:
    from sideman.eval.latency import SimulatedModel

    clock = ManualClock()
    server = Server(SimulatedModel.on_clock(TinyClickTrack(), clock, per_call=0.01, per_step=0.03),
                    ServerConfig(log_interval=0), clock=clock)
    timings = server.engine.warmup()
    # A one-item call costs the same whatever the stems: batch_slope 0, like an idle GPU.
    assert timings == pytest.approx({"2 steps": 0.07, "1 step": 0.04, "1 step, 2 stems": 0.04})
    assert server.engine.cost.coefficients() == pytest.approx((0.01, 0.03))
    assert server.engine.cost.batch_slope() == pytest.approx(0.0)
    cpu_clock = ManualClock()
    cpu = Server(SimulatedModel.on_clock(TinyClickTrack(), cpu_clock, per_call=0.01, per_step=0.03,
                                  batch_slope=1.0), ServerConfig(log_interval=0), clock=cpu_clock)
    assert cpu.engine.warmup()["1 step, 2 stems"] == pytest.approx(0.08)
    assert cpu.engine.cost.batch_slope() == pytest.approx(1.0)
    assert cpu.engine.cost.predict(2, items=3) == pytest.approx(3 * 0.07)


def test_metrics_and_log_line_report_per_session_stages() -> None:
    from sideman.server.telemetry import (
        ServerCounters,
        SessionTelemetry,
        StepTiming,
        log_line,
        prometheus_text,
    )

    def timing(step: int, sample: float, slack: float | None) -> StepTiming:
        return StepTiming(step=step, num_steps=2, batch=1, wait=0.001, encode=0.002,
                          sample=sample, decode=0.003, send=0.0005,
                          total=0.0065 + sample, slack=slack)

    counters = ServerCounters(steps=3, misses=1, datagrams_in=40, datagrams_out=30)
    fast, slow = SessionTelemetry(), SessionTelemetry()
    for t in (timing(0, 0.1, 0.5), timing(1, 0.3, -0.02)):
        slow.record(t)
        counters.timings.append(t)
    fast.record(timing(0, 0.01, None))
    counters.timings.append(timing(0, 0.01, None))
    text = prometheus_text(counters, {3: slow, 7: fast}, queue=2)
    assert 'sideman_session_stage_seconds{session="3",stage="sample",quantile="0.50"} 0.2' \
        in text
    assert 'sideman_session_stage_seconds{session="7",stage="sample",quantile="0.95"} 0.01' \
        in text
    assert 'sideman_session_stage_seconds{session="7",stage="total",quantile="0.50"} 0.0165' \
        in text
    assert "sideman_batch_deferred_total 0" in text and "sideman_queue 2" in text
    line = log_line(counters, sessions=2, queue=2)
    assert line.startswith("sessions=2 queue=2 steps=3 misses=1 ")
    assert "rx=40 tx=30" in line and "step_p50=106.5ms" in line and "slack_p50=240.0ms" in line
