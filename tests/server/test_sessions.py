"""Guarded parsing and session binding on a live server; expiry with a simulated clock."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from sideman.server import osc, protocol
from sideman.server.app import Server, ServerConfig
from sideman.server.clock import ManualClock
from sideman.server.protocol import ErrorCode
from sideman.server.testing import RawClient, TinyClickTrack, live_server, malformed_corpus


@pytest.fixture
def server():
    with live_server(TinyClickTrack(), ServerConfig(log_interval=0, max_sessions=3)) as pair:
        yield pair


def pong_within(client: RawClient, stamp: int, limit: float = 0.1) -> list[osc.Message]:
    """A pong arrives; within ``limit`` seconds on the first or a second try (one scheduler
    hiccup of a loaded test machine is not the server hanging)."""
    rtt, before = client.ping(stamp)
    assert rtt is not None, "no pong: the server stopped answering"
    if rtt > limit:
        rtt, more = client.ping(stamp + 1_000_000)
        before += more
    assert rtt is not None and rtt < limit, f"pong took {rtt:.3f} s"
    return before


def test_malformed_corpus_leaves_the_server_answering(server) -> None:
    srv, address = server
    client = RawClient(address)
    try:
        for i, (name, datagram, reason) in enumerate(malformed_corpus()):
            before = srv.counters.malformed[reason]
            client.send(datagram)
            replies = pong_within(client, i)
            assert srv.counters.malformed[reason] == before + 1, name
            assert replies == [], f"{name} was answered: {replies}"
        # Valid OSC, wrong type tags for a known address: refused with code 1, counted.
        client.send_message(protocol.HELLO, "one", "two", "three", "four")
        replies = pong_within(client, 1000)
        assert [m.address for m in replies] == [protocol.ERROR]
        assert replies[0].args[1] == ErrorCode.BAD_MESSAGE
        assert "expects i version, i client_rate, i nonce, s name" in replies[0].args[2]
        assert srv.counters.bad_message == 1
        # Unknown addresses are counted and never answered.
        client.send_message("/sideman/print", "/etc/passwd")
        assert pong_within(client, 1001) == []
        assert srv.counters.unknown_address == 1
        assert srv.counters.by_source["127.0.0.1"] == len(malformed_corpus()) + 1
        # A bundle with a far-future timetag runs at once (it is not held back).
        far = osc.encode_bundle([protocol.encode_ping(4242)], timetag=0xFFFFFFFF00000000)
        client.send(far)
        pong, _ = client.wait_for(lambda m: m.address == protocol.PONG, 5)
        assert pong is not None and pong.args[0] == 4242
        assert srv.counters.timetags_ignored == 1
    finally:
        client.close()


def test_audio_from_another_address_is_dropped_and_counted(server) -> None:
    srv, address = server
    owner, intruder = RawClient(address), RawClient(address)
    try:
        owner.hello()
        intruder.session, intruder.token = owner.session, owner.token
        intruder.send_session(protocol.AUDIO, 0, np.ones(64, np.float32))
        # No answer to the intruder: the first thing it receives is its own pong.
        rtt, before = intruder.ping(1)
        assert rtt is not None and before == []
        assert srv.counters.foreign == 1
        status = srv.status(owner.session)
        assert status["audio_in"] == 0 and status["rejected"] == 1
        # A wrong token from elsewhere is dropped silently too.
        intruder.token = "0" * 16
        intruder.send_session(protocol.STATUS)
        rtt, before = intruder.ping(2)
        assert before == [] and srv.counters.bad_token == 1
        # A wrong token from the owner's own address gets an error.
        owner.token, token = "f" * 16, owner.token
        owner.send_session(protocol.STATUS)
        error, _ = owner.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and error.args[1] == ErrorCode.BAD_TOKEN
        owner.token = token
        # The owner's audio still goes in.
        owner.send_session(protocol.AUDIO, 0, np.ones(64, np.float32))
        owner.ping(3)
        assert srv.status(owner.session)["audio_in"] == 64
    finally:
        owner.close()
        intruder.close()


def test_resume_rebinds_the_session(server) -> None:
    srv, address = server
    first, second = RawClient(address), RawClient(address)
    try:
        first.hello()
        second.session, second.token = first.session, first.token
        second.send_session(protocol.RESUME, 44100)
        welcome, _ = second.wait_for(lambda m: m.address == protocol.WELCOME)
        assert welcome is not None and welcome.args[0] == first.session
        second.send_session(protocol.AUDIO, 0, np.ones(32, np.float32))
        first.send_session(protocol.AUDIO, 32, np.ones(32, np.float32))  # old address now
        second.ping(1)
        first.ping(2)
        status = srv.status(first.session)
        assert status["audio_in"] == 32 and srv.counters.foreign == 1
        # Resume with another rate is refused.
        second.send_session(protocol.RESUME, 48000)
        error, _ = second.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and "differs" in error.args[2]
    finally:
        first.close()
        second.close()


def test_handshake_errors(server) -> None:
    srv, address = server
    client = RawClient(address)
    others = [RawClient(address) for _ in range(3)]
    try:
        client.send(protocol.encode_hello(44100, 1, "x", version=2))
        error, _ = client.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and error.args[1] == ErrorCode.VERSION
        client.send_message(protocol.STATUS, 12345, "0" * 16)
        error, _ = client.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and error.args[1] == ErrorCode.UNKNOWN_SESSION
        for i, other in enumerate(others):
            other.hello(nonce=i)
        client.send(protocol.encode_hello(44100, 9, "x"))
        error, _ = client.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and error.args[1] == ErrorCode.BUSY
        assert "3 sessions" in error.args[2]
        # The same hello again (a lost welcome) gets the same session, not a new one.
        session = others[0].session
        others[0].send(protocol.encode_hello(44100, 0, "raw"))
        welcome, _ = others[0].wait_for(lambda m: m.address == protocol.WELCOME)
        assert welcome is not None and welcome.args[0] == session
        assert len(srv.session_ids()) == 3
    finally:
        for c in [client, *others]:
            c.close()


def test_idle_sessions_expire_and_free_their_memory() -> None:
    clock = ManualClock()
    sent: list[tuple[bytes, tuple[str, int]]] = []
    server = Server(TinyClickTrack(), ServerConfig(idle_timeout=5.0, log_interval=0),
                    clock=clock, send=lambda payload, to: sent.append((payload, to)))
    a, b = ("127.0.0.1", 1001), ("127.0.0.1", 1002)
    server.handle_datagram(protocol.encode_hello(44100, 1, "a"), a)
    server.handle_datagram(protocol.encode_hello(44100, 1, "b"), b)
    ids = {}
    for payload, to in sent:
        message = osc.decode(payload, max_size=65536).messages[0]
        if message.address == protocol.WELCOME:
            ids[to] = (message.args[0], message.args[1])
    session_a = server.sessions[ids[a][0]]
    ref = weakref.ref(session_a)
    buffer = weakref.ref(session_a._input.data)
    server.handle_datagram(protocol.encode_audio(*ids[a], 0, np.ones(100, np.float32)), a)
    del session_a
    clock.advance(3.0)
    server.handle_datagram(protocol.encode_ping(1, *ids[b]), b)  # b keeps itself alive
    clock.advance(3.0)
    sent.clear()
    server.tick()
    assert list(server.sessions) == [ids[b][0]]
    (bye,) = [osc.decode(p, max_size=65536).messages[0] for p, to in sent if to == a]
    assert bye.address == protocol.BYE and bye.args[1] == "expired"
    assert server.counters.sessions_expired == 1
    gc.collect()
    assert ref() is None and buffer() is None
    # Its id is unknown now.
    sent.clear()
    server.handle_datagram(protocol.encode_audio(*ids[a], 100, np.ones(10, np.float32)), a)
    message = osc.decode(sent[0][0], max_size=65536).messages[0]
    assert message.args[1] == ErrorCode.UNKNOWN_SESSION
