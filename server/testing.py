"""Small generators and a live-server fixture for tests of the streaming path (no model needed).

* :class:`TinyClickTrack`: the click track with a short window, so real-time tests take
  seconds;
* :class:`ModelClockClicks`: clicks on a *model* clock different from the client's, to test
  the resampling path end to end;
* :class:`RecordingGenerator`: wraps a generator and records every ``generate`` call;
* :class:`GatedGenerator`: blocks inside ``generate`` until released (a stalled model);
  (calls that take simulated or wall time: :class:`sideman.eval.latency.SimulatedModel`);
* :class:`InputAudit`: checks what each step's context holds against what a client sent
  (nothing misplaced; exactly the samples the network lost are silent);
* :class:`ServerHarness`: a socket-free :class:`Server` on a ManualClock, spoken to as a
  client (hello, settings, audio, session messages), its replies decoded;
* :func:`live_server`: a :class:`Server` on a loopback UDP port, in threads;
* :func:`malformed_corpus`: datagrams the server must refuse, each with the decoder's reason;
* :class:`RawClient`: a bare UDP socket that speaks the protocol message by message;
* :func:`udp_drops`, :func:`rcvbuf_errors`: what the kernel dropped at a client's socket (a
  patch's receive buffer overflowing), per socket and system-wide.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sideman.models.base import Generator, ModelInfo, StepRequest, StepResult, StreamState
from sideman.models.clicktrack import DEFAULT_PERIOD, ClickTrack

from . import osc, protocol
from .app import Server, ServerConfig
from .clock import Clock, ManualClock
from .transport import UdpServer


class TinyClickTrack(ClickTrack):
    """The click track with a ``window_frames``-frame window (default 256 x 64 samples)."""

    def __init__(self, period: int = DEFAULT_PERIOD, *, window_frames: int = 256,
                 hop_length: int = 64, delay: float = 0.0, delay_per_step: float = 0.0) -> None:
        super().__init__(period=period, delay=delay, delay_per_step=delay_per_step)
        self.info: ModelInfo = replace(
            self.info, window_frames=window_frames, hop_length=hop_length,
            trained_hop_frames=tuple(range(1, window_frames + 1)),
            trained_lookaheads=tuple(range(-1, window_frames - 1)))


class ModelClockClicks(ClickTrack):
    """Clicks every ``period`` samples of a model clock at ``model_rate`` Hz."""

    def __init__(self, model_rate: int = 22050, period: int = 2205, *,
                 window_frames: int = 256, hop_length: int = 64) -> None:
        super().__init__(period=period)
        self.info: ModelInfo = replace(
            self.info, name="model-clock-clicks", sample_rate=model_rate,
            window_frames=window_frames, hop_length=hop_length,
            trained_hop_frames=tuple(range(1, window_frames + 1)),
            trained_lookaheads=tuple(range(-1, window_frames - 1)))


@dataclass
class Call:
    """One recorded ``generate`` call: per request (step, num_steps, stems, region), the
    stream ids, the transports and the mixtures."""

    requests: list[tuple[int, int, tuple[str, ...], tuple[int, int]]]
    streams: list[int]
    transports: list[object]
    mixtures: list[object]


class RecordingGenerator(Generator):
    """Passes calls to ``inner`` and records them."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.info = inner.info
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def new_stream(self) -> StreamState:
        return self.inner.new_stream()

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        with self._lock:
            self.calls.append(Call(
                requests=[(r.step, r.num_steps, r.stems, r.region) for r in requests],
                streams=[id(r.stream) for r in requests],
                transports=[r.transport for r in requests],
                mixtures=[r.mixture.copy() for r in requests]))
        return self.inner.generate(requests)


