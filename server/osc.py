"""Guarded OSC 1.0 codec for untrusted UDP datagrams.

Datagrams from the network are decoded here, never by python-osc's parser (1.10.2's, read at
the source: a bundle element size of -4 loops forever there, future timetags stall its
server, deep nesting recurses, non-UTF-8 addresses raise the wrong error). Every limit is
explicit and every rejection carries a short machine-readable ``reason`` that the server
counts:

* ``empty`` / ``oversize`` / ``alignment``: size 0, above the limit, or not a multiple of 4;
* ``truncated``: a field runs past the end of the datagram (or of its bundle element);
* ``trailing``: bytes left after the last argument;
* ``address``: the address is not ``/...``, not NUL-terminated, too long or not UTF-8;
* ``typetag``: no ``,`` type tag string, or a tag this codec does not accept;
* ``string`` / ``blob``: a string argument that is not UTF-8, or a blob of bad size;
* ``bundle_size``: a bundle element size that is negative, zero, unaligned or too large;
* ``nesting``: bundles nested deeper than :data:`MAX_BUNDLE_DEPTH`.

Timetags are read and ignored: messages in a bundle run at once. A bundle whose timetag is
not "immediately" is reported through :attr:`Packet.timetags_ignored` so it can be counted.

The encoder writes the few argument types the server sends (int32, float32, string, blob,
and a NumPy array as a run of float32), big-endian as OSC requires.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Deepest bundle nesting accepted (a bundle inside a bundle is depth 2).
MAX_BUNDLE_DEPTH = 2
#: Longest address accepted, in bytes (ours are about 20).
MAX_ADDRESS_BYTES = 255
#: The OSC timetag meaning "immediately".
IMMEDIATE = 1
BUNDLE_TAG = b"#bundle\x00"

#: With ``float_runs``, runs of at least this many ``f`` arguments decode to one array.
FLOAT_RUN_MIN = 16
#: Accepted argument type tags. ``T``/``F``/``N``/``I`` carry no data.
ACCEPTED_TAGS = frozenset("ifsbhdSTFNI")

_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")
_FLOAT64 = struct.Struct(">d")
_UINT64 = struct.Struct(">Q")

REASONS: tuple[str, ...] = (
    "empty", "oversize", "alignment", "truncated", "trailing", "address", "typetag", "string",
    "blob", "bundle_size", "nesting",
)


class OscDecodeError(ValueError):
    """An undecodable datagram; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Message:
    """One decoded OSC message: its address, type tags (without the comma) and arguments."""

    address: str
    tags: str
    args: tuple


@dataclass
class Packet:
    """The messages of one datagram, in order, and how many bundle timetags were ignored."""

    messages: list[Message] = field(default_factory=list)
    timetags_ignored: int = 0


def _pad4(n: int) -> int:
    return (n + 3) & ~3


def _read_string(data: bytes, pos: int, end: int, *, reason: str, limit: int | None = None
                 ) -> tuple[str, int]:
    """A NUL-terminated, 4-aligned UTF-8 string starting at ``pos``; returns it and the next
    position."""
    nul = data.find(b"\x00", pos, end)
    if nul < 0:
        raise OscDecodeError("truncated", f"string at byte {pos} has no terminating NUL")
    raw = data[pos:nul]
    if limit is not None and len(raw) > limit:
        raise OscDecodeError(reason, f"{len(raw)} bytes, at most {limit} allowed")
    nxt = pos + _pad4(nul - pos + 1)
    if nxt > end:
        raise OscDecodeError("truncated", f"string padding at byte {pos} runs past the end")
    try:
        return raw.decode("utf-8"), nxt
    except UnicodeDecodeError as exc:
        raise OscDecodeError(reason, f"not UTF-8 at byte {pos + exc.start}") from None


def _decode_message(data: bytes, pos: int, end: int, float_runs: bool = False) -> Message:
    address, pos = _read_string(data, pos, end, reason="address", limit=MAX_ADDRESS_BYTES)
    if not address.startswith("/"):
        raise OscDecodeError("address", f"address must start with '/', got {address[:32]!r}")
    if pos >= end or data[pos] != ord(","):
        raise OscDecodeError("typetag", "missing ',' type tag string")
    tag_string, pos = _read_string(data, pos, end, reason="typetag")
    tags = tag_string[1:]
    bad = set(tags) - ACCEPTED_TAGS
    if bad:
        raise OscDecodeError("typetag", f"unsupported type tags {''.join(sorted(bad))!r}; "
                             f"accepted: {''.join(sorted(ACCEPTED_TAGS))}")
    args: list = []
    i = 0
    n = len(tags)
    while i < n:
        tag = tags[i]
        if tag == "f":
            # A run of float32s decodes in one NumPy call (audio chunks are long runs).
            j = n - len(tags[i:].lstrip("f"))
            stop = pos + 4 * (j - i)
            if stop > end:
                raise OscDecodeError("truncated", f"{j - i} float32 arguments run past the end")
            run = np.frombuffer(data, ">f4", j - i, pos)
            if float_runs and j - i >= FLOAT_RUN_MIN:
                args.append(run.astype(np.float32))
            else:
                args.extend(run.tolist())
            pos = stop
            i = j
            continue
        if tag == "i":
            if pos + 4 > end:
                raise OscDecodeError("truncated", "int32 argument runs past the end")
            args.append(_INT32.unpack_from(data, pos)[0])
            pos += 4
        elif tag == "h":
            if pos + 8 > end:
                raise OscDecodeError("truncated", "int64 argument runs past the end")
            args.append(_INT64.unpack_from(data, pos)[0])
            pos += 8
        elif tag == "d":
            if pos + 8 > end:
                raise OscDecodeError("truncated", "float64 argument runs past the end")
            args.append(_FLOAT64.unpack_from(data, pos)[0])
            pos += 8
        elif tag in "sS":
            value, pos = _read_string(data, pos, end, reason="string")
            args.append(value)
        elif tag == "b":
            if pos + 4 > end:
                raise OscDecodeError("truncated", "blob size runs past the end")
            size = _INT32.unpack_from(data, pos)[0]
            if size < 0 or pos + 4 + _pad4(size) > end:
                raise OscDecodeError("blob", f"blob size {size} does not fit the datagram")
            args.append(bytes(data[pos + 4:pos + 4 + size]))
            pos += 4 + _pad4(size)
        else:  # T F N I: no data
            args.append({"T": True, "F": False, "N": None, "I": float("inf")}[tag])
        i += 1
    if pos != end:
        raise OscDecodeError("trailing", f"{end - pos} bytes after the last argument")
    return Message(address, tags, tuple(args))


