"""The guarded OSC codec: golden bytes, round trips, and every malformed shape rejected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonosc.osc_message_builder import OscMessageBuilder

from sideman.server import osc, protocol
from sideman.server.testing import malformed_corpus


def test_golden_pong() -> None:
    assert protocol.encode_pong(123456, 918273) == (
        b"/sideman/pong\x00\x00\x00" b",ii\x00" b"\x00\x01\xe2\x40" b"\x00\x0e\x03\x01")


def test_golden_error_and_ack() -> None:
    assert protocol.encode_error(3, protocol.ErrorCode.BAD_TOKEN, "no") == (
        b"/sideman/error\x00\x00" b",iis\x00\x00\x00\x00" b"\x00\x00\x00\x03"
        b"\x00\x00\x00\x03" b"no\x00\x00")
    assert protocol.encode_ack(3, "r", [0.125]) == (
        b"/sideman/ack\x00\x00\x00\x00" b",isf\x00\x00\x00\x00" b"\x00\x00\x00\x03"
        b"r\x00\x00\x00" b"\x3e\x00\x00\x00")


def test_golden_chunk() -> None:
    (datagram,) = protocol.chunk_datagrams(3, "drums", 1, 65280, 256, 65280,
                                           np.array([1.0, 0.0], np.float32), True, 8192)
    assert datagram == (
        b"/sideman/chunk\x00\x00" b",isiiiiiiiff\x00\x00\x00\x00" b"\x00\x00\x00\x03"
        b"drums\x00\x00\x00" b"\x00\x00\x00\x01" b"\x00\x00\xff\x00" b"\x00\x00\x01\x00"
        b"\x00\x00\xff\x00" b"\x00\x00\x00\x00" b"\x00\x00\x00\x01" b"\x00\x00\x00\x01"
        b"\x3f\x80\x00\x00" b"\x00\x00\x00\x00")


def test_encoder_matches_python_osc_builder() -> None:
    builder = OscMessageBuilder("/sideman/welcome")
    for value, tag in [(3, "i"), ("9f2c4e1a7b3d5c60", "s"), (1, "i"), (44100, "i"),
                       (0.5, "f"), (b"\x01\x02\x03", "b"), ("clicktrack", "s")]:
        builder.add_arg(value, tag)
    ours = osc.encode_message("/sideman/welcome", [3, "9f2c4e1a7b3d5c60", 1, 44100, 0.5,
                                                   b"\x01\x02\x03", "clicktrack"])
    assert ours == builder.build().dgram


def test_round_trip_and_float_runs() -> None:
    samples = np.linspace(-1, 1, 37).astype(np.float32)
    data = osc.encode_message("/x", [7, "tok", samples, 2.5, b"ab"])
    (msg,) = osc.decode(data, max_size=65536).messages
    assert msg.address == "/x" and msg.tags == "is" + "f" * 37 + "fb"
    assert msg.args[0] == 7 and msg.args[1] == "tok" and msg.args[-1] == b"ab"
    np.testing.assert_array_equal(np.asarray(msg.args[2:39], np.float32), samples)
    assert msg.args[39] == 2.5


PING = protocol.encode_ping(1)
CORPUS = malformed_corpus()


@pytest.mark.parametrize(("name", "datagram", "reason"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_datagrams_are_rejected_with_a_reason(name: str, datagram: bytes,
                                                        reason: str) -> None:
    with pytest.raises(osc.OscDecodeError) as info:
        osc.decode(datagram, max_size=9216)
    assert info.value.reason == reason, (name, info.value)


def test_future_timetag_is_ignored_and_reported() -> None:
    far_future = (0xFFFFFFFF << 32)  # NTP seconds far ahead
    packet = osc.decode(osc.encode_bundle([PING, osc.encode_bundle([PING], far_future)],
                                          far_future),
                        max_size=9216)
    assert [m.address for m in packet.messages] == ["/sideman/ping", "/sideman/ping"]
    assert packet.timetags_ignored == 2


def test_nesting_of_two_is_accepted() -> None:
    packet = osc.decode(osc.encode_bundle([osc.encode_bundle([PING]), PING]), max_size=9216)
    assert len(packet.messages) == 2 and packet.timetags_ignored == 0


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=256))
def test_random_bytes_never_escape_the_decoder(data: bytes) -> None:
    try:
        osc.decode(data, max_size=9216)
    except osc.OscDecodeError as exc:
        assert exc.reason in osc.REASONS


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 200))
def test_mutated_valid_messages_never_escape_the_decoder(noise: bytes, at: int) -> None:
    base = protocol.encode_audio(3, "9f2c4e1a7b3d5c60", 100, np.ones(40, np.float32))
    at = min(at, len(base))
    data = base[:at] + noise + base[at + len(noise):]
    try:
        osc.decode(data[: len(data) // 4 * 4], max_size=9216)
    except osc.OscDecodeError as exc:
        assert exc.reason in osc.REASONS
