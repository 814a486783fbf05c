"""Seeded datagram fuzzing: a generator/mutator of hostile datagrams and an in-process driver.

:class:`DatagramFuzzer` makes datagrams four ways, each drawn from one seeded
``random.Random`` so that datagram ``n`` of seed ``s`` is always the same:

* **mutations** of a seed corpus (:func:`seed_corpus`: every valid client message, every
  malformed shape of :func:`~sideman.server.testing.malformed_corpus`, and the inputs known
  to break python-osc 1.10.2 — a bundle element size of -4, far-future timetags, deep
  nesting, non-UTF-8 addresses, datagrams above 8192 bytes): bit flips, interesting bytes,
  truncation, extension, length fields that lie, type-tag mutations, splices, wrapping in
  bundles;
* **generated messages**: every protocol address with random type tags and arguments;
* **valid-looking messages** for real sessions (the right token or a wrong one, from the
  session's address or another) with extreme values: negative and huge positions, NaN and
  infinite floats, unknown settings, absurd rates, huge sample counts;
* **random bytes**.

:func:`fuzz_server` drives any number of them through :meth:`Server.handle_datagram` on a
simulated clock (watchdogs, expiry and the engine run between datagrams) and measures each
datagram's wall and CPU time.
"""

from __future__ import annotations

import gc
import math
import random
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sideman.server import osc, protocol
from sideman.server.app import Server
from sideman.server.clock import ManualClock
from sideman.server.testing import malformed_corpus

Address = tuple[str, int]

INTERESTING_INTS = (0, 1, -1, 2, 4, -4, 3, 7, 8, 16, 255, 256, 4095, 4096, 8192, 9216, 65535,
                    65536, 2**24 - 1, 2**24, 2**31 - 1, -(2**31), 2**30, -(2**30))
INTERESTING_FLOATS = (0.0, -0.0, 1.0, -1.0, 0.5, 1e-45, 1e-38, 3.4e38, -3.4e38, float("nan"),
                      float("inf"), float("-inf"), 0.125, 0.25, 2.0, 1e9, -1e9)
INTERESTING_BYTES = (0x00, 0xFF, 0x7F, 0x80, 0x2C, 0x2F, 0x23, 0x01, 0xC0, 0xFE)
TAG_CHARS = "ifsbhdSTFNIcrmt[]x\xff"
SETTING_KEYS = ("r", "w", "stems", "steps", "seed", "variation", "xfade", "datagram", "delay",
                "realtime", "refine", "model", "path", "", "r" * 300)


def _pad(raw: bytes) -> bytes:
    return raw + b"\x00" * (4 - len(raw) % 4)


def raw_message(address: bytes, tags: bytes, body: bytes) -> bytes:
    """A message from raw parts (address and tags NUL-padded; ``body`` as given)."""
    return _pad(address) + _pad(tags) + body


def python_osc_failures() -> list[bytes]:
    """Datagrams that break python-osc 1.10.2's parser or server (the pitfalls server/osc.py
    guards against)."""
    ping = protocol.encode_ping(1)
    header = osc.BUNDLE_TAG + struct.pack(">Q", osc.IMMEDIATE)
    deep = ping
    for _ in range(64):
        deep = osc.encode_bundle([deep])
    return [
        header + struct.pack(">i", -4) + ping,  # loops forever there
        osc.encode_bundle([ping], timetag=0xFFFFFFFF_00000000),  # stalls its server
        osc.encode_bundle([ping], timetag=0x83AA7E80_00000000 + (3600 << 32)),  # 1 h ahead
        deep,  # RecursionError there
        raw_message(b"/sideman/\xff\xfe\xfd", b",i", b"\x00\x00\x00\x01"),  # UnicodeDecodeError
        raw_message(b"/sideman/audio", b",iis" + b"f" * 2100, struct.pack(">ii", 1, 0)
                    + b"0" * 16 + b"\x00" * 8400),  # above 8192 bytes: truncated there
    ]