def _decode_bundle(data: bytes, pos: int, end: int, depth: int, packet: Packet,
                   float_runs: bool) -> None:
    if depth > MAX_BUNDLE_DEPTH:
        raise OscDecodeError("nesting", f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if pos + 16 > end:
        raise OscDecodeError("truncated", "bundle header (tag + timetag) runs past the end")
    if _UINT64.unpack_from(data, pos + 8)[0] != IMMEDIATE:
        packet.timetags_ignored += 1
    pos += 16
    while pos < end:
        if pos + 4 > end:
            raise OscDecodeError("truncated", "bundle element size runs past the end")
        size = _INT32.unpack_from(data, pos)[0]
        pos += 4
        if size <= 0 or size % 4 or pos + size > end:
            raise OscDecodeError("bundle_size", f"bundle element size {size} at byte {pos - 4} "
                                 f"(must be a positive multiple of 4 within {end - pos} bytes)")
        if data.startswith(BUNDLE_TAG, pos):
            _decode_bundle(data, pos, pos + size, depth + 1, packet, float_runs)
        else:
            packet.messages.append(_decode_message(data, pos, pos + size, float_runs))
        pos += size


def decode(data: bytes, *, max_size: int, float_runs: bool = False) -> Packet:
    """Decode one datagram or raise :class:`OscDecodeError`; never loops, recurses or hangs.

    With ``float_runs`` a run of :data:`FLOAT_RUN_MIN` or more ``f`` arguments (audio) comes
    back as a single float32 array in ``args`` (``tags`` still lists every ``f``)."""
    n = len(data)
    if n == 0:
        raise OscDecodeError("empty", "empty datagram")
    if n > max_size:
        raise OscDecodeError("oversize", f"{n} bytes, at most {max_size} accepted")
    if n % 4:
        raise OscDecodeError("alignment", f"{n} bytes is not a multiple of 4")
    packet = Packet()
    if data.startswith(BUNDLE_TAG):
        _decode_bundle(data, 0, n, 1, packet, float_runs)
    else:
        packet.messages.append(_decode_message(data, 0, n, float_runs))
    return packet


# -- encoding ------------------------------------------------------------------------------
def _encode_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    if b"\x00" in raw:
        raise ValueError(f"OSC strings cannot contain NUL: {value!r}")
    return raw + b"\x00" * (_pad4(len(raw) + 1) - len(raw))


def encoded_string_size(value: str) -> int:
    """Bytes an OSC string takes on the wire (UTF-8, NUL, padding)."""
    return _pad4(len(value.encode("utf-8")) + 1)


def encode_message(address: str, args: Sequence = ()) -> bytes:
    """Encode one message. ``int`` -> ``i`` (int32), ``float`` -> ``f``, ``str`` -> ``s``,
    ``bytes`` -> ``b``, a 1-D NumPy array -> a run of ``f``."""
    tags = [","]
    body: list[bytes] = []
    for arg in args:
        if isinstance(arg, np.ndarray):
            flat = np.asarray(arg, dtype=">f4").reshape(-1)
            tags.append("f" * flat.size)
            body.append(flat.tobytes())
        elif isinstance(arg, bool):
            raise TypeError("booleans are not sent; use int 0/1")
        elif isinstance(arg, (int, np.integer)):
            value = int(arg)
            if not -(2**31) <= value < 2**31:
                raise ValueError(f"{value} does not fit int32")
            tags.append("i")
            body.append(_INT32.pack(value))
        elif isinstance(arg, (float, np.floating)):
            tags.append("f")
            body.append(struct.pack(">f", float(arg)))
        elif isinstance(arg, str):
            tags.append("s")
            body.append(_encode_string(arg))
        elif isinstance(arg, (bytes, bytearray)):
            tags.append("b")
            raw = bytes(arg)
            body.append(_INT32.pack(len(raw)) + raw + b"\x00" * (_pad4(len(raw)) - len(raw)))
        else:
            raise TypeError(f"cannot encode {type(arg).__name__} as an OSC argument")
    return _encode_string(address) + _encode_string("".join(tags)) + b"".join(body)


def encode_bundle(elements: Sequence[bytes], timetag: int = IMMEDIATE) -> bytes:
    """Wrap encoded messages or bundles in a bundle (used by tests and clients)."""
    parts = [BUNDLE_TAG, _UINT64.pack(timetag)]
    for element in elements:
        parts.append(_INT32.pack(len(element)))
        parts.append(element)
    return b"".join(parts)
