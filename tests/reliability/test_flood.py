"""A flood beside real clients: tens of thousands of datagrams per second of garbage and of
well-formed messages without a valid session, from another process on loopback.

Compared with the same clients without the flood: their deadline misses do not rise, they
lose nothing (input or output), a new client can still join, memory stays bounded and the
drops are counted per source (metrics and ``Server.source_drops``)."""

from __future__ import annotations

import pytest

from sideman.bench.flood import check_loopback, flood_payloads
from sideman.bench.scenarios import FloodRun, Stream, run_flood
from sideman.server.testing import TinyClickTrack


def test_the_flooder_only_targets_loopback() -> None:
    check_loopback("127.0.0.1")
    check_loopback("::1")
    for host in ("192.168.1.10", "8.8.8.8", "localhost", "0.0.0.0"):
        with pytest.raises(ValueError, match="loopback"):
            check_loopback(host)
    with pytest.raises(ValueError, match="kinds"):
        flood_payloads(("garbage", "nope"), 0)


def test_flood_beside_real_clients() -> None:
    report = run_flood(TinyClickTrack(period=441, window_frames=512),
                       FloodRun(clients=2, rate=20000.0, sources=4,
                                stream=Stream(seconds=3.0)), seed=2)
    base, flood = report["baseline"], report["flood"]
    assert flood["flooder"]["rate"] >= 15000.0, flood["flooder"]
    bt, ft = base["totals"], flood["totals"]
    # The clients do as well as without the flood: no misses, nothing lost, aligned.
    assert ft["misses"] <= bt["misses"] == 0, (bt, ft)
    for t in (bt, ft):
        assert t["steps"] >= 30 and t["steps_complete"] == t["steps"], t
        assert t["lost_chunks"] == t["alignment_errors"] == t["click_errors"] == 0, t
        assert t["audit_misplaced"] == t["audit_lost_positions"] == 0, t
    for client in flood["clients"]:
        assert client["server_status"]["rejected"] == 0
        assert client["errors"] == []
    # The flood was dropped unread, and counted per source.
    server = flood["server"]
    counters = server["counters"]
    assert counters["datagrams_in"] >= 0.8 * flood["flooder"]["sent"]
    assert counters["rate_limited"] >= 0.9 * flood["flooder"]["sent"]
    drops = server["source_drops"]["127.0.0.1"]
    assert drops["rate_limited"] == counters["rate_limited"]
    assert drops["malformed"] > 0 and drops["unknown_session"] > 0
    assert server["kernel_drops"] in (0, None)
    # A new client joins during the flood (flood sessions never authenticate: evicted).
    assert flood["join_seconds"] is not None and flood["join_seconds"] < 2.0, \
        (flood["join_seconds"], counters["sessions_evicted"])
    # Bounded: sessions, tables, memory.
    assert server["sessions_max"] <= 16
    assert server["table_entries_max"] <= 64, server["table_entries_max"]
    assert server["rss_mb_max"] - server["rss_mb_before"] < 64, server
