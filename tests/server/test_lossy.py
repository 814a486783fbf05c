"""Through a lossy, reordering, duplicating, jittery link nothing shifts and every loss is
counted, by the client and by the server, exactly as the proxy caused it."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from sideman.bench.impair import ImpairProxy
from sideman.client import ClientRunner, ClientSettings, RunOptions, StreamClient
from sideman.eval.network import Decider, Impairment
from sideman.server import osc, protocol
from sideman.server.testing import TinyClickTrack, live_server

PERIOD = 441
LINK = Impairment(loss=0.05, duplicate=0.05, reorder=0.1, reorder_delay=0.01, jitter=0.002)


def wait_idle(proxy: ImpairProxy, runner: ClientRunner) -> None:
    deadline = time.monotonic() + 10
    while not proxy.idle() and time.monotonic() < deadline:
        runner.pump(time.monotonic() + 0.02)
    runner.pump(time.monotonic() + 0.05)


def test_lossy_link_shifts_nothing_and_counts_every_loss() -> None:
    n = 120000
    audio = (0.1 * np.random.default_rng(1).standard_normal(n)).astype(np.float32)
    settings = ClientSettings(r=0.25, w=1, stems=("drums", "bass"), datagram=1500,
                              realtime=False)
    with live_server(TinyClickTrack(period=PERIOD)) as (_, address), \
            ImpairProxy(address, up=LINK, down=LINK, seed=11) as proxy:
        core = StreamClient(settings, 44100, n)
        runner = ClientRunner(core, proxy.address, options=RunOptions(
            fast=True, retry=0.1, quiet=0.06, pings=0, tail=0.05))
        try:
            runner.handshake()
            runner.stream(audio)
            wait_idle(proxy, runner)  # every datagram in flight has landed
            runner.finish()
            wait_idle(proxy, runner)
        finally:
            runner.close()
        up, down = proxy.records("up"), proxy.records("down")

    session = core.session
    # What the proxy did to the generated audio, chunk by chunk.
    copies: Counter = Counter()
    spans: dict[str, list[tuple[int, int]]] = {"drums": [], "bass": []}
    for record in down:
        (message,) = osc.decode(record.payload, max_size=65536).messages
        if message.address != protocol.CHUNK:
            continue
        chunk = protocol.parse_chunk(message)
        assert chunk.session == session
        copies[(chunk.stem, chunk.step, chunk.final, chunk.index)] += record.copies
        if record.copies:
            spans[chunk.stem].append((chunk.position, chunk.position + len(chunk.samples)))
    lost_chunks = sum(1 for c in copies.values() if c == 0)
    duplicated = sum(c - 1 for c in copies.values() if c > 1)
    assert lost_chunks > 0 and duplicated > 0  # the link really was lossy

    for stem, received in spans.items():
        buffer = core.writers[stem].buffer
        covered = np.zeros(n, bool)
        for a, b in received:
            covered[max(0, a):min(n, b)] = True
        hits = np.flatnonzero(buffer)
        # Nothing shifted: every sample that sounds is a click on the grid...
        assert np.all(hits % PERIOD == 0)
        # ...and the clicks are exactly those of the chunks that arrived: lost = silent.
        grid = np.arange(0, n, PERIOD)
        assert hits.tolist() == grid[covered[grid]].tolist()

    stats = core.stats()
    assert stats["lost_chunks"] == lost_chunks
    assert stats["duplicate_chunks"] == duplicated
    assert stats["steps"] == stats["server_status"]["steps"]

    # The server's input counters agree with what the proxy did to the audio.
    dropped = doubled = 0
    for record in up:
        (message,) = osc.decode(record.payload, max_size=65536).messages
        if message.address == protocol.AUDIO:
            samples = len(message.args) - 3
            dropped += samples if record.copies == 0 else 0
            doubled += samples * max(0, record.copies - 1)
    status = stats["server_status"]
    assert dropped > 0
    assert status["lost_in"] - status["late_in"] == dropped
    assert status["dup_in"] == doubled
    # A fast client sends exactly the samples before the last step's capture point.
    assert status["audio_in"] == max(p.capture for p in core.plan()) - dropped


def test_decider_is_seeded_and_honours_its_probabilities() -> None:
    a = [Decider(LINK, 5).decide() for _ in range(1)]
    first = Decider(LINK, 5)
    second = Decider(LINK, 5)
    runs = [first.decide() for _ in range(4000)]
    assert runs == [second.decide() for _ in range(4000)]
    assert a[0] == runs[0]
    lost = sum(1 for r in runs if not r) / len(runs)
    dups = sum(1 for r in runs if len(r) == 2) / len(runs)
    assert 0.04 < lost < 0.06 and 0.035 < dups < 0.06
    assert all(0 <= d <= 0.002 + 0.01 for r in runs for d in r)
