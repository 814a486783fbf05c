"""The impairment proxy: seeded bursts (Gilbert–Elliott), a bandwidth queue, and counters that
say exactly what it did to each datagram."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from sideman.bench.impair import ImpairProxy
from sideman.eval.network import Decider, Impairment


def run_lengths(lost: list[bool]) -> list[int]:
    runs, n = [], 0
    for x in lost:
        if x:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs + ([n] if n else [])


def test_bursty_loss_has_the_asked_mean_loss_and_burst_length() -> None:
    imp = Impairment.with_bursts(0.05, 4.0)
    assert imp.expected_loss == pytest.approx(0.05)
    decider = Decider(imp, 3)
    fates = [decider.fate() for _ in range(100_000)]
    lost = [not f.delays for f in fates]
    assert sum(lost) / len(lost) == pytest.approx(0.05, abs=0.005)
    runs = run_lengths(lost)
    assert sum(runs) / len(runs) == pytest.approx(4.0, rel=0.1)
    # Every loss happened in the bad state; independent loss would give bursts of ~1.05.
    assert all(f.burst for f in fates if not f.delays)
    independent = run_lengths([not d.decide() for d in [Decider(Impairment(loss=0.05), 3)]
                               for _ in range(50_000)])
    assert sum(independent) / len(independent) < 1.1


def test_decisions_are_seeded_whatever_the_bursts() -> None:
    imp = Impairment.with_bursts(0.2, 3.0, duplicate=0.1, reorder=0.1, jitter=0.004)
    a, b = Decider(imp, 9), Decider(imp, 9)
    assert [a.fate() for _ in range(5000)] == [b.fate() for _ in range(5000)]
    # Another seed, another stream (one decider each, drawn from 50 times).
    c, d = Decider(imp, 10), Decider(imp, 9)
    assert [c.decide() for _ in range(50)] != [d.decide() for _ in range(50)]


@pytest.mark.parametrize(("bad", "named"), [
    (dict(loss=1.5), "loss"), (dict(burst_enter=-0.1), "burst_enter"),
    (dict(jitter=-1.0), "jitter"), (dict(burst_enter=0.1, burst_exit=0.0), "burst_exit"),
    (dict(rate=-5.0), "rate")])
def test_bad_impairments_are_refused_naming_the_field(bad: dict, named: str) -> None:
    with pytest.raises(ValueError) as info:
        Impairment(**bad)
    assert named in str(info.value)


def test_with_bursts_validates() -> None:
    with pytest.raises(ValueError, match="mean_burst"):
        Impairment.with_bursts(0.05, 0.5)
    with pytest.raises(ValueError, match="loss"):
        Impairment.with_bursts(1.0, 2.0)


class Echo:
    """A UDP echo server on loopback that records arrival order."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.got: list[tuple[bytes, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            self.got.append((data, time.monotonic()))
            self.sock.sendto(data, source)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def settle(proxy: ImpairProxy, datagrams: int) -> dict:
    """Wait until the proxy has read ``datagrams`` datagrams upstream and delivered all."""
    deadline = time.monotonic() + 5
    while proxy.stats()["up"]["datagrams"] < datagrams and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proxy.wait_idle(5)
    time.sleep(0.05)  # the echoes come back
    return proxy.stats()


def test_counters_match_the_log_and_what_arrived() -> None:
    echo = Echo()
    up = Impairment(loss=0.1, duplicate=0.1, reorder=0.2, reorder_delay=0.005, jitter=0.001)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(0.5)
    seen = []
    try:
        with ImpairProxy(echo.address, up=up, seed=4, observer=seen.append) as proxy:
            for i in range(400):
                client.sendto(i.to_bytes(4, "big"), proxy.address)
                time.sleep(0.0005)
            stats = settle(proxy, 400)
            log = proxy.records("up")
    finally:
        client.close()
        echo.close()
    assert len(seen) == len(proxy.log) == stats["up"]["datagrams"] + stats["down"]["datagrams"]
    assert stats["up"]["datagrams"] == 400 == len(log)
    assert stats["up"]["dropped"] == sum(1 for r in log if r.copies == 0) > 0
    assert stats["up"]["duplicated"] == sum(1 for r in log if r.copies == 2) > 0
    assert stats["up"]["delivered"] == sum(r.copies for r in log)
    # The echo server received exactly the copies the proxy says it delivered...
    arrived = [int.from_bytes(d, "big") for d, _ in echo.got]
    assert len(arrived) == stats["up"]["delivered"]
    for r in log:
        assert arrived.count(r.seq) == r.copies
    # ...and "reordered" counts first copies that came after a later datagram.
    firsts, highest, out_of_order = set(), -1, 0
    for n in arrived:
        if n not in firsts:
            firsts.add(n)
            out_of_order += n < highest
            highest = max(highest, n)
    assert stats["up"]["reordered"] == out_of_order > 0
    # The down direction had no impairment: every echo came back once.
    assert stats["down"]["dropped"] == stats["down"]["duplicated"] == 0


@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_bandwidth_limit_delays_and_drops_from_the_queue() -> None:
    echo = Echo()
    # 100 kB/s with a 50 ms queue: 1000-byte datagrams leave every 10 ms; a burst of 20 fills
    # the queue after 5 and the rest are dropped.
    up = Impairment(rate=100_000.0, queue=0.05)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    try:
        with ImpairProxy(echo.address, up=up, seed=1) as proxy:
            sent_at = time.monotonic()
            for i in range(20):
                client.sendto(i.to_bytes(4, "big") + bytes(996), proxy.address)
            stats = settle(proxy, 20)["up"]
    finally:
        client.close()
        echo.close()
    assert stats["queue_dropped"] > 0
    assert stats["delivered"] == 20 - stats["queue_dropped"] == len(echo.got)
    # Serialised at the link rate: the last one left at least (n - 1) * 10 ms after the first.
    times = sorted(t for _, t in echo.got)
    assert times[-1] - times[0] >= 0.009 * (len(times) - 1)
    assert times[0] - sent_at >= 0.0
