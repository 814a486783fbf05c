"""Server defences, socket-free on a simulated clock: per-source budgets, per-source drop
counters, eviction of sessions that never authenticated, bounded marks, nothing left behind
by a client that reconnects, and the metrics endpoint on localhost."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from sideman.server import osc, protocol
from sideman.server.app import UNCONFIRMED_GRACE, Server, ServerConfig
from sideman.server.clock import ManualClock
from sideman.server.guard import SourceGuard
from sideman.server.protocol import ErrorCode
from sideman.server.testing import TinyClickTrack

GOOD, STRANGER = ("127.0.0.1", 5001), ("127.0.0.1", 6001)


class Harness:
    def __init__(self, config: ServerConfig | None = None) -> None:
        self.clock = ManualClock()
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.server = Server(TinyClickTrack(), config or ServerConfig(log_interval=0),
                             clock=self.clock, send=lambda p, to: self.sent.append((p, to)))

    def to(self, address: tuple[str, int], name: str | None = None) -> list[osc.Message]:
        out = []
        for payload, dest in self.sent:
            m = osc.decode(payload, max_size=65536).messages[0]
            if dest == address and (name is None or m.address == name):
                out.append(m)
        return out

    def hello(self, address: tuple[str, int], nonce: int = 1) -> tuple[int, str] | None:
        before = len(self.to(address, protocol.WELCOME))
        self.server.handle_datagram(protocol.encode_hello(44100, nonce, "t"), address)
        welcomes = self.to(address, protocol.WELCOME)
        if len(welcomes) == before:
            return None
        return int(welcomes[-1].args[0]), str(welcomes[-1].args[1])


def test_source_guard_buckets() -> None:
    guard = SourceGuard(rate=10.0, burst=5.0, max_sources=3)
    a = ("10.0.0.1", 1)
    assert guard.admit(a, 0.0) and guard.tokens(a, 0.0) == 5.0
    for _ in range(5):
        guard.charge(a, 0.0)
    assert not guard.admit(a, 0.0)
    assert not guard.admit(a, 0.05)  # half a token back
    assert guard.admit(a, 0.1)  # one token back after 0.1 s at 10/s
    for port in range(2, 6):  # bounded: the least recently seen source goes first
        guard.charge(("10.0.0.1", port), 0.1)
    assert len(guard) == 3 and guard.tokens(a, 0.1) == 5.0  # forgotten = a fresh budget
    assert guard.forget_full(10.0) == 3 and len(guard) == 0
    with pytest.raises(ValueError, match="rate"):
        SourceGuard(rate=0.0)


def test_a_flooding_stranger_is_dropped_unread_and_counted_while_a_session_flows() -> None:
    h = Harness(ServerConfig(log_interval=0, source_rate=100.0, source_burst=200.0))
    ids = h.hello(GOOD)
    assert ids is not None
    garbage = protocol.encode_audio(4242, "0" * 16, 0, np.zeros(256, np.float32))
    for _ in range(1000):
        h.server.handle_datagram(garbage, STRANGER)
    c = h.server.counters
    # The burst was read (and refused: no such session; each cost a token and one for its
    # error reply), the rest dropped unread.
    assert c.unknown_session == 100 and c.rate_limited == 900
    drops = h.server.source_drops()["127.0.0.1"]
    assert drops == {"unknown_session": 100, "rate_limited": 900}
    assert len(h.to(STRANGER)) == 100  # one error each for the burst, nothing after
    # The session's own valid traffic from its bound address is never limited.
    for i in range(1000):
        h.server.handle_datagram(protocol.encode_audio(*ids, 64 * i, np.ones(64, np.float32)),
                                 GOOD)
    assert h.server.status(ids[0])["audio_in"] == 64 * 1000
    # A second later the stranger has 100 new tokens: 50 more refusals.
    h.clock.advance(1.0)
    for _ in range(150):
        h.server.handle_datagram(garbage, STRANGER)
    assert c.unknown_session == 150 and c.rate_limited == 1000
    metrics = h.server.metrics_text()
    assert 'sideman_source_drops_total{source="127.0.0.1",reason="rate_limited"} 1000' \
        in metrics
    assert "sideman_rate_limited_total 1000" in metrics


def _hello_replies() -> int:
    """Datagrams a hello is answered with (welcome, allowed values, one ack per setting)."""
    h = Harness(ServerConfig(log_interval=0))
    assert h.hello(GOOD) is not None
    return len(h.to(GOOD))


def test_refused_messages_from_a_bound_address_spend_its_budget() -> None:
    replies = _hello_replies()
    assert 3 <= replies <= 40
    h = Harness(ServerConfig(log_interval=0, source_rate=10.0, source_burst=replies + 2.0))
    ids = h.hello(GOOD)
    assert ids is not None
    # The hello cost a token and one per datagram it was answered with (replies + 1 of
    # replies + 2). Wrong tokens from the session's own address: refused, and they cost too
    # (2 each, with the error), so one is answered and the rest dropped unanswered.
    welcome = len(h.to(GOOD))
    assert welcome == replies
    # A session ping with its token confirms the session (its own traffic: free).
    h.server.handle_datagram(protocol.encode_ping(1, *ids), GOOD)
    welcome += 1
    for _ in range(40):
        h.server.handle_datagram(protocol.encode_session_message(
            protocol.STATUS, ids[0], "f" * 16), GOOD)
    assert h.server.counters.bad_token == 1
    assert h.server.counters.rate_limited == 39
    assert len(h.to(GOOD)) == welcome + 1
    # The confirmed session's own valid messages still flow with the address's budget
    # spent (an address whose session never used its token gets nothing decoded).
    h.server.handle_datagram(protocol.encode_audio(*ids, 0, np.ones(8, np.float32)), GOOD)
    assert h.server.status(ids[0])["audio_in"] == 8


def test_hellos_cost_what_they_bring_back() -> None:
    h = Harness(ServerConfig(log_interval=0, source_rate=100.0, source_burst=200.0,
                             max_sessions=1000))
    # A spoofed source asking for sessions: each hello brings `replies` datagrams back (about
    # 20) and costs one more, so its budget of 200 pays for 10 of them (the last one on
    # credit); the rest dropped unread. A source with sessions pays for its hellos all the same.
    replies = _hello_replies()
    for nonce in range(100):
        h.server.handle_datagram(protocol.encode_hello(44100, nonce, "x"), STRANGER)
    assert h.server.counters.sessions_opened == 10
    assert len(h.to(STRANGER)) == 10 * replies <= 200 + replies
    assert h.server.counters.rate_limited == 90


def test_guard_off_reads_everything() -> None:
    h = Harness(ServerConfig(log_interval=0, source_rate=0))
    assert h.server.guard is None
    for _ in range(500):
        h.server.handle_datagram(b"\x00" * 8, STRANGER)
    assert h.server.counters.malformed["address"] == 500
    assert h.server.counters.rate_limited == 0
    with pytest.raises(ValueError, match="source_rate"):
        ServerConfig(source_rate=-1.0)


def test_sessions_that_never_authenticate_make_room_for_a_new_client() -> None:
    h = Harness(ServerConfig(log_interval=0, max_sessions=3))
    blind = [("127.0.0.1", 7000 + i) for i in range(3)]
    for i, address in enumerate(blind):
        assert h.hello(address, nonce=i) is not None  # welcomes nobody reads
    # Full, and they are younger than the grace: a newcomer is refused.
    assert h.hello(GOOD) is None
    (busy,) = h.to(GOOD, protocol.ERROR)
    assert busy.args[1] == ErrorCode.BUSY
    # One of them authenticates (any message with its token): it is kept.
    welcome = h.to(blind[1], protocol.WELCOME)[-1]
    h.server.handle_datagram(protocol.encode_ping(1, int(welcome.args[0]),
                                                  str(welcome.args[1])), blind[1])
    h.clock.advance(UNCONFIRMED_GRACE)
    ids = h.hello(GOOD)
    assert ids is not None and h.server.counters.sessions_evicted == 1
    ids2 = h.hello(("127.0.0.1", 5002))
    assert ids2 is not None and h.server.counters.sessions_evicted == 2
    # The authenticated one survived; the oldest unauthenticated ones went first.
    assert int(welcome.args[0]) in h.server.sessions
    assert len(h.server.sessions) == 3
    # Now every session has authenticated or is young: full again.
    h.server.handle_datagram(protocol.encode_audio(*ids, 0, np.ones(8, np.float32)), GOOD)
    h.server.handle_datagram(protocol.encode_audio(*ids2, 0, np.ones(8, np.float32)),
                             ("127.0.0.1", 5002))
    h.clock.advance(10.0)
    assert h.hello(("127.0.0.1", 5003)) is None


def test_a_mark_far_ahead_is_refused_and_does_not_move_the_clock() -> None:
    h = Harness()
    ids = h.hello(GOOD)
    assert ids is not None
    session = h.server.sessions[ids[0]]
    limit = session._input.base + session._input.capacity
    h.server.handle_datagram(protocol.encode_session_message(protocol.MARK, *ids, 2**31 - 1),
                             GOOD)
    (error,) = h.to(GOOD, protocol.ERROR)
    assert error.args[1] == ErrorCode.POSITION and "too far ahead" in error.args[2]
    assert session.mark == -1 and not session._clock.known
    assert h.server.engine.pending() == 0
    # A mark within what the session holds is fine.
    h.server.handle_datagram(protocol.encode_session_message(protocol.MARK, *ids, limit), GOOD)
    assert session.mark == limit


def test_resuming_from_many_ports_leaves_one_entry() -> None:
    h = Harness()
    ids = h.hello(GOOD, nonce=9)
    assert ids is not None
    for port in range(8000, 8050):
        address = ("127.0.0.1", port)
        h.server.handle_datagram(protocol.encode_session_message(protocol.RESUME, *ids, 44100),
                                 address)
        assert h.server.sessions[ids[0]].address == address
    assert list(h.server._nonces) == [(("127.0.0.1", 8049), 9)]
    assert h.server._bound == {("127.0.0.1", 8049): 1}
    # The old address is nobody's now: its messages are foreign, the new one's are read.
    h.server.handle_datagram(protocol.encode_audio(*ids, 0, np.ones(8, np.float32)), GOOD)
    assert h.server.counters.foreign == 1
    h.server.handle_datagram(protocol.encode_session_message(protocol.BYE, *ids),
                             ("127.0.0.1", 8049))
    assert h.server._nonces == {} and h.server._bound == {} and h.server.sessions == {}


def test_metrics_bind_localhost_unless_told() -> None:
    from sideman.cli.main import build_parser

    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--metrics-port", "0"])
    assert isinstance(args, argparse.Namespace)
    assert args.metrics_host == "127.0.0.1" and args.host == "0.0.0.0"
    assert args.source_rate == 100.0 and args.source_burst == 200.0
