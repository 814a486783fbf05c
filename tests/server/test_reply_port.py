"""The reply port: a client that sends from one socket and listens on another (Max's
``udpsend`` / ``udpreceive``) gets every reply of its session on the port it named."""

from __future__ import annotations

import numpy as np
import pytest

from sideman.server import protocol
from sideman.server.app import ServerConfig
from sideman.server.protocol import ErrorCode
from sideman.server.settings import SETTING_KEYS
from sideman.server.testing import RawClient, TinyClickTrack, live_server


@pytest.fixture
def server():
    with live_server(TinyClickTrack(), ServerConfig(log_interval=0)) as pair:
        yield pair


def open_split(address: tuple[str, int], nonce: int = 1) -> tuple[RawClient, RawClient]:
    """A sender socket (``udpsend``) and a listener (``udpreceive``) with a session whose
    replies go to the listener."""
    sender, listener = RawClient(address), RawClient(address)
    sender.send(protocol.encode_hello(44100, nonce, "max", reply_port=listener.address[1]))
    welcome, _ = listener.wait_for(lambda m: m.address == protocol.WELCOME)
    assert welcome is not None, "the welcome did not come to the reply port"
    for client in (sender, listener):
        client.session, client.token = int(welcome.args[0]), str(welcome.args[1])
    last = SETTING_KEYS[-1]  # the welcome's last ack
    listener.wait_for(lambda m: m.address == protocol.ACK and m.args[1] == last)
    return sender, listener


def test_every_reply_goes_to_the_reply_port(server) -> None:
    _, address = server
    sender, listener = open_split(address)
    try:
        sender.send_session(protocol.SET, "realtime", 0)
        ack, _ = listener.wait_for(lambda m: m.address == protocol.ACK and m.args[1] == "realtime")
        assert ack is not None and ack.args[2] == 0
        # Audio from the sender: the chunks of step 0 come to the listener.
        sender.send(protocol.encode_audio(sender.session, sender.token, 0,
                                          np.zeros(65536, np.float32)[:1500]))
        sender.send_session(protocol.MARK, 16384)
        chunk, _ = listener.wait_for(lambda m: m.address == protocol.CHUNK)
        assert chunk is not None and chunk.args[0] == sender.session
        # A session ping is answered on the reply port too.
        sender.send(protocol.encode_ping(77, sender.session, sender.token))
        pong, _ = listener.wait_for(lambda m: m.address == protocol.PONG)
        assert pong is not None and pong.args[0] == 77
        # Refusals of the session's own requests go there as well.
        sender.send_session(protocol.SET, "w", 99)
        error, _ = listener.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and error.args[1] == ErrorCode.BAD_VALUE
        sender.send_session(protocol.BYE)
        bye, _ = listener.wait_for(lambda m: m.address == protocol.ACK and m.args[1] == "bye")
        assert bye is not None
        # Nothing ever went back to the sender's own port.
        assert sender.receive(timeout=0.2) is None
    finally:
        sender.close()
        listener.close()


def test_the_listener_cannot_speak_for_the_session(server) -> None:
    """The session stays bound to the source of its hello: the reply port only receives."""
    srv, address = server
    sender, listener = open_split(address)
    try:
        before = srv.counters.foreign
        listener.send_session(protocol.STATUS)
        assert listener.receive(timeout=0.3) is None
        assert srv.counters.foreign == before + 1
    finally:
        sender.close()
        listener.close()


def test_resume_moves_replies_to_a_new_reply_port(server) -> None:
    _, address = server
    sender, listener = open_split(address)
    other = RawClient(address)
    try:
        sender.send_session(protocol.RESUME, 44100, other.address[1])
        welcome, _ = other.wait_for(lambda m: m.address == protocol.WELCOME)
        assert welcome is not None and welcome.args[0] == sender.session
        sender.send_session(protocol.STATUS)
        status, _ = other.wait_for(lambda m: m.address == protocol.STATUS)
        assert status is not None
        late, _ = listener.wait_for(lambda m: m.address == protocol.STATUS, timeout=0.3)
        assert late is None, "the old reply port still gets replies after the resume"
    finally:
        for client in (sender, listener, other):
            client.close()


def test_hello_errors_go_to_the_reply_port_and_bad_ports_are_refused(server) -> None:
    _, address = server
    sender, listener = RawClient(address), RawClient(address)
    try:
        sender.send(protocol.encode_hello(44100, 1, "max", version=9,
                                          reply_port=listener.address[1]))
        error, _ = listener.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and error.args[1] == ErrorCode.VERSION
        sender.send(protocol.encode_hello(44100, 2, "max", reply_port=70000))
        error, _ = sender.wait_for(lambda m: m.address == protocol.ERROR)
        assert error is not None and error.args[1] == ErrorCode.BAD_MESSAGE
        assert "reply_port must be 0" in error.args[2] and "1 ... 65535" in error.args[2]
        # Without a reply port (or with 0) the source port gets the welcome, as before.
        sender.send(protocol.encode_hello(44100, 3, "pd", reply_port=0))
        welcome, _ = sender.wait_for(lambda m: m.address == protocol.WELCOME)
        assert welcome is not None
    finally:
        sender.close()
        listener.close()


def test_a_repeated_hello_updates_the_reply_port(server) -> None:
    _, address = server
    sender, listener = open_split(address, nonce=5)
    other = RawClient(address)
    try:
        sender.send(protocol.encode_hello(44100, 5, "max", reply_port=other.address[1]))
        welcome, _ = other.wait_for(lambda m: m.address == protocol.WELCOME)
        assert welcome is not None and welcome.args[0] == sender.session
    finally:
        for client in (sender, listener, other):
            client.close()
