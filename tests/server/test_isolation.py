"""One session must not hurt another (issue 15): isolated model calls, positions past 2**31,
per-session queues, fair scheduling, budgets that hold.

Socket-free: the server runs on a ManualClock (app.py's offline driving), so nothing here
depends on how fast or busy the test machine is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from sideman.eval.latency import SimulatedModel
from sideman.models.base import Generator, GeneratorError, StepRequest, StepResult, StreamState
from sideman.server import osc, protocol
from sideman.server.app import ServerConfig
from sideman.server.clock import ManualClock
from sideman.server.protocol import ErrorCode
from sideman.server.testing import (
    ModelClockClicks,
    RecordingGenerator,
    ServerHarness,
    TinyClickTrack,
)

RATE = 44100
HOP = 4096  # r = 0.25 of TinyClickTrack's 256 x 64-sample window
PACKET = 1024
A, B, C = ("127.0.0.1", 2001), ("127.0.0.1", 2002), ("127.0.0.1", 2003)


class StrictGenerator(Generator):
    """Fails a whole call when any of its requests has a non-finite mixture or a seed of
    666 (as a real network fails a batch on one bad input)."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.info = inner.info
        self.calls: list[int] = []

    def new_stream(self) -> StreamState:
        return self.inner.new_stream()

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        self.calls.append(len(requests))
        for r in requests:
            if not np.all(np.isfinite(r.mixture)):
                raise GeneratorError("non-finite input")
            if r.seed == 666:
                raise GeneratorError("poisoned request")
        return self.inner.generate(requests)


# -- 1. isolated model calls ---------------------------------------------------------------
def test_huge_samples_stay_finite_after_resampling() -> None:
    # 1e38 is finite in float32 but overflows in the resampler's filter: the model would see
    # inf and fail the call of every session in it.
    model = StrictGenerator(ModelClockClicks())
    h = ServerHarness(model)
    h.open(A, realtime=0)
    h.open(B, realtime=0)
    h.audio(A, 0, 2 * HOP, value=1e38)
    h.audio(B, 0, 2 * HOP)
    h.run()
    assert h.errors(A) == [] and h.errors(B) == []
    assert {c.step for c in h.chunks(B)} >= {0, 1}
    assert {c.step for c in h.chunks(A)} >= {0, 1}


def test_a_geometry_the_clients_rate_cannot_resample_is_refused_at_set() -> None:
    # At 44.1 kHz on a 22.05 kHz model, r = 1 leaves no room before the region for the
    # resampler's margin: refused when set, not acknowledged and then failed by every step.
    h = ServerHarness(StrictGenerator(ModelClockClicks()))
    h.open(A, w=-1)
    acks = len(h.messages(A, protocol.ACK))
    h.call(A, protocol.SET, "r", 1.0)
    assert [code for code, _ in h.errors(A)] == [ErrorCode.BAD_VALUE]
    assert "smaller r" in h.errors(A)[0][1]
    assert len(h.messages(A, protocol.ACK)) == acks
    # The session still works with what it had.
    h.call(A, protocol.SET, "realtime", 0)
    h.audio(A, 0, 2 * HOP)
    h.run()
    assert [code for code, _ in h.errors(A)] == [ErrorCode.BAD_VALUE]
    assert h.chunks(A)


def test_one_request_the_model_fails_does_not_fail_the_others_in_its_call() -> None:
    model = StrictGenerator(TinyClickTrack())
    h = ServerHarness(model)
    h.open(A, realtime=0, seed=666)
    h.open(B, realtime=0)
    h.open(C, realtime=0)
    for client in (A, B, C):
        h.audio(client, 0, HOP)  # steps 0 and 1 of each session
    h.run()
    assert max(model.calls) == 3  # they were batched
    assert h.errors(B) == [] and h.errors(C) == []
    assert {c.step for c in h.chunks(B)} == {0, 1} == {c.step for c in h.chunks(C)}
    assert [code for code, _ in h.errors(A)] == [ErrorCode.MODEL] * 2
    assert h.server.counters.model_errors == 2


# -- 5. positions past 2**31 and housekeeping ---------------------------------------------
def fast_forward(h: ServerHarness, client: tuple[str, int], position: int) -> None:
    """Put a fresh session's input and step grid at ``position`` (a multiple of HOP), as if
    it had streamed that long (hours of audio in no time)."""
    session = h.server.sessions[h.ids[client][0]]
    inp = session._input
    inp.base = inp.high = inp.used_upto = position
    sched = session._scheduler
    sched.next_grid = position // HOP
    sched.offset = 0
    sched.last_step = sched.next_grid - 1
    sched.scheduled_capture = position