class GatedGenerator(Generator):
    """Blocks in ``generate`` until :meth:`release` (``entered`` is set while blocked)."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.info = inner.info
        self.entered = threading.Event()
        self._gate = threading.Event()

    def new_stream(self) -> StreamState:
        return self.inner.new_stream()

    def release(self) -> None:
        self._gate.set()

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        self.entered.set()
        self._gate.wait(timeout=30)
        return self.inner.generate(requests)


@dataclass
class AuditTrack:
    """What the steps of one stream saw of one client's input, position by position.

    ``sent`` is what the client sends (no sample exactly 0, so silence is unambiguous); the
    model must run on the client's clock (``ClockMap.identity``). A context sample is either
    silence or the sent sample at its position (else it is *misplaced*). ``settle``: a
    position counts as settled in a context whose capture point is at least this many
    samples after it (by then every delivered datagram has arrived)."""

    sent: np.ndarray
    settle: int
    contexts: int = 0
    misplaced: int = 0
    seen: np.ndarray = field(init=False)
    ever_present: np.ndarray = field(init=False)
    settled: np.ndarray = field(init=False)
    present_settled: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.sent)
        if np.any(self.sent == 0):
            raise ValueError("the audited input must not hold exact zeros (they read as lost)")
        # np.ones/full write every page now: the memory is resident from the start.
        self.seen = np.full(n, False)
        self.ever_present = np.full(n, False)
        self.settled = np.full(n, False)
        self.present_settled = np.full(n, False)

    def check(self, request: StepRequest) -> None:
        g = request.geometry
        window_start, _ = g.window(request.step)
        capture = g.step_position(request.step)
        known = request.mixture[:capture - window_start]
        lo, hi = max(window_start, 0), min(capture, len(self.sent))
        # Before position 0 and after the input nothing was sent: silence there.
        outside = np.concatenate([known[:max(0, lo - window_start)],
                                  known[max(0, hi - window_start):]])
        self.misplaced += int(np.count_nonzero(outside))
        self.contexts += 1
        if hi <= lo:
            return
        ctx = known[lo - window_start:hi - window_start]
        present = ctx != 0
        self.misplaced += int(np.count_nonzero(present & (ctx != self.sent[lo:hi])))
        self.seen[lo:hi] = True
        self.ever_present[lo:hi] |= present
        settled_hi = min(hi, capture - self.settle)
        if settled_hi > lo:
            self.settled[lo:settled_hi] = True
            self.present_settled[lo:settled_hi] = present[:settled_hi - lo]

    def report(self, delivered: np.ndarray) -> dict[str, int]:
        """Figures against ``delivered`` (per sent sample: at least one copy reached the
        server). ``misplaced``, ``dropped_heard`` and ``delivered_silent`` must be 0:
        then the silent samples of the settled contexts are exactly the lost ones."""
        n = min(len(delivered), len(self.sent))
        seen, lost = self.seen[:n], ~np.asarray(delivered[:n], bool)
        return {
            "contexts": self.contexts,
            "positions": int(seen.sum()),
            "lost_positions": int((seen & lost).sum()),
            "misplaced": self.misplaced,
            "dropped_heard": int((lost & self.ever_present[:n]).sum()),
            "delivered_silent": int((self.settled[:n] & ~lost
                                     & ~self.present_settled[:n]).sum()),
            "settled_positions": int(self.settled[:n].sum()),
        }


class InputAudit(Generator):
    """Passes calls to ``inner`` and checks each watched stream's context (:class:`AuditTrack`)."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.info = inner.info
        self._tracks: dict[int, tuple[StreamState, AuditTrack]] = {}
        self._lock = threading.Lock()

    def new_stream(self) -> StreamState:
        return self.inner.new_stream()

    def watch(self, stream: StreamState, sent: np.ndarray, settle: int) -> AuditTrack:
        """Audit the steps of ``stream`` (a session's ``stream``) against ``sent``."""
        track = AuditTrack(np.asarray(sent, np.float32), settle)
        with self._lock:
            self._tracks[id(stream)] = (stream, track)  # the reference keeps the id unique
        return track

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        with self._lock:
            for request in requests:
                entry = self._tracks.get(id(request.stream))
                if entry is not None and entry[0] is request.stream:
                    entry[1].check(request)
        return self.inner.generate(requests)


