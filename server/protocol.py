"""Protocol v1 (docs/PROTOCOL.md): address table, argument schemas, coercion, message builders.

This module is pure: bytes and typed values in, typed values and bytes out; no sockets, no
sessions. The server and the reference client both use it, so the two sides cannot drift:

* :func:`parse_request` turns a decoded client message into a typed request (numbers given
  as ``f``, ``d`` or ``h`` are accepted where an int is expected if they are whole: Pd sends
  every number as ``f``), or raises :class:`ProtocolError` with code 1 naming what the
  address expects;
* the ``encode_*`` functions build every server -> client message, and
  :func:`chunk_datagrams` splits one step's audio into ``/sideman/chunk`` datagrams that never
  exceed the session's ``datagram`` size (:func:`chunk_capacity` computes the header size
  exactly);
* :func:`parse_chunk` and :func:`status_dict` decode the server -> client messages a client
  reads (:mod:`sideman.client.core`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import cast

import numpy as np

from .osc import Message, encode_message, encoded_string_size

VERSION = 1
PREFIX = "/sideman"
DEFAULT_PORT = 7400
#: Default largest datagram the server sends (bytes): below macOS's 9216-byte UDP limit.
DEFAULT_DATAGRAM = 8192
#: Largest datagram a server accepts and may be told to send unless started otherwise.
DEFAULT_MAX_DATAGRAM = 9216
MIN_DATAGRAM = 512
TOKEN_HEX_CHARS = 16
#: Longest reason / warning text sent (bytes), so error replies always fit 512 bytes.
MAX_TEXT_BYTES = 360
#: Audio samples are clipped to +-MAX_SAMPLE (full scale is 1): any larger value stays finite
#: through resampling and the model.
MAX_SAMPLE = 64.0

# Client -> server
HELLO = f"{PREFIX}/hello"
RESUME = f"{PREFIX}/resume"
AUDIO = f"{PREFIX}/audio"
MARK = f"{PREFIX}/mark"
SET = f"{PREFIX}/set"
TRANSPORT = f"{PREFIX}/transport"
RESET = f"{PREFIX}/reset"
STATUS = f"{PREFIX}/status"
PING = f"{PREFIX}/ping"
BYE = f"{PREFIX}/bye"
# Server -> client
WELCOME = f"{PREFIX}/welcome"
ALLOWED = f"{PREFIX}/allowed"
ACK = f"{PREFIX}/ack"
WARNING = f"{PREFIX}/warning"
ERROR = f"{PREFIX}/error"
CHUNK = f"{PREFIX}/chunk"
MISS = f"{PREFIX}/miss"
PONG = f"{PREFIX}/pong"

CLIENT_ADDRESSES = (HELLO, RESUME, AUDIO, MARK, SET, TRANSPORT, RESET, STATUS, PING, BYE)
SERVER_ADDRESSES = (WELCOME, ALLOWED, ACK, WARNING, ERROR, CHUNK, MISS, PONG, STATUS, BYE)


class ErrorCode(IntEnum):
    """``/sideman/error`` codes (PROTOCOL.md, "Error codes")."""

    BAD_MESSAGE = 1
    UNKNOWN_SESSION = 2
    BAD_TOKEN = 3
    BAD_VALUE = 4
    BUSY = 5
    VERSION = 6
    POSITION = 7
    MODEL = 8


class ProtocolError(ValueError):
    """A request the server refuses: answered with ``/sideman/error code reason``."""

    def __init__(self, code: ErrorCode, reason: str, session: int = 0) -> None:
        super().__init__(f"{code.name.lower()}: {reason}")
        self.code = code
        self.reason = reason
        self.session = session


class UnknownAddress(ValueError):
    """A message to an address that is not in the protocol (counted, never answered)."""


# -- typed requests (client -> server) -----------------------------------------------------
@dataclass(frozen=True)
class Hello:
    version: int
    client_rate: int
    nonce: int
    name: str
    #: Port on the source IP that replies go to (0: the source port itself). For clients
    #: that send and receive on different sockets, like Max's udpsend/udpreceive.
    reply_port: int = 0


@dataclass(frozen=True)
class SessionRequest:
    """Base of every request that names a session and its token."""

    session: int
    token: str


@dataclass(frozen=True)
class Resume(SessionRequest):
    client_rate: int
    reply_port: int = 0


@dataclass(frozen=True)
class Audio(SessionRequest):
    position: int
    samples: np.ndarray


@dataclass(frozen=True)
class Mark(SessionRequest):
    position: int


@dataclass(frozen=True)
class SetRequest(SessionRequest):
    key: str
    values: tuple
    tags: str


@dataclass(frozen=True)
class TransportInfo(SessionRequest):
    bpm: float
    beat_position: int
    beats_per_bar: int
    beat_in_bar: int


@dataclass(frozen=True)
class Reset(SessionRequest):
    pass


@dataclass(frozen=True)
class StatusRequest(SessionRequest):
    pass


@dataclass(frozen=True)
class Bye(SessionRequest):
    pass


@dataclass(frozen=True)
class Ping:
    stamp: int
    session: int | None = None
    token: str | None = None


Request = Hello | Resume | Audio | Mark | SetRequest | TransportInfo | Reset | StatusRequest \
    | Bye | Ping

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def wrap_position(value: int, bits: int = 32) -> int:
    """``value`` modulo ``2**bits``, as the representative in ``[-2**(bits-1), 2**(bits-1))``:
    how positions go on the wire (32 bits by default; fewer with the session's ``wrap``
    setting, for clients whose numbers are float32: PROTOCOL.md, "Positions")."""
    half = 1 << (bits - 1)
    return (int(value) + half) % (2 * half) - half


def wire32(value: int) -> int:
    """``value`` as the int32 the wire carries: positions, step numbers and counts wrap
    modulo 2**32 past 2**31 - 1 (a performance of any length; PROTOCOL.md, "Positions")."""
    return wrap_position(value, 32)


def unwrap_position(value: int, reference: int, bits: int = 32) -> int:
    """The position ``value`` stands for, given the session's current ``reference``: an int32
    from the wire is the 64-bit position congruent to it modulo ``2**bits`` nearest to
    ``reference`` (so a client that wraps at 2**31, or at its ``wrap`` setting, keeps
    working); a value outside int32 (an ``h`` int64) is taken as it is."""
    if not INT32_MIN <= value <= INT32_MAX:
        return value
    return reference + wrap_position(value - reference, bits)


# -- coercion ------------------------------------------------------------------------------
def _scalar(value: object, what: str) -> int | float:
    """``value`` as the one number its type tag says it is (never a run of floats)."""
    if isinstance(value, np.ndarray):
        raise ValueError(f"{what} must be one number, got a list of {value.size}")
    return cast("int | float", value)


def _floats(args: Sequence) -> np.ndarray:
    """Trailing numeric arguments as float32 (scalars, or arrays from ``float_runs``)."""
    parts = [np.atleast_1d(np.asarray(a, dtype=np.float32)) for a in args]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def as_int(value: object, tag: str, what: str, *, wide: bool = False) -> int:
    """An int32 (int64 with ``wide``: positions) from ``i``/``h``, or from ``f``/``d`` when it
    is a whole number."""
    scalar = _scalar(value, what)
    if tag in "ih":
        number = int(scalar)
    elif tag in "fd":
        f = float(scalar)
        if not math.isfinite(f) or f != math.floor(f):
            raise ValueError(f"{what} must be a whole number, got {f!r}")
        number = int(f)
    else:
        raise ValueError(f"{what} must be a number (i, f, d or h), got type {tag!r}")
    lo, hi, bits = (INT64_MIN, INT64_MAX, 64) if wide else (INT32_MIN, INT32_MAX, 32)
    if not lo <= number <= hi:
        raise ValueError(f"{what} must fit int{bits}, got {number}")
    return number


def as_float(value: object, tag: str, what: str) -> float:
    scalar = _scalar(value, what)
    if tag not in "ihfd":
        raise ValueError(f"{what} must be a number (i, f, d or h), got type {tag!r}")
    f = float(scalar)
    if not math.isfinite(f):
        raise ValueError(f"{what} must be finite, got {f!r}")
    return f


def as_str(value: object, tag: str, what: str) -> str:
    if tag not in "sS":
        raise ValueError(f"{what} must be a string (s), got type {tag!r}")
    return str(value)


_SCHEMAS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    HELLO: ("i version, i client_rate, i nonce, s name [, i reply_port]",
            (("version", "i"), ("client_rate", "i"), ("nonce", "i"), ("name", "s"))),
    RESUME: ("i session, s token, i client_rate [, i reply_port]",
             (("session", "i"), ("token", "s"), ("client_rate", "i"))),
    MARK: ("i session, s token, i position",
           (("session", "i"), ("token", "s"), ("position", "p"))),
    TRANSPORT: ("i session, s token, f bpm, i beat_position, i beats_per_bar, i beat_in_bar",
                (("session", "i"), ("token", "s"), ("bpm", "f"), ("beat_position", "p"),
                 ("beats_per_bar", "i"), ("beat_in_bar", "i"))),
    RESET: ("i session, s token", (("session", "i"), ("token", "s"))),
    STATUS: ("i session, s token", (("session", "i"), ("token", "s"))),
    BYE: ("i session, s token", (("session", "i"), ("token", "s"))),
}
#: Optional trailing arguments (PROTOCOL.md: the reply port of hello and resume).
_OPTIONAL: dict[str, tuple[tuple[str, str], ...]] = {
    HELLO: (("reply_port", "i"),),
    RESUME: (("reply_port", "i"),),
}


def _coerce(kind: str, value: object, tag: str, what: str) -> object:
    if kind in "ip":  # p: a position (int32 that wraps, or int64)
        return as_int(value, tag, what, wide=kind == "p")
    if kind == "f":
        return as_float(value, tag, what)
    return as_str(value, tag, what)


def _fixed(msg: Message) -> list:
    signature, fields = _SCHEMAS[msg.address]
    optional = _OPTIONAL.get(msg.address, ())
    if not len(fields) <= len(msg.args) <= len(fields) + len(optional):
        raise ValueError(f"{msg.address} expects {signature}; got {len(msg.args)} arguments "
                         f"(type tags ,{msg.tags})")
    fields = (fields + optional)[:len(msg.args)]
    try:
        values = [_coerce(kind, value, tag, name)
                  for (name, kind), value, tag in zip(fields, msg.args, msg.tags, strict=True)]
    except ValueError as exc:
        raise ValueError(f"{msg.address} expects {signature}: {exc}") from None
    for (name, _kind), value in zip(fields, values, strict=True):
        if name == "reply_port" and isinstance(value, int) and not 0 <= value <= 65535:
            raise ValueError(f"{msg.address}: reply_port must be 0 (reply to the source port) "
                             f"or a UDP port 1 ... 65535, got {value}")
    return values


def _audio(msg: Message) -> Audio:
    expects = "i session, s token, i position, then f samples (1 or more) or one b blob"
    if len(msg.args) < 4:
        raise ValueError(f"{AUDIO} expects {expects}; got type tags ,{msg.tags}")
    session = as_int(msg.args[0], msg.tags[0], "session")
    token = as_str(msg.args[1], msg.tags[1], "token")
    position = as_int(msg.args[2], msg.tags[2], "position", wide=True)
    rest = msg.tags[3:]
    if rest == "b":
        blob = msg.args[3]
        if len(blob) % 4 or not blob:
            raise ValueError(f"audio blob must hold whole float32 samples, got {len(blob)} bytes")
        samples = np.frombuffer(blob, "<f4").astype(np.float32)
    elif set(rest) <= {"f", "d", "i", "h"}:
        samples = _floats(msg.args[3:])
    else:
        raise ValueError(f"{AUDIO} expects {expects}; got type tags ,{msg.tags}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("audio samples must be finite")
    # Finite is not enough: float32 near 3e38 overflows to inf in the resampler's filter.
    np.clip(samples, -MAX_SAMPLE, MAX_SAMPLE, out=samples)
    return Audio(session, token, position, samples)


def parse_request(msg: Message) -> Request:
    """The typed request of a client message; :class:`ProtocolError` (code 1) if malformed,
    :class:`UnknownAddress` if the address is not a client -> server address."""
    address = msg.address
    try:
        if address == AUDIO:
            return _audio(msg)
        if address == PING:
            if len(msg.args) not in (1, 3):
                raise ValueError(f"{PING} expects i stamp [i session, s token]; "
                                 f"got type tags ,{msg.tags}")
            stamp = as_int(msg.args[0], msg.tags[0], "stamp")
            if len(msg.args) == 3:
                return Ping(stamp, as_int(msg.args[1], msg.tags[1], "session"),
                            as_str(msg.args[2], msg.tags[2], "token"))
            return Ping(stamp)
        if address == SET:
            if len(msg.args) < 3:
                raise ValueError(f"{SET} expects i session, s token, s key, values...; "
                                 f"got type tags ,{msg.tags}")
            return SetRequest(as_int(msg.args[0], msg.tags[0], "session"),
                              as_str(msg.args[1], msg.tags[1], "token"),
                              as_str(msg.args[2], msg.tags[2], "key"),
                              tuple(msg.args[3:]), msg.tags[3:])
        if address not in _SCHEMAS:
            raise UnknownAddress(address)
        values = _fixed(msg)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, UnknownAddress):
            raise
        session = (msg.args[0] if msg.args and msg.tags[:1] == "i"
                   and address not in (HELLO, PING) else 0)
        raise ProtocolError(ErrorCode.BAD_MESSAGE, str(exc), session) from None
    if address == HELLO:
        return Hello(*values)
    if address == RESUME:
        return Resume(*values)
    if address == MARK:
        return Mark(*values)
    if address == TRANSPORT:
        return TransportInfo(*values)
    if address == RESET:
        return Reset(*values)
    if address == STATUS:
        return StatusRequest(*values)
    return Bye(*values)


# -- server -> client builders -------------------------------------------------------------
def _text(text: str) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= MAX_TEXT_BYTES:
        return text
    return raw[:MAX_TEXT_BYTES - 3].decode("utf-8", "ignore") + "..."


def encode_welcome(session: int, token: str, *, model_rate: int, client_rate: int,
                   hop_length: int, window_frames: int, max_datagram: int, model: str) -> bytes:
    return encode_message(WELCOME, [session, token, VERSION, model_rate, client_rate,
                                    hop_length, window_frames, max_datagram, model])


def encode_allowed(session: int, what: str, values: Sequence) -> bytes:
    return encode_message(ALLOWED, [session, what, *values])


def encode_ack(session: int, key: str, values: Sequence = ()) -> bytes:
    return encode_message(ACK, [session, key, *(
        wire32(v) if isinstance(v, int) else v for v in values)])


def encode_warning(session: int, text: str) -> bytes:
    return encode_message(WARNING, [session, _text(text)])


def encode_error(session: int, code: ErrorCode, reason: str) -> bytes:
    return encode_message(ERROR, [session, int(code), _text(reason)])


def encode_miss(session: int, step: int, start: int, late: int, reason: str,
                wrap: int = 32) -> bytes:
    """``start`` goes modulo ``2**wrap`` (the session's ``wrap`` setting)."""
    return encode_message(MISS, [session, wire32(step), wrap_position(start, wrap),
                                 min(late, INT32_MAX), reason])


def encode_pong(stamp: int, server_ms: int) -> bytes:
    return encode_message(PONG, [stamp, server_ms % (2**31)])


def encode_status(session: int, pairs: Sequence[tuple[str, int | float]]) -> bytes:
    args: list = [session]
    for key, value in pairs:
        # A count past int32 (samples of a long session) goes as a float: never an error.
        if isinstance(value, int) and not INT32_MIN <= value <= INT32_MAX:
            value = float(value)
        args.extend((key, value))
    return encode_message(STATUS, args)


def encode_bye(session: int, reason: str) -> bytes:
    return encode_message(BYE, [session, reason])


#: Fixed int32 arguments of a chunk after the stem: step, start, xfade, position, index,
#: count, final.
_CHUNK_INTS = 7


def chunk_size(stem: str, samples: int) -> int:
    """Exact bytes of a ``/sideman/chunk`` datagram with ``samples`` float32 samples."""
    tags = 1 + 2 + _CHUNK_INTS + samples  # ',' 'i' 's' + 7 'i' + n 'f'
    return (encoded_string_size(CHUNK) + ((tags + 1 + 3) & ~3) + 4
            + encoded_string_size(stem) + 4 * _CHUNK_INTS + 4 * samples)


def chunk_capacity(stem: str, datagram: int) -> int:
    """Most samples a chunk for ``stem`` can carry in ``datagram`` bytes."""
    n = max(0, (datagram - chunk_size(stem, 0)) // 5 + 4)
    while n > 0 and chunk_size(stem, n) > datagram:
        n -= 1
    if n == 0:
        raise ValueError(f"datagram of {datagram} bytes cannot carry a chunk for stem {stem!r}")
    return n


def chunk_layout(total: int, stem: str, datagram: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of each chunk of a ``total``-sample output: the fewest chunks that
    fit, with lengths differing by at most one sample."""
    if total <= 0:
        return []
    capacity = chunk_capacity(stem, datagram)
    count = -(-total // capacity)
    base, extra = divmod(total, count)
    layout = []
    offset = 0
    for i in range(count):
        length = base + (1 if i < extra else 0)
        layout.append((offset, length))
        offset += length
    return layout


def chunk_datagrams(session: int, stem: str, step: int, start: int, xfade: int,
                    position: int, samples: np.ndarray, final: bool, datagram: int,
                    wrap: int = 32) -> list[bytes]:
    """The chunks of one stem of one step; ``samples[0]`` plays at client ``position``.
    Positions go modulo ``2**wrap`` (the session's ``wrap`` setting)."""
    layout = chunk_layout(len(samples), stem, datagram)
    count = len(layout)
    return [
        encode_message(CHUNK, [session, stem, wire32(step), wrap_position(start, wrap), xfade,
                               wrap_position(position + offset, wrap), i, count, int(final),
                               samples[offset:offset + length]])
        for i, (offset, length) in enumerate(layout)
    ]


# -- client -> server builders (the reference client, tests, patches' helpers) -------------
def encode_hello(client_rate: int, nonce: int, name: str, version: int = VERSION,
                 reply_port: int | None = None) -> bytes:
    args: list = [version, client_rate, nonce, name]
    if reply_port is not None:
        args.append(reply_port)
    return encode_message(HELLO, args)


def encode_audio(session: int, token: str, position: int, samples: np.ndarray) -> bytes:
    return encode_message(AUDIO, [session, token, position,
                                  np.asarray(samples, dtype=np.float32)])


def audio_capacity(token: str, datagram: int) -> int:
    """Most float samples a ``/sideman/audio`` datagram can carry in ``datagram`` bytes."""
    fixed = len(encode_message(AUDIO, [1, token, 0]))  # tags ",isi" -> padded to 8
    n = max(1, (datagram - fixed) // 5 + 4)
    while n > 1 and len(encode_audio(1, token, 0, np.zeros(n, np.float32))) > datagram:
        n -= 1
    return n


def encode_session_message(address: str, session: int, token: str, *args: object) -> bytes:
    return encode_message(address, [session, token, *args])


def encode_ping(stamp: int, session: int | None = None, token: str | None = None) -> bytes:
    if session is None:
        return encode_message(PING, [stamp])
    return encode_message(PING, [stamp, session, token])


@dataclass(frozen=True)
class Chunk:
    """A decoded ``/sideman/chunk``."""

    session: int
    stem: str
    step: int
    start: int
    xfade: int
    position: int
    index: int
    count: int
    final: bool
    samples: np.ndarray


def parse_chunk(msg: Message) -> Chunk:
    head = msg.args[:9]
    if len(head) < 9 or msg.tags[:9] != "isiiiiiii" or not set(msg.tags[9:]) <= {"f"}:
        raise ValueError(f"malformed chunk: type tags ,{msg.tags[:16]}")
    return Chunk(head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7],
                 bool(head[8]), _floats(msg.args[9:]))


def status_dict(msg: Message) -> dict[str, int | float]:
    """The key/value pairs of a ``/sideman/status`` reply."""
    args = msg.args[1:]
    return {str(args[i]): args[i + 1] for i in range(0, len(args) - 1, 2)}