def test_wire_positions_wrap_at_int32_and_unwrap_against_the_session() -> None:
    assert protocol.wire32(2**31) == -(2**31)
    assert protocol.wire32(2**32 + 5) == 5
    assert protocol.unwrap_position(-5, 0) == -5  # still refused as negative
    assert protocol.unwrap_position(protocol.wire32(2**31 + 100), 2**31 - 4096) == 2**31 + 100
    assert protocol.unwrap_position(protocol.wire32(2**32 + 7), 2**32) == 2**32 + 7
    assert protocol.unwrap_position(2**40, 0) == 2**40  # an int64 position is taken as is
    mark = protocol.parse_request(osc.Message(protocol.MARK, "ish", (1, "t" * 16, 2**40)))
    assert isinstance(mark, protocol.Mark) and mark.position == 2**40
    miss = osc.decode(protocol.encode_miss(1, 2**31 + 1, 2**33 + 3, 2**40, "late"),
                      max_size=512).messages[0]
    assert miss.args[1:4] == (-(2**31) + 1, 3, 2**31 - 1)


def test_the_reference_client_streams_across_2_to_the_31() -> None:
    # The reference client's own messages against a session 13.5 h in: its audio and marks
    # go out wrapped to int32, and it unwraps the chunks' steps and positions against its
    # own position, as the server does (before: encoding position 2**31 raised).
    from sideman.client import ClientSettings, StreamClient

    h = ServerHarness(TinyClickTrack())
    h.open(A, realtime=0)
    start = 2**31 - 2 * HOP
    fast_forward(h, A, start)
    client = StreamClient(ClientSettings(stems=("drums",), r=0.25, w=1), RATE, HOP)
    for payload, to in h.sent:  # welcome, allowed lists, acks
        if to == A:
            client.on_datagram(payload, 0.0)
    assert client.session == h.ids[A][0]
    h.sent.clear()
    for hop in range(5):
        position = start + hop * HOP
        for payload in client.audio_messages(position, np.zeros(HOP, np.float32), PACKET):
            h.server.handle_datagram(payload, A)
        h.server.handle_datagram(client.mark(position + HOP), A)
        client.captured((position + HOP) // HOP, 0.0)
        h.run()
    for payload, to in h.sent:
        if to == A:
            client.on_datagram(payload, 1.0)
    assert h.errors(A) == [] and client.errors == []
    assert client.counts["foreign"] == client.counts["undecodable"] == 0
    spans = {step: span for (_, step, _), span in client.spans.items()}
    assert len(spans) >= 4 and min(spans) >= start // HOP
    # Every chunk lands at its step's region on the 64-bit clock, past 2**31 for the later
    # steps (a client that did not unwrap would place them 2**32 samples too early).
    for step, (lo, hi) in spans.items():
        assert lo == (step + 1) * HOP - 256 and hi == (step + 2) * HOP, (step, lo, hi)
    assert max(hi for _, hi in spans.values()) > 2**31


def test_a_session_streams_across_2_to_the_31() -> None:
    h = ServerHarness(TinyClickTrack())
    h.open(A, realtime=0)
    start = 2**31 - 2 * HOP
    fast_forward(h, A, start)
    for hop in range(5):
        position = start + hop * HOP
        for offset in range(0, HOP, PACKET):  # int32 on the wire, wrapping past 2**31
            h.call(A, protocol.AUDIO, protocol.wire32(position + offset),
                   np.zeros(PACKET, np.float32))
        h.call(A, protocol.MARK, protocol.wire32(position + HOP))
        h.run()
    h.call(A, protocol.STATUS)
    assert h.errors(A) == []
    chunks = h.chunks(A)
    steps = sorted({c.step for c in chunks})
    assert len(steps) >= 5
    # Chunk positions are the wrapped absolute positions: a client unwraps them like the
    # server does.
    wrapped = [c for c in chunks if c.position < 0]
    assert wrapped and all(
        protocol.unwrap_position(c.position, 2**31) >= 2**31 for c in wrapped)
    status = protocol.status_dict(h.messages(A, protocol.STATUS)[-1])
    assert status["model_errors"] == 0
    assert h.server.counters.session_faults == 0


@pytest.mark.parametrize(("bits", "start", "hops"), [
    (18, 0, 200),                       # 2**18 = 64 hops: three wraps from the start
    (23, 2 * 2**23 - 3 * HOP, 8),       # Pd's setting, across its second wrap
    (24, 3 * 2**24 - 3 * HOP, 8),
])
def test_a_wrapped_session_streams_across_its_wraps(bits: int, start: int, hops: int) -> None:
    """Issue 14: with ``set wrap bits`` (Pd's float32 numbers), positions go modulo 2**bits
    both ways; the server unwraps the client's against the session and nothing is lost: every
    input sample reaches the model where it was captured, every step's chunks unwrap to its
    region. Realtime 0 on a manual clock: socket-free and independent of machine speed."""
    recorder = RecordingGenerator(TinyClickTrack())
    h = ServerHarness(recorder)
    h.open(A, realtime=0, wrap=bits)
    assert [m.args[2] for m in h.messages(A, protocol.ACK) if m.args[1] == "wrap"] == [32, bits]
    if start:
        fast_forward(h, A, start)
    half = 2 ** (bits - 1)
    for hop in range(hops):
        position = start + hop * HOP
        for offset in range(0, HOP, PACKET):  # sent modulo 2**bits, as a Pd patch counts
            h.call(A, protocol.AUDIO, (position + offset) % 2**bits,
                   np.full(PACKET, (position + offset) // PACKET % 1000 / 1000, np.float32))
        h.call(A, protocol.MARK, (position + HOP) % 2**bits)
        h.run()
    end = start + hops * HOP
    assert end // 2**bits - start // 2**bits >= 1  # it crossed a wrap
    h.call(A, protocol.STATUS)
    assert h.errors(A) == []
    status = protocol.status_dict(h.messages(A, protocol.STATUS)[-1])
    for key in ("lost_in", "late_in", "dup_in", "rejected", "misses", "superseded",
                "model_errors"):
        assert status[key] == 0, (key, status)
    # The model heard every sample at its 64-bit position (steps whose window lies in the
    # streamed span; the window ends with the region, silent from the capture point on).
    heard = 0
    for call in recorder.calls:
        for (step, _n, _stems, region), mixture in zip(call.requests, call.mixtures,
                                                        strict=True):
            capture = region[0] - HOP
            if region[1] - 16384 < start or capture > end:
                continue
            positions = np.arange(region[1] - 16384, region[1])
            expected = (positions // PACKET % 1000 / 1000).astype(np.float32)
            expected[positions >= capture] = 0.0
            np.testing.assert_array_equal(mixture, expected, err_msg=f"step {step}")
            heard += 1
    assert heard >= hops - 4
    # Every step's chunks come modulo 2**bits and unwrap, against the client's position when
    # they arrive, to the step's region [(k + 1) H - xfade, (k + 2) H), whole and in order.
    chunks = h.chunks(A)
    assert all(-half <= v < half for c in chunks for v in (c.start, c.position))
    spans: dict[int, list[int]] = {}
    for c in chunks:
        capture = (c.step + 1) * HOP  # the client had sent up to here when this step ran
        lo = protocol.unwrap_position(c.start, capture, bits)
        at = protocol.unwrap_position(c.position, capture, bits)
        span = spans.setdefault(c.step, [lo, lo])
        assert at == span[1], (c.step, c.index, at, span)
        span[1] = at + len(c.samples)
    steps = sorted(spans)
    assert steps == list(range(steps[0], steps[-1] + 1)) and len(steps) >= hops
    for step, (lo, hi) in spans.items():
        assert (lo, hi) == ((step + 1) * HOP - 256, (step + 2) * HOP), step


def test_a_wrap_too_small_for_the_session_is_refused() -> None:
    # TinyClickTrack at 44.1 kHz holds 3 x 16384 + 44100 = 93252 samples: half a wrap must
    # cover that (and the output delay), or a wrapped position could stand for two.
    h = ServerHarness(TinyClickTrack())
    h.open(A)
    h.call(A, protocol.SET, "wrap", 17)
    assert h.errors(A)[-1][0] == ErrorCode.BAD_VALUE and "allowed wrap 18 ... 32" in \
        h.errors(A)[-1][1]
    h.call(A, protocol.SET, "wrap", 18)
    assert len(h.errors(A)) == 1
    h.call(A, protocol.SET, "delay", 44100)  # 93252 + 44100 > 2**17
    assert len(h.errors(A)) == 2 and "wrap=18 with delay=44100" in h.errors(A)[-1][1]


def test_one_sessions_housekeeping_error_does_not_stop_the_others(caplog) -> None:
    h = ServerHarness(TinyClickTrack(), ServerConfig(log_interval=0, idle_timeout=5.0))
    h.open(A)
    h.open(B)
    h.open(C)
    broken = h.server.sessions[h.ids[A][0]]

    def explode(now: float, grace: float) -> list:
        raise RuntimeError("boom")

    broken._scheduler.poll = explode  # type: ignore[method-assign]
    h.clock.advance(1.0)
    for _ in range(100):
        h.clock.advance(0.001)
        h.server.tick()
    # C stays quiet and is expired, B keeps itself alive: both handled after A failed.
    for _ in range(60):
        h.clock.advance(0.1)
        h.call(B, protocol.STATUS)
        h.server.tick()
    assert h.ids[C][0] not in h.server.sessions
    assert h.ids[B][0] in h.server.sessions
    assert h.server.counters.session_faults >= 100
    errors = [r for r in caplog.records if "housekeeping of session" in r.getMessage()]
    assert 1 <= len(errors) <= 2


# -- 4. per-session queue limits ----------------------------------------------------------
def test_one_sessions_backlog_never_supersedes_another_sessions_steps() -> None:
    h = ServerHarness(TinyClickTrack())
    h.open(B, realtime=0)
    h.open(A, realtime=0, r=1 / 256)  # one latent frame (64 samples) per step
    h.audio(B, 0, HOP)  # B: steps 0 and 1 queued
    assert h.server.engine.pending_for(h.ids[B][0]) == 2
    # A: one mark at the edge of its input makes hundreds of steps ready at once.
    limit = h.server.sessions[h.ids[A][0]]._input.capacity
    for _ in range(3):
        h.call(A, protocol.MARK, limit)
    assert h.server.engine.pending_for(h.ids[B][0]) == 2
    assert h.server.engine.pending_for(h.ids[A][0]) == \
        h.server.config.max_queue_per_session
    h.run()
    assert h.messages(B, protocol.MISS) == []
    assert {c.step for c in h.chunks(B)} == {0, 1}
    assert {m.args[4] for m in h.messages(A, protocol.MISS)} == {"superseded"}


# -- 3. fair scheduling -------------------------------------------------------------------
def test_a_hop_shorter_than_one_model_call_is_refused_live() -> None:
    clock = ManualClock()
    model = SimulatedModel.on_clock(TinyClickTrack(), clock, per_call=0.002, per_step=0.001,
                             batch_slope=1.0)
    h = ServerHarness(model, clock=clock)
    h.server.engine.warmup()
    h.open(A)
    h.call(A, protocol.SET, "r", 1 / 256)  # 1.5 ms hops, 3 ms per call
    assert [code for code, _ in h.errors(A)] == [ErrorCode.BAD_VALUE]
    assert "choose r >= 0.0117188" in h.errors(A)[0][1]  # 3 frames
    h.call(A, protocol.SET, "r", 4 / 256)
    assert len(h.errors(A)) == 1
    h.call(A, protocol.SET, "stems", "drums", "bass")  # 6 ms per call: too much
    assert len(h.errors(A)) == 2
    h.call(A, protocol.SET, "realtime", 0)  # offline there is no deadline: allowed
    h.call(A, protocol.SET, "r", 1 / 256)
    assert len(h.errors(A)) == 2


def test_tiny_hop_sessions_do_not_starve_an_honest_one() -> None:
    # Two sessions with 3 ms hops (w = 8: 23 ms ahead), marking every millisecond, ask for
    # more than the whole model: by earliest deadline alone their steps are always more
    # urgent than the honest client's (93 ms ahead). Fair share puts the honest step first.
    clock = ManualClock()
    model = SimulatedModel.on_clock(TinyClickTrack(), clock, per_call=0.001, per_step=0.001,
                             batch_slope=1.0)
    h = ServerHarness(model, clock=clock)
    h.server.engine.warmup()
    h.open(B, w=1, steps=2, refine=0)
    for hostile in (A, C):
        h.open(hostile, r=2 / 256, w=8, steps=8, refine=0, stems=["drums"])
    sent = 0
    for ms in range(12 * HOP * 1000 // RATE):  # 1 ms housekeeping ticks, as live
        h.clock.set(max(h.clock.now(), ms / 1000))
        while (sent + 1) * PACKET <= h.clock.now() * RATE:  # B's packets when captured
            h.audio(B, sent * PACKET, PACKET)
            sent += 1
            if sent * PACKET % HOP == 0:
                h.call(B, protocol.MARK, sent * PACKET)
        for hostile in (A, C):  # a mark every millisecond: every step ready at once
            h.call(hostile, protocol.MARK, int(h.clock.now() * RATE))
        h.server.tick()
        h.server.engine.process_ready()  # one call per tick: the model is always busy
    steps = {c.step for c in h.chunks(B)}
    assert h.messages(B, protocol.MISS) == [], [m.args for m in h.messages(B, protocol.MISS)]
    assert steps >= set(range(10))
    hostile_steps = sum(len({c.step for c in h.chunks(x)}) for x in (A, C))
    assert hostile_steps > 100  # they were served too, with what was left


# -- 1/6/7. budgets ------------------------------------------------------------------------
STRANGER, BYSTANDER = ("127.0.0.1", 2100), ("127.0.0.1", 2101)


def test_bundles_pay_for_every_message_and_reply() -> None:
    h = ServerHarness(TinyClickTrack(), ServerConfig(log_interval=0, source_rate=100.0,
                                               source_burst=200.0))
    pings = osc.encode_bundle([protocol.encode_ping(i) for i in range(328)])
    hellos = osc.encode_bundle([protocol.encode_hello(RATE, 7, "x", reply_port=BYSTANDER[1])
                                for _ in range(191)])
    for i in range(150):  # one second at 150 datagrams/s
        h.clock.set(i / 150)
        h.server.handle_datagram(pings, STRANGER)
    pongs = len(h.messages(STRANGER, protocol.PONG))
    # 2 tokens a ping (itself and its pong): the burst and one second's refill.
    assert pongs <= (200 + 100) / 2 + 1
    for i in range(150):
        h.clock.set(2 + i / 150)
        h.server.handle_datagram(hellos, ("127.0.0.1", 2102))
    to_bystander = len(h.messages(BYSTANDER))
    assert 0 < to_bystander <= (200 + 100) / 18 * 17 + 17  # was 56 400 a second


def test_garbage_with_a_performers_address_does_not_silence_the_performer() -> None:
    h = ServerHarness(TinyClickTrack(), ServerConfig(log_interval=0, source_rate=100.0,
                                               source_burst=200.0))
    session, _ = h.open(A, realtime=0)
    for j in range(40):
        h.audio(A, j * PACKET, PACKET)
        for _ in range(25):  # 1000 spoofed datagrams a second beside 40 of audio
            h.server.handle_datagram(b"\x00garbage", A)
            h.server.handle_datagram(protocol.encode_session_message(
                protocol.STATUS, session, "f" * 16), A)
        h.clock.advance(0.025)
    assert h.server.status(session)["audio_in"] == 40 * PACKET
    # Bad tokens are answered only within the address's budget (2 tokens each).
    assert h.server.sessions[session].counters.rejected <= (200 + 100) / 2


def test_expensive_session_messages_are_rate_limited() -> None:
    h = ServerHarness(TinyClickTrack())
    h.open(A)
    for i in range(200):
        h.clock.set(i / 200)
        h.call(A, protocol.RESET)
    resets = [m for m in h.messages(A, protocol.ACK) if m.args[1] == "reset"]
    assert 40 <= len(resets) <= 40 + 20 + 1
    busy = [e for e in h.errors(A) if e[0] == ErrorCode.BUSY]
    assert 1 <= len(busy) <= 3  # told, at most twice a second
    h.clock.advance(5.0)
    h.call(A, protocol.RESET)  # the budget comes back
    assert len([m for m in h.messages(A, protocol.ACK) if m.args[1] == "reset"]) == \
        len(resets) + 1


# -- 8. logs, reply sizes, resumed sessions ------------------------------------------------
def test_the_hello_name_is_escaped_in_the_log(caplog) -> None:
    caplog.set_level("INFO")
    h = ServerHarness(TinyClickTrack())
    h.server.handle_datagram(protocol.encode_hello(RATE, 1, "x\nFAKE line\x1b[31m"), A)
    lines = [r.getMessage() for r in caplog.records if "opened" in r.getMessage()]
    assert lines and "\n" not in lines[0] and "\x1b" not in lines[0]


def test_allowed_lists_fit_the_datagram_setting() -> None:
    h = ServerHarness(TinyClickTrack(window_frames=4096))
    h.open(A, realtime=0)
    h.call(A, protocol.SET, "r", 1 / 4096)
    assert h.errors(A) == []
    assert max(len(p) for p, to in h.sent) <= 8192


def test_a_client_whose_session_was_resumed_elsewhere_is_told() -> None:
    h = ServerHarness(TinyClickTrack())
    session, token = h.open(A)
    h.server.handle_datagram(protocol.encode_session_message(
        protocol.RESUME, session, token, RATE), B)
    assert [m.args for m in h.messages(A, protocol.BYE)] == [(session, "resumed")]
    h.server.handle_datagram(protocol.encode_ping(5, session, token), A)
    assert h.messages(A, protocol.PONG) == []
    assert len(h.messages(A, protocol.BYE)) == 2