def valid_messages(session: int = 1, token: str = "0123456789abcdef") -> list[bytes]:
    """One valid datagram per client address (and a few variants)."""
    audio = np.linspace(-0.5, 0.5, 64, dtype=np.float32)
    return [
        protocol.encode_hello(44100, 7, "fuzz"),
        protocol.encode_session_message(protocol.RESUME, session, token, 44100),
        protocol.encode_audio(session, token, 0, audio),
        osc.encode_message(protocol.AUDIO, [session, token, 64, audio.astype("<f4").tobytes()]),
        protocol.encode_session_message(protocol.MARK, session, token, 4096),
        protocol.encode_session_message(protocol.SET, session, token, "r", 0.125),
        protocol.encode_session_message(protocol.SET, session, token, "stems", "drums", "bass"),
        protocol.encode_session_message(protocol.TRANSPORT, session, token, 120.0, 0, 4, 0),
        protocol.encode_session_message(protocol.RESET, session, token),
        protocol.encode_session_message(protocol.STATUS, session, token),
        protocol.encode_ping(5, session, token),
        protocol.encode_ping(6),
        protocol.encode_session_message(protocol.BYE, session, token),
        osc.encode_bundle([protocol.encode_ping(8), protocol.encode_ping(9)]),
    ]


def seed_corpus() -> list[bytes]:
    """Valid messages, the malformed corpus and the python-osc failure inputs."""
    return [*valid_messages(), *(d for _, d, _ in malformed_corpus()), *python_osc_failures()]


@dataclass
class Target:
    """A session the fuzzer may address with valid-looking messages."""

    session: int
    token: str
    address: Address


