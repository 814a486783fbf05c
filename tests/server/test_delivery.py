"""Paced, ordered delivery (server/delivery.py, issue 14): a step's datagrams leave in play
order, stems interleaved, at a pace that a client with the OS-default UDP receive buffer
(Linux 212 992 bytes) can take, first versions before refinements.

The pacer is driven on a simulated time line against a model of the client's kernel buffer
(an 8192-byte datagram occupies 16 KB of it on the loopback, as measured in issue 14: 13 of
them fit). Every test here fails with ``Pace(enabled=False)``, the one-burst delivery the
server had before."""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np
import pytest

from sideman.server import osc, protocol
from sideman.server.app import Server, ServerConfig
from sideman.server.clock import ManualClock
from sideman.server.delivery import Pace, PacedSender, Pacer, Parcel, play_order
from sideman.server.testing import TinyClickTrack

RATE = 44100
LINUX_RMEM_DEFAULT = 212992
A, B = ("127.0.0.1", 1001), ("127.0.0.1", 1002)


def truesize(n: int) -> int:
    """Bytes a UDP datagram of ``n`` bytes takes of the receive buffer on Linux loopback
    (the payload and headers in a power-of-two allocation)."""
    return 1 << (n + 600 - 1).bit_length()


def step_parcel(address, deadline: float | None, stems: int = 4, count: int = 33,
                size: int = 8192, refine: bool = False, tag: int = 0) -> Parcel:
    """A step of ``stems`` x ``count`` datagrams, already in play order; each payload names
    (tag, chunk index, stem) in its first bytes."""
    datagrams = deque(bytes([tag, i, s]) + bytes(size - 3)
                      for i in range(count) for s in range(stems))
    return Parcel(address=address, datagrams=datagrams, deadline=deadline, refine=refine)


def drive(pacer: Pacer, until: float = 10.0, tick: float = 1e-4
          ) -> list[tuple[float, Parcel, bytes]]:
    """Run the pacer on a simulated clock that jumps to each wake-up time."""
    now, out = 0.0, []
    while now < until:
        decision = pacer.poll(now)
        if decision is None:
            break
        if isinstance(decision, float):
            now = max(now + tick / 10, decision)
            continue
        parcel, payload = decision
        out.append((now, parcel, payload))
    return out


def client_losses(sent: list[tuple[float, bytes]], *, drain: float, stall: tuple[float, float],
                  buffer: int = LINUX_RMEM_DEFAULT) -> int:
    """Datagrams a client drops that reads one datagram every ``drain`` seconds except during
    ``stall`` (start, length): a patch's scheduler busy elsewhere."""
    queue: deque[int] = deque()
    used, lost, next_read = 0, 0, 0.0
    for at, payload in sent:
        while queue and next_read <= at:
            if stall[0] <= next_read < stall[0] + stall[1]:
                next_read = stall[0] + stall[1]
                continue
            used -= queue.popleft()
            next_read += drain
        next_read = max(next_read, at) if not queue else next_read
        size = truesize(len(payload))
        if used + size > buffer:
            lost += 1
        else:
            queue.append(size)
            used += size
    return lost


def test_play_order_interleaves_the_stems_by_position() -> None:
    drums = [(0, b"d0"), (1000, b"d1"), (2000, b"d2")]
    bass = [(0, b"b0"), (999, b"b1"), (1998, b"b2"), (2997, b"b3")]
    assert play_order([drums, bass]) == [b"d0", b"b0", b"b1", b"d1", b"b2", b"d2", b"b3"]


