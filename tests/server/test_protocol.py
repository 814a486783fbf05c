"""Protocol schemas, coercion of Pd's floats, and chunking under the datagram limit."""

from __future__ import annotations

import numpy as np
import pytest

from sideman.server import osc, protocol
from sideman.server.protocol import ErrorCode, ProtocolError
from sideman.server.telemetry import SessionTelemetry


def parse(address: str, *args: object) -> protocol.Request:
    data = osc.encode_message(address, list(args))
    (msg,) = osc.decode(data, max_size=65536).messages
    return protocol.parse_request(msg)


def test_typed_requests() -> None:
    assert parse(protocol.HELLO, 1, 44100, 77, "max") == protocol.Hello(1, 44100, 77, "max")
    audio = parse(protocol.AUDIO, 3, "tok", 1600, np.array([0.5, -0.25], np.float32))
    assert isinstance(audio, protocol.Audio) and audio.position == 1600
    np.testing.assert_array_equal(audio.samples, [0.5, -0.25])
    blob = parse(protocol.AUDIO, 3, "tok", 0, np.array([0.5, 1.0], "<f4").tobytes())
    np.testing.assert_array_equal(blob.samples, [0.5, 1.0])
    assert parse(protocol.PING, 5) == protocol.Ping(5)
    assert parse(protocol.PING, 5, 3, "tok") == protocol.Ping(5, 3, "tok")
    setting = parse(protocol.SET, 3, "tok", "stems", "drums", "bass")
    assert isinstance(setting, protocol.SetRequest)
    assert setting.values == ("drums", "bass") and setting.tags == "ss"


def test_pd_sends_every_number_as_float() -> None:
    # Pd vanilla: session, position and the like arrive as f; whole numbers are accepted.
    assert parse(protocol.MARK, 3.0, "tok", 32768.0) == protocol.Mark(3, "tok", 32768)
    assert parse(protocol.HELLO, 1.0, 48000.0, 5.0, "pd") == protocol.Hello(1, 48000, 5, "pd")


@pytest.mark.parametrize(("address", "args", "expect"), [
    (protocol.MARK, (3, "tok", 1.5), "position must be a whole number"),
    (protocol.MARK, (3, "tok"), "expects i session, s token, i position"),
    (protocol.HELLO, (1, "44100", 5, "x"), "client_rate must be a number"),
    (protocol.AUDIO, (3, "tok", 0), "expects i session, s token, i position, then f samples"),
    (protocol.AUDIO, (3, "tok", 0, "x"), "then f samples"),
    (protocol.AUDIO, (3, "tok", 0, b"abc"), "whole float32 samples"),
    (protocol.PING, ("x",), "stamp must be a number"),
])
def test_bad_arguments_name_what_is_expected(address: str, args: tuple, expect: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse(address, *args)
    assert info.value.code == ErrorCode.BAD_MESSAGE
    assert expect in info.value.reason


def test_non_finite_audio_is_refused() -> None:
    with pytest.raises(ProtocolError, match="finite"):
        parse(protocol.AUDIO, 3, "tok", 0, np.array([np.nan], np.float32))


def test_unknown_address() -> None:
    with pytest.raises(protocol.UnknownAddress):
        parse("/sideman/print", 1)


@pytest.mark.parametrize("stem", ["bass", "drums", "guitar", "piano", "a" * 21])
def test_chunk_capacity_is_exact(stem: str) -> None:
    for datagram in [protocol.MIN_DATAGRAM, *range(513, 700), 1500, 4096, 8191, 8192, 9216,
                     65507]:
        n = protocol.chunk_capacity(stem, datagram)
        full = protocol.chunk_datagrams(1, stem, 2**31 - 1, -(2**31), 8192, 2**31 - 1,
                                        np.zeros(n, np.float32), True, datagram)
        assert len(full) == 1 and len(full[0]) == protocol.chunk_size(stem, n) <= datagram
        assert protocol.chunk_size(stem, n + 1) > datagram


@pytest.mark.parametrize("datagram", [512, 777, 1500, 8192, 9216])
@pytest.mark.parametrize("total", [1, 100, 1624, 1625, 33024, 131328])
def test_every_chunk_fits_and_the_layout_tiles(datagram: int, total: int) -> None:
    samples = np.arange(total, dtype=np.float32)
    datagrams = protocol.chunk_datagrams(7, "guitar", 4, 1000, 256, 1000, samples, False,
                                         datagram)
    assert all(len(d) <= datagram for d in datagrams)
    chunks = [protocol.parse_chunk(osc.decode(d, max_size=65536).messages[0]) for d in datagrams]
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert {c.count for c in chunks} == {len(chunks)}
    position = 1000
    for c in chunks:
        assert c.position == position and not c.final
        position += len(c.samples)
    assert position == 1000 + total
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), samples)
    lengths = [len(c.samples) for c in chunks]
    assert max(lengths) - min(lengths) <= 1