class DatagramFuzzer:
    """Seeded hostile datagrams (see the module docstring)."""

    KINDS = ("mutation", "generated", "session", "random")

    def __init__(self, seed: int, *, weights: tuple[float, ...] = (0.45, 0.2, 0.3, 0.05),
                 max_size: int = 9216) -> None:
        self.rng = random.Random(seed)
        self.corpus = seed_corpus()
        self.targets: list[Target] = []
        self.weights = weights
        self.max_size = max_size
        self.kinds: Counter = Counter()

    # -- mutations -------------------------------------------------------------------------
    def _flip_bits(self, d: bytearray) -> None:
        for _ in range(self.rng.randint(1, 8)):
            i = self.rng.randrange(len(d))
            d[i] ^= 1 << self.rng.randrange(8)

    def _interesting_byte(self, d: bytearray) -> None:
        for _ in range(self.rng.randint(1, 4)):
            d[self.rng.randrange(len(d))] = self.rng.choice(INTERESTING_BYTES)

    def _truncate(self, d: bytearray) -> None:
        cut = self.rng.randrange(len(d))
        if self.rng.random() < 0.7:
            cut &= ~3  # aligned truncations get past the size check
        del d[cut:]

    def _extend(self, d: bytearray) -> None:
        n = self.rng.choice((1, 2, 3, 4, 8, 16, 64, 1024))
        d.extend(self.rng.randbytes(n) if self.rng.random() < 0.5 else b"\x00" * n)

    def _lie_length(self, d: bytearray) -> None:
        # Overwrite an aligned int32 (blob sizes, bundle element sizes, positions...).
        if len(d) < 4:
            return
        i = self.rng.randrange(len(d) // 4) * 4
        value = self.rng.choice((*INTERESTING_INTS, len(d), len(d) - i, len(d) + 4, -len(d)))
        d[i:i + 4] = struct.pack(">i", value)

    def _mutate_tags(self, d: bytearray) -> None:
        comma = d.find(b",")
        if comma < 0:
            return
        end = d.find(b"\x00", comma)
        end = len(d) if end < 0 else end
        choice = self.rng.random()
        if choice < 0.5 and end > comma + 1:
            i = self.rng.randrange(comma + 1, end)
            d[i] = ord(self.rng.choice(TAG_CHARS)) & 0xFF
        elif choice < 0.8:
            d[end:end] = self.rng.choice(TAG_CHARS).encode("latin-1") * self.rng.choice(
                (1, 2, 3, 100, 3000))
        elif end > comma + 1:
            del d[end - 1]

    def _splice(self, d: bytearray) -> None:
        other = self.rng.choice(self.corpus)
        cut = self.rng.randrange(len(d) + 1)
        d[cut:] = other[self.rng.randrange(len(other) + 1):]

    MUTATIONS = ("_flip_bits", "_interesting_byte", "_truncate", "_extend", "_lie_length",
                 "_mutate_tags", "_splice")

    def mutate(self, data: bytes) -> bytes:
        d = bytearray(data)
        for _ in range(self.rng.randint(1, 3)):
            if not d:
                d.extend(self.rng.randbytes(4))
            getattr(self, self.rng.choice(self.MUTATIONS))(d)
        out = bytes(d)
        if self.rng.random() < 0.1:
            out = self.wrap(out)
        return out

    def wrap(self, data: bytes) -> bytes:
        """``data`` in 1 to 4 nested bundles with interesting timetags."""
        for _ in range(self.rng.randint(1, 4)):
            timetag = self.rng.choice((osc.IMMEDIATE, 0, 2**64 - 1, 0x83AA7E80_00000000))
            elements = [data] * self.rng.choice((1, 1, 2, 3))
            data = osc.encode_bundle(elements, timetag=timetag)
        return data

    # -- generated messages ----------------------------------------------------------------
    def _value(self, tag: str) -> object:
        rng = self.rng
        if tag == "i":
            return rng.choice(INTERESTING_INTS) if rng.random() < 0.6 else \
                rng.randint(-(2**31), 2**31 - 1)
        if tag == "f":
            return rng.choice(INTERESTING_FLOATS) if rng.random() < 0.6 else rng.uniform(-2, 2)
        if tag == "s":
            return rng.choice(("", "drums", "bass", "0" * 16, "x" * 500, "é∂", "r", "w",
                               "../../etc/passwd", "/sideman/print"))
        return rng.randbytes(rng.choice((0, 1, 3, 4, 64, 4096)))

    def generated(self) -> bytes:
        """A message to a protocol address with random type tags and arguments."""
        rng = self.rng
        address = rng.choice((*protocol.CLIENT_ADDRESSES, *protocol.SERVER_ADDRESSES,
                              "/sideman/print", "/sideman", "/", "/sideman/audio/x"))
        n = rng.choice((0, 1, 2, 3, 4, 5, 6, 9, 20))
        args = [self._value(rng.choice("iiffsb")) for _ in range(n)]
        return _encode_lenient(address, args)

    def session_message(self) -> bytes:
        """A valid-looking message for a real session (or a wrong one) with extreme values."""
        rng = self.rng
        if self.targets and rng.random() < 0.85:
            t = rng.choice(self.targets)
            session = t.session
            token = t.token if rng.random() < 0.7 else rng.choice(
                ("0" * 16, t.token[:-1] + "x", t.token.upper(), "", t.token * 2))
        else:
            session, token = rng.choice((0, 1, -1, 2**24 - 1, 2**31 - 1)), "0" * 16
        what = rng.random()
        position = rng.choice((0, 1, -1, 64, 4096, 65536, 2**20, 2**24, 2**31 - 1, -(2**31),
                               rng.randrange(0, 400000)))
        if what < 0.35:
            n = rng.choice((1, 2, 16, 64, 1024, 2000))
            samples = np.full(n, rng.choice(INTERESTING_FLOATS), np.float32) \
                if rng.random() < 0.5 else np.random.default_rng(rng.getrandbits(32)) \
                .standard_normal(n).astype(np.float32)
            if rng.random() < 0.3:
                return osc.encode_message(protocol.AUDIO, [session, token, position,
                                                           samples.astype("<f4").tobytes()])
            return _encode_lenient(protocol.AUDIO, [session, token, position, samples])
        if what < 0.5:
            return _encode_lenient(protocol.MARK, [session, token, position])
        if what < 0.75:
            key = rng.choice(SETTING_KEYS)
            values = [self._value(rng.choice("iffs")) for _ in range(rng.choice((0, 1, 1, 2, 5)))]
            if key == "stems" and rng.random() < 0.5:
                values = [rng.choice(("drums", "bass", "guitar", "piano", "vox"))
                          for _ in range(rng.choice((1, 2, 4, 5, 300)))]
            return _encode_lenient(protocol.SET, [session, token, key, *values])
        if what < 0.82:
            return _encode_lenient(protocol.TRANSPORT, [
                session, token, rng.choice(INTERESTING_FLOATS), position,
                rng.choice((0, -1, 4, 2**31 - 1)), rng.choice((0, -1, 3, 2**31 - 1))])
        if what < 0.88:
            return _encode_lenient(protocol.RESUME, [session, token,
                                                     rng.choice((44100, 48000, 0, -1))])
        if what < 0.92:
            return _encode_lenient(protocol.HELLO, [
                rng.choice((1, 1, 0, 2, -1)), rng.choice((44100, 22050, 999, 768001, 0, -1)),
                rng.randint(-(2**31), 2**31 - 1), rng.choice(("x", "", "é" * 200))])
        return _encode_lenient(rng.choice((protocol.STATUS, protocol.RESET, protocol.BYE,
                                           protocol.PING)), [session, token])

    # -- the stream ------------------------------------------------------------------------
    def datagram(self) -> bytes:
        kind = self.rng.choices(self.KINDS, self.weights)[0]
        self.kinds[kind] += 1
        if kind == "mutation":
            data = self.mutate(self.rng.choice(self.corpus))
        elif kind == "generated":
            data = self.generated()
        elif kind == "session":
            data = self.session_message()
        else:
            data = self.rng.randbytes(self.rng.choice((0, 1, 4, 8, 20, 64, 512, 9217)))
        return data


def _encode_lenient(address: str, args: list) -> bytes:
    """Encode like :func:`osc.encode_message` but let out-of-range ints and NUL-free strings
    through as raw bytes (the fuzzer wants values a well-behaved encoder refuses)."""
    tags = [","]
    body: list[bytes] = []
    for arg in args:
        if isinstance(arg, np.ndarray):
            flat = np.asarray(arg, dtype=">f4").reshape(-1)
            tags.append("f" * flat.size)
            body.append(flat.tobytes())
        elif isinstance(arg, int):
            tags.append("i")
            body.append(struct.pack(">I", arg & 0xFFFFFFFF))
        elif isinstance(arg, float):
            tags.append("f")
            try:
                body.append(struct.pack(">f", arg))
            except OverflowError:  # beyond float32: its infinity
                body.append(struct.pack(">f", math.copysign(math.inf, arg)))
        elif isinstance(arg, str):
            tags.append("s")
            body.append(_pad(arg.encode("utf-8").replace(b"\x00", b"")))
        else:
            raw = bytes(arg)
            tags.append("b")
            body.append(struct.pack(">i", len(raw)) + raw + b"\x00" * (-len(raw) % 4))
    return _pad(address.encode()) + _pad("".join(tags).encode()) + b"".join(body)


# -- driving a server ----------------------------------------------------------------------
@dataclass
class FuzzFigures:
    """What a fuzz run measured (times in milliseconds)."""

    datagrams: int = 0
    exceptions: int = 0
    wall_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cpu_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: The slowest datagrams: (wall ms, cpu ms, datagram).
    slowest: list[tuple[float, float, bytes]] = field(default_factory=list)
    gc_pauses: int = 0  #: garbage collections during the run
    gc_ms_max: float = 0.0
    tick_ms_max: float = 0.0
    engine_ms_max: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)
    sessions_opened: int = 0

    def summary(self) -> dict[str, object]:
        wall, cpu = np.asarray(self.wall_ms), np.asarray(self.cpu_ms)

        def q(a: np.ndarray, p: float) -> float:
            return round(float(np.percentile(a, p)), 4) if a.size else 0.0

        return {
            "datagrams": self.datagrams, "exceptions": self.exceptions,
            "wall_ms": {"p50": q(wall, 50), "p99": q(wall, 99), "p99_9": q(wall, 99.9),
                        "max": round(float(wall.max()), 4) if wall.size else 0.0},
            "cpu_ms": {"p50": q(cpu, 50), "p99": q(cpu, 99), "p99_9": q(cpu, 99.9),
                       "max": round(float(cpu.max()), 4) if cpu.size else 0.0},
            "gc_pauses": self.gc_pauses, "gc_ms_max": round(self.gc_ms_max, 3),
            "tick_ms_max": round(self.tick_ms_max, 3),
            "engine_ms_max": round(self.engine_ms_max, 3), "kinds": dict(self.kinds),
            "sessions_opened": self.sessions_opened,
        }