def test_a_real_hop_reaches_a_default_buffer_client_intact_and_in_time() -> None:
    """r = 0.25 of the default model at 44.1 kHz, four stems: 132 datagrams of 8 KB (about a
    megabyte) with 1.1 s before the deadline. A client that reads one datagram every 0.5 ms
    and stalls for 30 ms loses none, and the last datagram leaves well before the deadline;
    the burst never exceeds ``burst`` plus one datagram."""
    pace = Pace()
    pacer = Pacer(pace)
    pacer.push(step_parcel(A, deadline=1.1), 0.0)
    out = drive(pacer)
    assert len(out) == 132
    assert [p[:3] for _, _, p in out] == [bytes([0, i, s]) for i in range(33) for s in range(4)]
    times = np.array([t for t, _, _ in out])
    assert times[-1] < 1.1 * pace.spread + 0.01, "the pace must leave time before the deadline"
    # No window of 5 ms carries more than the burst plus what the pace refills in it.
    sizes = np.array([len(p) for _, _, p in out])
    for i in range(len(out)):
        window = sizes[(times >= times[i]) & (times < times[i] + 0.005)].sum()
        assert window <= pace.burst + 8192 + 0.005 * pace.max_rate, (i, window)
    sent = [(t, p) for t, _, p in out]
    assert client_losses(sent, drain=0.0005, stall=(0.1, 0.03)) == 0


def test_one_burst_overflows_the_default_buffer() -> None:
    """The measurement of issue 14 reproduced by the model: the same step sent in one loop
    leaves about 13 of the 8 KB datagrams in the client's buffer."""
    pacer = Pacer(Pace(enabled=False))
    pacer.push(step_parcel(A, deadline=1.1), 0.0)
    sent = [(t, p) for t, _, p in drive(pacer)]
    lost = client_losses(sent, drain=0.0005, stall=(0.1, 0.03))
    assert lost > 100


def test_the_pace_adapts_to_the_time_left() -> None:
    """With little time left the pace rises (up to ``max_rate``); with plenty it stays slow
    but never below ``min_rate``."""
    pace = Pace()
    # 132 x 8 KB: with 0.2 s left it leaves by 3/4 of that; with 2 s or 100 s at the
    # least rate (1 MB/s: about 1.07 s)
    for deadline, lo, hi in ((0.2, 0.14, 0.16), (2.0, 1.0, 1.1), (100.0, 1.0, 1.1)):
        pacer = Pacer(pace)
        pacer.push(step_parcel(A, deadline=deadline), 0.0)
        out = drive(pacer, until=200)
        assert lo <= out[-1][0] <= hi, (deadline, out[-1][0])
    # Offline (no deadline): the base rate.
    pacer = Pacer(pace)
    pacer.push(step_parcel(A, deadline=None), 0.0)
    out = drive(pacer)
    expected = (132 * 8192 - pace.burst) / pace.rate
    assert out[-1][0] == pytest.approx(expected, rel=0.05)


def test_first_versions_go_before_refinements() -> None:
    """A refinement queued first is overtaken by a later step's first version."""
    pacer = Pacer(Pace())
    pacer.push(step_parcel(A, deadline=2.0, refine=True, tag=1), 0.0)
    out = []
    now = 0.0
    while len(out) < 10:  # part of the refinement leaves
        decision = pacer.poll(now)
        if isinstance(decision, float):
            now = decision
            continue
        out.append(decision[1][0])
    pacer.push(step_parcel(A, deadline=1.0, tag=2), now)
    rest = [p[0] for _, _, p in drive_from(pacer, now)]
    first = rest.index(1)
    assert set(rest[:first]) == {2} and rest.count(2) == 132 and first == 132


def drive_from(pacer: Pacer, start: float) -> list[tuple[float, Parcel, bytes]]:
    now, out = start, []
    while (decision := pacer.poll(now)) is not None:
        if isinstance(decision, float):
            now = max(decision, now + 1e-6)
            continue
        out.append((now, *decision))
    return out


def test_clients_are_paced_independently() -> None:
    """Two clients each get their own pace: the second does not wait for the first."""
    pacer = Pacer(Pace())
    pacer.push(step_parcel(A, deadline=1.0, tag=1), 0.0)
    pacer.push(step_parcel(B, deadline=1.0, tag=2), 0.0)
    out = drive(pacer)
    last = {parcel.address: t for t, parcel, _ in out}
    assert abs(last[A] - last[B]) < 0.02