class ServerHarness:
    """A socket-free :class:`Server` on a :class:`ManualClock`, with helpers to speak to it.

    Every datagram the server sends is kept in ``sent``; ``open`` says hello from a client
    address at ``rate`` and applies settings (each must be accepted), ``audio`` sends
    ``packet``-sample audio datagrams, ``run`` does the housekeeping and every ready step.
    """

    def __init__(self, generator: Generator, config: ServerConfig | None = None,
                 clock: ManualClock | None = None, *, rate: int = 44100,
                 packet: int = 1024) -> None:
        self.clock = clock or ManualClock()
        self.rate, self.packet = rate, packet
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.server = Server(generator, config or ServerConfig(log_interval=0),
                             clock=self.clock, send=lambda p, to: self.sent.append((p, to)))
        self.ids: dict[tuple[str, int], tuple[int, str]] = {}

    def messages(self, to: tuple[str, int] | None = None, address: str | None = None
                 ) -> list[osc.Message]:
        out = []
        for payload, dest in self.sent:
            if to is not None and dest != to:
                continue
            message = osc.decode(payload, max_size=65536).messages[0]
            if address is None or message.address == address:
                out.append(message)
        return out

    def errors(self, client: tuple[str, int]) -> list[tuple[int, str]]:
        """``(code, text)`` of every error sent to ``client``."""
        return [(int(m.args[1]), str(m.args[2])) for m in self.messages(client, protocol.ERROR)]

    def open(self, client: tuple[str, int], rate: int | None = None, **settings: object
             ) -> tuple[int, str]:
        hello = protocol.encode_hello(self.rate if rate is None else rate, 1, "test")
        self.server.handle_datagram(hello, client)
        welcome = self.messages(client, protocol.WELCOME)[-1]
        self.ids[client] = (int(welcome.args[0]), str(welcome.args[1]))
        for key, value in settings.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            errors = len(self.errors(client))
            self.call(client, protocol.SET, key, *values)
            assert len(self.errors(client)) == errors, self.errors(client)[-1]
        return self.ids[client]

    def call(self, client: tuple[str, int], address: str, *args: object) -> None:
        session, token = self.ids[client]
        self.server.handle_datagram(
            protocol.encode_session_message(address, session, token, *args), client)

    def audio(self, client: tuple[str, int], position: int, n: int, value: float = 0.0
              ) -> None:
        for offset in range(0, n, self.packet):
            self.call(client, protocol.AUDIO, position + offset,
                      np.full(min(self.packet, n - offset), value, np.float32))

    def run(self) -> int:
        ran = 0
        self.server.tick()
        while (n := self.server.engine.process_ready()):
            ran += n
        return ran

    def chunks(self, client: tuple[str, int]) -> list[protocol.Chunk]:
        return [protocol.parse_chunk(m) for m in self.messages(client, protocol.CHUNK)]


@contextlib.contextmanager
def live_server(generator: Generator, config: ServerConfig | None = None, *,
                clock: Clock | None = None) -> Iterator[tuple[Server, tuple[str, int]]]:
    """A server on ``127.0.0.1:<free port>`` with its receive and engine threads."""
    server = Server(generator, config or ServerConfig(log_interval=0), clock=clock)
    udp = UdpServer(server, "127.0.0.1", 0).start()
    try:
        yield server, udp.address
    finally:
        udp.stop()


def _raw_message(address: bytes = b"/sideman/ping", tags: bytes = b",i",
                 body: bytes = b"\x00\x00\x00\x01") -> bytes:
    def pad(raw: bytes) -> bytes:
        return raw + b"\x00" * (4 - len(raw) % 4)
    return pad(address) + pad(tags) + body