def open_targets(server: Server, count: int, *, first_port: int = 41000,
                 welcome: Callable[[Address], tuple[int, str] | None]) -> list[Target]:
    """Open ``count`` real sessions on ``server`` (``welcome(address)`` reads the session id
    and token the server sent to ``address``)."""
    targets = []
    for i in range(count):
        address = ("127.0.0.1", first_port + i)
        server.handle_datagram(protocol.encode_hello(44100, i, "fuzz-target"), address)
        ids = welcome(address)
        if ids is not None:
            targets.append(Target(ids[0], ids[1], address))
    return targets


def fuzz_server(server: Server, fuzzer: DatagramFuzzer, count: int, clock: ManualClock, *,
                sources: int = 8, tick_every: int = 16, step: float = 0.001,
                keep_slowest: int = 10, refresh: Callable[[], list[Target]] | None = None,
                progress: Callable[[int], None] | None = None) -> FuzzFigures:
    """Send ``count`` fuzz datagrams into ``server`` (built on ``clock``), from the targets'
    own addresses and ``sources`` others; run housekeeping and the engine every
    ``tick_every`` datagrams; ``step`` simulated seconds pass per datagram; ``refresh()``
    (every 1000 datagrams) returns the targets to use next. An exception
    from the server is counted and re-raised with the datagram that caused it."""
    figures = FuzzFigures()
    rng = random.Random(fuzzer.rng.getrandbits(32))
    strangers = [("127.0.0.1", 42000 + i) for i in range(sources)]
    perf = time.perf_counter
    # Preallocated arrays: a list of 100 000 floats would itself slow the garbage collector.
    figures.wall_ms = np.zeros(count)
    figures.cpu_ms = np.zeros(count)
    opened_before = server.counters.sessions_opened
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = perf()
        else:
            figures.gc_pauses += 1
            figures.gc_ms_max = max(figures.gc_ms_max, (perf() - gc_started[0]) * 1e3)

    gc.callbacks.append(on_gc)
    try:
        _fuzz_loop(server, fuzzer, count, clock, figures, rng, strangers, tick_every, step,
                   keep_slowest, refresh, progress)
    finally:
        gc.callbacks.remove(on_gc)
    figures.datagrams = count
    figures.kinds = dict(fuzzer.kinds)
    figures.sessions_opened = server.counters.sessions_opened - opened_before
    return figures