def test_a_dropped_session_stops_its_parcel() -> None:
    sent: list[bytes] = []
    sender = PacedSender(lambda payload, to: sent.append(payload), ManualClock()).start()
    alive = threading.Event()
    alive.set()
    done = threading.Event()
    parcel = step_parcel(A, deadline=None, count=40)
    parcel.alive = alive.is_set
    parcel.on_done = lambda first, last, n: done.set()
    try:
        sender.submit(parcel)
        waited = time.monotonic() + 5
        while not sent and time.monotonic() < waited:
            time.sleep(0.002)
        alive.clear()
        assert done.wait(5)
    finally:
        sender.stop()
    assert 0 < len(sent) < 160


# -- through the engine -----------------------------------------------------------------
def open_session(server: Server, sent: list, client, **settings: object) -> tuple[int, str]:
    server.handle_datagram(protocol.encode_hello(RATE, 1, "test"), client)
    welcome = [m for m in (osc.decode(p, max_size=65536).messages[0] for p, _ in sent)
               if m.address == protocol.WELCOME][-1]
    session, token = int(welcome.args[0]), str(welcome.args[1])
    for key, value in settings.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        server.handle_datagram(protocol.encode_session_message(
            protocol.SET, session, token, key, *values), client)
    return session, token


def run_real_hop(sender_running: bool) -> list[tuple[float, protocol.Chunk]]:
    """One step of a real hop (window 262144 samples, r = 0.25: 65536 samples), four stems,
    offline, through the server and its engine; returns (wall time, chunk) as sent."""
    clock = ManualClock()
    sent: list[tuple[bytes, tuple[str, int]]] = []
    stamps: list[float] = []

    def send(payload: bytes, to: tuple[str, int]) -> None:
        stamps.append(time.monotonic())
        sent.append((payload, to))

    server = Server(TinyClickTrack(window_frames=4096), ServerConfig(log_interval=0),
                    clock=clock, send=send)
    if sender_running:
        server.engine.delivery.start()
    try:
        session, token = open_session(server, sent, A, stems=["bass", "drums", "guitar",
                                                              "piano"], realtime=0, r=0.25)
        server.handle_datagram(protocol.encode_audio(session, token, 0, np.zeros(64)), A)
        server.tick()
        assert server.engine.process_ready() == 1
        deadline = time.monotonic() + 10
        while server.engine.delivery.pending() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.status(session)["chunks_out"] > 0
    finally:
        server.engine.delivery.stop()
    out = []
    for (payload, _), at in zip(sent, stamps, strict=True):
        message = osc.decode(payload, max_size=65536).messages[0]
        if message.address == protocol.CHUNK:
            out.append((at, protocol.parse_chunk(message)))
    return out


@pytest.mark.parametrize("running", [False, True])
def test_the_engine_sends_a_step_in_play_order(running: bool) -> None:
    chunks = [c for _, c in run_real_hop(running)]
    assert {c.stem for c in chunks} == {"bass", "drums", "guitar", "piano"}
    positions = [c.position for c in chunks]
    assert positions == sorted(positions)
    # Stems interleaved: the first four datagrams are the four stems' first chunks.
    assert sorted(c.stem for c in chunks[:4]) == ["bass", "drums", "guitar", "piano"]
    assert all(c.index == 0 for c in chunks[:4])


def test_the_live_engine_paces_a_real_hop() -> None:
    """Through the engine with the sender thread: the step (about a megabyte) is not sent
    in one burst."""
    out = run_real_hop(True)
    times = np.array([t for t, _ in out])
    sizes = np.array([len(c.samples) * 4 + 80 for _, c in out])
    pace = Pace()
    assert times[-1] - times[0] > 0.5 * (sizes.sum() - pace.burst) / pace.rate
    worst = max(sizes[(times >= t) & (times < t + 0.002)].sum() for t in times)
    assert worst <= pace.burst + 2 * 8192 + 0.002 * pace.max_rate