def _nested(depth: int) -> bytes:
    data = protocol.encode_ping(1)
    for _ in range(depth):
        data = osc.encode_bundle([data])
    return data


def malformed_corpus() -> list[tuple[str, bytes, str]]:
    """``(name, datagram, reason)`` for every malformed shape the decoder must refuse
    (python-osc 1.10.2's failure inputs included, see server/osc.py: element size -4, deep
    nesting, non-UTF-8)."""
    ping = protocol.encode_ping(1)
    header = b"#bundle\x00" + struct.pack(">Q", 1)
    return [
        ("empty", b"", "empty"),
        ("unaligned", ping + b"\x00", "alignment"),
        ("oversize", _raw_message(body=b"\x00" * 20000), "oversize"),
        ("garbage", bytes(range(1, 41)), "truncated"),
        ("garbage-with-nul", b"\x01\x02\x03\x00" * 10, "address"),
        ("no-terminator", b"/sideman/ping", "alignment"),
        ("address-without-slash", _raw_message(address=b"sideman/ping"), "address"),
        ("non-utf8-address", _raw_message(address=b"/sideman/\xff\xfe"), "address"),
        ("missing-typetags", b"/sideman/ping\x00\x00\x00" + b"\x00\x00\x00\x01", "typetag"),
        ("unknown-typetag", _raw_message(tags=b",x"), "typetag"),
        ("array-typetag", _raw_message(tags=b",[i]"), "typetag"),
        ("truncated-int", _raw_message(tags=b",ii"), "truncated"),
        ("truncated-string", _raw_message(tags=b",s", body=b"abcd"), "truncated"),
        ("non-utf8-string", _raw_message(tags=b",s", body=b"\xff\x00\x00\x00"), "string"),
        ("blob-too-long", _raw_message(tags=b",b", body=b"\x00\x00\x01\x00abcd"), "blob"),
        ("negative-blob", _raw_message(tags=b",b", body=b"\xff\xff\xff\xfc"), "blob"),
        ("trailing-bytes", _raw_message(body=b"\x00\x00\x00\x01\x00\x00\x00\x02"), "trailing"),
        ("bundle-negative-size", header + struct.pack(">i", -4) + ping, "bundle_size"),
        ("bundle-zero-size", header + struct.pack(">i", 0) + ping, "bundle_size"),
        ("bundle-size-past-end", header + struct.pack(">i", 4096) + ping, "bundle_size"),
        ("bundle-unaligned-size", header + struct.pack(">i", 6) + ping, "bundle_size"),
        ("bundle-truncated-header", b"#bundle\x00\x00\x00\x00\x00", "truncated"),
        ("deep-nesting", _nested(3), "nesting"),
        ("very-deep-nesting", _nested(200), "nesting"),
    ]


