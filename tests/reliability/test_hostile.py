"""One hostile *authenticated* session beside an honest real-time client (issue 15).

Live on loopback: the hostile client completes the handshake and then does what the issue
measured — the shortest hop the server accepts on every stem, audio of 1e38, a mark at the
edge of its input every few milliseconds, resets and ``set r`` as fast as it can send them,
bundles of session-less pings, and bundles of hellos aiming their replies at a bystander
port. The honest client must lose nothing and miss nothing, and a third source's pings must
be answered. Twice: on the tiny click track (an instant model: the receive loop and the
budgets) and on the embedded default model (real model time to share: fair scheduling and
the hop check). The bounds are generous: the test machine may be a busy 2-core box.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import numpy as np
import pytest

from sideman.client import ClientSettings, RunOptions, run_client
from sideman.models.base import Generator
from sideman.server import osc, protocol
from sideman.server.app import Server
from sideman.server.testing import RawClient, TinyClickTrack, live_server

pytestmark = pytest.mark.flaky(reruns=2, reruns_delay=2)


def shortest_hop(raw: RawClient) -> float:
    """Ask for a one-frame hop; a server that refuses it says the smallest r that fits."""
    raw.send_session(protocol.SET, "r", 1 / 256)
    reply, _ = raw.wait_for(lambda m: m.address == protocol.ERROR or (
        m.address == protocol.ACK and m.args[1] == "r"), timeout=10.0)
    assert reply is not None
    if reply.address == protocol.ACK:
        return 1 / 256
    found = re.search(r"choose r >= ([0-9.e-]+)", str(reply.args[2]))
    assert found, reply.args
    r = float(found.group(1))
    raw.send_session(protocol.SET, "r", r)
    return r


def hostile(address: tuple[str, int], stop: threading.Event, sent: list[int],
            ready: threading.Event) -> None:
    raw = RawClient(address)
    bystander = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bystander.bind(("127.0.0.1", 0))
    try:
        raw.hello()
        for key, *values in (("stems", "bass", "drums", "guitar", "piano"), ("steps", 8)):
            raw.send_session(protocol.SET, key, *values)
        r = shortest_hop(raw)
        ready.set()
        raw.send_session(protocol.AUDIO, 0, np.full(64, 1e38, np.float32))
        pings = osc.encode_bundle([protocol.encode_ping(i) for i in range(300)])
        hellos = osc.encode_bundle([protocol.encode_hello(
            44100, 7, "x", reply_port=bystander.getsockname()[1]) for _ in range(150)])
        started = time.monotonic()
        n = 0
        while not stop.is_set():
            position = int((time.monotonic() - started) * 44100)
            raw.send_session(protocol.MARK, position + 40000)
            raw.send_session(protocol.SET, "r", r)
            raw.send_session(protocol.RESET)
            raw.send(pings)
            raw.send(hellos)
            n += 5
            time.sleep(0.003)
        sent.append(n)
    finally:
        ready.set()
        raw.close()
        bystander.close()


def attack(server: Server, address: tuple[str, int], audio: np.ndarray, rate: int,
           settings: ClientSettings) -> tuple[dict, list[float | None], int]:
    """The honest client's stats, a bystander's ping round trips and the datagrams the
    attacker sent, with the attack under way from before the honest client's hello."""
    stop, ready = threading.Event(), threading.Event()
    sent: list[int] = []
    attacker = threading.Thread(target=hostile, args=(address, stop, sent, ready), daemon=True)
    attacker.start()
    assert ready.wait(timeout=20)
    time.sleep(0.3)  # the attack is under way before the honest client says hello
    rtts: list[float | None] = []

    def pinger() -> None:
        probe = RawClient(address)
        try:
            for stamp in range(12):
                rtts.append(probe.ping(stamp, timeout=2.0)[0])
                time.sleep(0.1)
        finally:
            probe.close()

    pings = threading.Thread(target=pinger, daemon=True)
    pings.start()
    core = run_client(audio, rate, settings, address,
                      options=RunOptions(pings=2, handshake_timeout=10.0), name="honest")
    pings.join(timeout=10)
    stop.set()
    attacker.join(timeout=10)
    return core.stats(), rtts, sent[0] if sent else 0


def check(stats: dict, rtts: list[float | None], sent: int, server: Server) -> None:
    assert sent > 100  # the attack ran the whole time
    assert stats["steps_complete"] == stats["steps"] > 0, stats
    assert stats["misses"] == 0 and stats["lost_chunks"] == 0, stats
    assert stats["server_status"]["model_errors"] == 0
    answered = [r for r in rtts if r is not None]
    assert len(answered) == len(rtts) == 12
    assert sorted(answered)[len(answered) // 2] < 0.1 and max(answered) < 1.0, answered
    assert server.counters.rate_limited > 0  # the budgets did the work


def test_a_hostile_session_does_not_hurt_an_honest_client() -> None:
    audio = (0.1 * np.random.default_rng(0).standard_normal(2 * 44100)).astype(np.float32)
    with live_server(TinyClickTrack(period=441)) as (server, address):
        stats, rtts, sent = attack(server, address, audio, 44100,
                                   ClientSettings(r=0.25, w=1, stems=("bass",)))
        check(stats, rtts, sent, server)


@pytest.fixture(scope="module")
def default_model() -> Generator:
    from sideman.models.registry import load_generator

    return load_generator("default")


def test_a_hostile_session_does_not_hurt_an_honest_client_on_the_default_model(
        default_model: Generator) -> None:
    # The embedded model at r = 0.25 (a hop of 1.49 s), live (w = 1), one stem, 4.5 s of
    # audio; the attacker asks for 8 sampling steps on all four stems at the shortest hop
    # the server accepts. The honest client may wait for one call of the attacker's before
    # its own: the claim is only testable where the two fit in its hop.
    info = default_model.info
    with live_server(default_model) as (server, address):
        server.engine.warmup()
        cost = server.engine.cost
        hop = info.window_frames // 4 * info.hop_length / info.sample_rate
        need = cost.predict(info.default_steps, 1) + cost.predict(1, 4)
        if need > 0.6 * hop:
            pytest.skip(f"this machine runs the default model too slowly to test sharing "
                        f"it: one call of the honest client's and one of the attacker's take "
                        f"{need:.2f} s, over 60 % of the {hop:.2f} s hop")
        rate = info.sample_rate
        audio = (0.1 * np.random.default_rng(1).standard_normal(int(4.5 * rate))
                 ).astype(np.float32)
        stats, rtts, sent = attack(server, address, audio, rate,
                                   ClientSettings(r=0.25, w=1, stems=("bass",)))
        check(stats, rtts, sent, server)