def test_audio_capacity_fits() -> None:
    for datagram in (512, 1500, 8192, 9216):
        n = protocol.audio_capacity("9f2c4e1a7b3d5c60", datagram)
        assert len(protocol.encode_audio(1, "9f2c4e1a7b3d5c60", 0, np.zeros(n))) <= datagram
        assert len(protocol.encode_audio(1, "9f2c4e1a7b3d5c60", 0, np.zeros(n + 1))) > datagram


def test_replies_fit_the_smallest_datagram() -> None:
    pairs = SessionTelemetry().status_pairs(queue=3, r=0.125, w=2)
    assert len(protocol.encode_status(2**31 - 1, pairs)) <= protocol.MIN_DATAGRAM
    long_reason = "x" * 5000
    assert len(protocol.encode_error(1, ErrorCode.BAD_VALUE, long_reason)) <= 512
    assert len(protocol.encode_warning(1, long_reason)) <= 512


def test_worked_example_of_protocol_md() -> None:
    # r = 0.125 of the click track's 4096 x 64 window, xfade 256, datagram 8192.
    layout = protocol.chunk_layout(32768 + 256, "drums", 8192)
    assert len(layout) == 21 and layout[1][0] == 66853 - 65280
    assert {length for _, length in layout} == {1573, 1572}


def test_float_runs_decode_to_the_same_values() -> None:
    samples = np.linspace(-1, 1, 1000).astype(np.float32)
    data = protocol.encode_audio(3, "tok", 5, samples)
    plain = protocol.parse_request(osc.decode(data, max_size=65536).messages[0])
    (msg,) = osc.decode(data, max_size=65536, float_runs=True).messages
    assert isinstance(msg.args[3], np.ndarray) and len(msg.args) == 4
    fast = protocol.parse_request(msg)
    np.testing.assert_array_equal(plain.samples, fast.samples)
    np.testing.assert_array_equal(fast.samples, samples)
    (chunk_dgram,) = protocol.chunk_datagrams(1, "bass", 2, 0, 0, 0, samples, True, 8192)
    chunk = protocol.parse_chunk(osc.decode(chunk_dgram, max_size=65536,
                                            float_runs=True).messages[0])
    np.testing.assert_array_equal(chunk.samples, samples)


def test_a_run_of_floats_where_one_number_belongs_is_refused() -> None:
    from sideman.server.app import Server, ServerConfig
    from sideman.server.clock import ManualClock
    from sideman.server.testing import TinyClickTrack

    sent: list[bytes] = []
    server = Server(TinyClickTrack(), ServerConfig(log_interval=0), clock=ManualClock(),
                    send=lambda p, _: sent.append(p))
    client = ("127.0.0.1", 4000)
    server.handle_datagram(protocol.encode_hello(44100, 1, "x"), client)
    welcome = osc.decode(sent[0], max_size=65536).messages[0]
    for key in ("r", "steps", "variation", "stems"):
        sent.clear()
        server.handle_datagram(protocol.encode_session_message(
            protocol.SET, welcome.args[0], welcome.args[1], key,
            np.ones(40, np.float32)), client)
        (error,) = [osc.decode(p, max_size=65536).messages[0] for p in sent]
        assert error.address == protocol.ERROR and error.args[1] == ErrorCode.BAD_VALUE
    sent.clear()
    server.handle_datagram(osc.encode_message(protocol.MARK, [welcome.args[0],
                                                            welcome.args[1],
                                                            np.ones(20, np.float32)]), client)
    error = osc.decode(sent[0], max_size=65536).messages[0]
    assert error.args[1] == ErrorCode.BAD_MESSAGE and "one number" in error.args[2]