class RawClient:
    """A loopback UDP socket for protocol-level tests: send datagrams, read decoded replies."""

    def __init__(self, server: tuple[str, int]) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.session = 0
        self.token = ""

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    def close(self) -> None:
        self.sock.close()

    def send(self, payload: bytes) -> None:
        self.sock.sendto(payload, self.server)

    def send_message(self, address: str, *args: object) -> None:
        self.send(osc.encode_message(address, list(args)))

    def send_session(self, address: str, *args: object) -> None:
        self.send(protocol.encode_session_message(address, self.session, self.token, *args))

    def receive(self, timeout: float = 5.0) -> osc.Message | None:
        self.sock.settimeout(timeout)
        try:
            payload, _ = self.sock.recvfrom(65536)
        except TimeoutError:
            return None
        return osc.decode(payload, max_size=65536).messages[0]

    def wait_for(self, predicate: Callable[[osc.Message], bool], timeout: float = 5.0
                 ) -> tuple[osc.Message | None, list[osc.Message]]:
        """The first message matching ``predicate`` and every message before it."""
        deadline = time.monotonic() + timeout
        seen: list[osc.Message] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, seen
            message = self.receive(left)
            if message is None:
                return None, seen
            if predicate(message):
                return message, seen
            seen.append(message)

    def hello(self, client_rate: int = 44100, nonce: int = 1) -> osc.Message:
        self.send(protocol.encode_hello(client_rate, nonce, "raw"))
        welcome, _ = self.wait_for(lambda m: m.address == protocol.WELCOME)
        if welcome is None:
            raise TimeoutError("no welcome")
        self.session, self.token = int(welcome.args[0]), str(welcome.args[1])
        # Drain the allowed/ack messages that follow the welcome.
        self.wait_for(lambda m: m.address == protocol.ACK and m.args[1] == "refine")
        return welcome

    def ping(self, stamp: int, timeout: float = 5.0) -> tuple[float | None, list[osc.Message]]:
        """Round trip of a ping in seconds (None: no pong) and the messages before the pong."""
        started = time.monotonic()
        self.send(protocol.encode_ping(stamp))
        pong, before = self.wait_for(
            lambda m: m.address == protocol.PONG and m.args[0] == stamp, timeout)
        return (None if pong is None else time.monotonic() - started), before


@dataclass(frozen=True)
class ChunkEvent:
    """One ``/sideman/chunk`` as a client receives it (the arguments after the session)."""

    stem: str
    step: int
    start: int
    xfade: int
    position: int
    index: int
    count: int
    final: int
    samples: np.ndarray

    def args(self) -> list:
        """The message arguments after the session id, samples as Python floats."""
        return [self.stem, self.step, self.start, self.xfade, self.position, self.index,
                self.count, self.final, *(float(v) for v in self.samples)]


def chunk_scenario(rng: np.random.Generator, *, hop: int = 4096, xfade: int = 256,
                   steps: int = 10, datagram: int = 2048, lose: float = 0.0,
                   quick_every: int = 0, stem: str = "drums") -> list[ChunkEvent]:
    """Chunks of ``steps`` regions of noise laid out as with ``w = 1`` (step k's output starts
    at ``hop·(k+1) - xfade``), in a shuffled order, a fraction ``lose`` of them lost, an eighth
    of them duplicated, and for every ``quick_every``-th step a quick (``final`` 0) version
    with other samples too (so some quick chunks come after their final one). For testing
    client writers (the reference client's :class:`StemWriter`, the Max and Pd patches)
    against each other."""
    events = []
    for k in range(steps):
        start = hop * (k + 1) - xfade
        total = hop + xfade
        versions = (0, 1) if quick_every and k % quick_every == 0 else (1,)
        for final in versions:
            x = (0.2 * rng.standard_normal(total)).astype(np.float32)
            layout = protocol.chunk_layout(total, stem, datagram)
            for i, (off, n) in enumerate(layout):
                events.append(ChunkEvent(stem, k, start, xfade, start + off, i, len(layout),
                                         final, x[off:off + n]))
    order = rng.permutation(len(events))
    kept = [events[int(i)] for i in order if rng.random() >= lose]
    duplicates = [kept[int(i)] for i in rng.integers(0, len(kept), len(kept) // 8)]
    return kept + duplicates


# -- the kernel's view of a client's socket ---------------------------------------------
def udp_drops(port: int) -> int | None:
    """The kernel's count of datagrams dropped at the UDP socket bound to ``port`` (the
    ``drops`` column of /proc/net/udp: receive buffer full), None where unreadable. The
    per-socket figure, unlike /proc/net/snmp's RcvbufErrors, is not moved by other programs."""
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port:
            return int(fields[-1])
    return None


def rcvbuf_errors() -> int | None:
    """System-wide UDP RcvbufErrors (/proc/net/snmp), None where unreadable."""
    try:
        rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()
                if line.startswith("Udp:")]
        return int(rows[1][rows[0].index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return None
