"""One hostile *authenticated* session beside an honest real-time client (issue 15).

Live on loopback with the tiny click track (instant model, short window): the hostile client
completes the handshake and then does what the issue measured — a one-frame hop on every
stem, audio of 1e38, a mark at the edge of its input every few milliseconds, resets and
``set r`` as fast as it can send them, bundles of session-less pings, and bundles of hellos
aiming their replies at a bystander port. The honest client must lose nothing and miss
nothing, and a third source's pings must be answered. The bounds are generous: the test
machine may be a busy 2-core box.
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np

from sideman.server import osc, protocol
from sideman.server.client import ClientSettings, RunOptions, run_client
from sideman.server.testing import RawClient, TinyClickTrack, live_server


def hostile(address: tuple[str, int], stop: threading.Event, sent: list[int]) -> None:
    raw = RawClient(address)
    bystander = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bystander.bind(("127.0.0.1", 0))
    try:
        raw.hello()
        for key, *values in (("stems", "bass", "drums", "guitar", "piano"), ("steps", 8),
                             ("r", 1 / 256)):
            raw.send_session(protocol.SET, key, *values)
        raw.send_session(protocol.AUDIO, 0, np.full(64, 1e38, np.float32))
        pings = osc.encode_bundle([protocol.encode_ping(i) for i in range(300)])
        hellos = osc.encode_bundle([protocol.encode_hello(
            44100, 7, "x", reply_port=bystander.getsockname()[1]) for _ in range(150)])
        started = time.monotonic()
        n = 0
        while not stop.is_set():
            position = int((time.monotonic() - started) * 44100)
            raw.send_session(protocol.MARK, position + 40000)
            raw.send_session(protocol.SET, "r", 1 / 256)
            raw.send_session(protocol.RESET)
            raw.send(pings)
            raw.send(hellos)
            n += 5
            time.sleep(0.003)
        sent.append(n)
    finally:
        raw.close()
        bystander.close()


def test_a_hostile_session_does_not_hurt_an_honest_client() -> None:
    stop = threading.Event()
    sent: list[int] = []
    with live_server(TinyClickTrack(period=441)) as (server, address):
        attacker = threading.Thread(target=hostile, args=(address, stop, sent), daemon=True)
        attacker.start()
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
        audio = (0.1 * np.random.default_rng(0).standard_normal(2 * 44100)).astype(np.float32)
        core = run_client(audio, 44100, ClientSettings(r=0.25, w=1, stems=("bass",)),
                          address, options=RunOptions(pings=2), name="honest")
        pings.join(timeout=10)
        stop.set()
        attacker.join(timeout=10)
        counters = server.counters
    assert sent and sent[0] > 100  # the attack ran the whole time
    stats = core.stats()
    assert stats["steps_complete"] == stats["steps"] > 0, stats
    assert stats["misses"] == 0 and stats["lost_chunks"] == 0, stats
    assert stats["server_status"]["model_errors"] == 0
    answered = [r for r in rtts if r is not None]
    assert len(answered) == len(rtts) == 12
    assert sorted(answered)[len(answered) // 2] < 0.1 and max(answered) < 1.0, answered
    assert counters.rate_limited > 0  # the budgets did the work