def _fuzz_loop(server: Server, fuzzer: DatagramFuzzer, count: int, clock: ManualClock,
               figures: FuzzFigures, rng: random.Random, strangers: list[Address],
               tick_every: int, step: float, keep_slowest: int,
               refresh: Callable[[], list[Target]] | None,
               progress: Callable[[int], None] | None) -> None:
    perf, cpu_clock = time.perf_counter, time.thread_time
    wall_ms, cpu_ms = figures.wall_ms, figures.cpu_ms
    for n in range(count):
        data = fuzzer.datagram()
        if fuzzer.targets and rng.random() < 0.5:
            address = rng.choice(fuzzer.targets).address
        else:
            address = rng.choice(strangers)
        c0, w0 = cpu_clock(), perf()
        try:
            server.handle_datagram(data, address)
        except Exception as exc:
            figures.exceptions += 1
            raise AssertionError(f"datagram {n} from {address} raised {exc!r}: "
                                 f"{data[:200]!r}") from exc
        w1, c1 = perf(), cpu_clock()
        wall = wall_ms[n] = (w1 - w0) * 1e3
        cpu_ms[n] = (c1 - c0) * 1e3
        if len(figures.slowest) < keep_slowest or wall > figures.slowest[-1][0]:
            figures.slowest.append((wall, cpu_ms[n], data))
            figures.slowest.sort(key=lambda x: -x[0])
            del figures.slowest[keep_slowest:]
        clock.advance(step)
        if n % tick_every == tick_every - 1:
            t0 = perf()
            server.tick()
            t1 = perf()
            while server.engine.process_ready():
                pass
            t2 = perf()
            figures.tick_ms_max = max(figures.tick_ms_max, (t1 - t0) * 1e3)
            figures.engine_ms_max = max(figures.engine_ms_max, (t2 - t1) * 1e3)
        if refresh is not None and n % 1000 == 999:
            # Sessions the fuzz closed (bye, expiry) are opened again: keep valid targets.
            fuzzer.targets = refresh()
        if progress is not None and n % 10000 == 9999:
            progress(n + 1)
