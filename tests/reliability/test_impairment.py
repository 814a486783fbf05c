"""1, 4 and 8 real-time clients through a lossy, reordering, duplicating, jittery link.

The model is the click track with a short window (hops of 0.19 s), so these runs take
seconds; the soak (``sideman soak``) runs the same scenario for minutes with the default
model's compute cost. For every run:

* output stays sample-aligned: every chunk's start, position, index, count and length are
  what the plan says, and the clicks are exactly on the grid wherever a chunk arrived;
* nothing is lost that the network did not lose: chunk by chunk, the client received exactly
  the copies the proxy delivered (so duplicates are seen, counted and applied once), and its
  lost-chunk count equals the proxy's; every planned step was sent or reported superseded;
* concealed audio matches lost input: each context the model saw holds the sent samples where
  they arrived and silence where they did not (nothing misplaced); a sample the network lost
  is silent in every context; in the last context that holds a position, a sample the network
  delivered is present (unless it came after that step ran, which the server counts as late);
  the server counted every duplicated input sample;
* with no loss, no deadline is missed.
"""

from __future__ import annotations

import pytest

from sideman.bench.scenarios import ImpairmentRun, Stream, run_impairment
from sideman.server.testing import TinyClickTrack

#: live sockets in real time: a starved process misses deadlines that a quiet machine makes
pytestmark = pytest.mark.flaky(reruns=2, reruns_delay=2)

PERIOD = 441
#: (clients, loss, datagram bytes): 1500-byte datagrams in some cases, so a step's output is
#: two dozen datagrams and loss hits most steps a little.
CASES = [(1, 0.0, None), (1, 0.20, 1500), (4, 0.0, None), (4, 0.01, None), (4, 0.05, 1500),
         (8, 0.0, None), (8, 0.20, None)]


def check_run(report: dict, loss: float, *, clicks: bool = True) -> None:
    t = report["totals"]
    n = report["settings"]["clients"]
    assert len(report["clients"]) == n
    assert t["steps"] >= 15 * n, t
    # Sample-aligned.
    assert t["alignment_errors"] == 0, [c["alignment_examples"] for c in report["clients"]]
    if clicks:  # clicks exactly on the grid (a click-track model)
        assert t["click_errors"] == 0
    else:
        assert "click_errors" not in t
    # Nothing lost that the network did not lose; duplicates received as delivered.
    assert t["chunk_copy_mismatches"] == 0
    # Eight real-time clients, the proxy and the server share this test process: on a busy
    # 2-core machine a starved process can overflow a kernel socket buffer, a loss the proxy
    # does not see. Up to four clients, nothing may be lost beyond the proxy's drops.
    strict = n <= 4
    if strict:
        assert t["lost_chunks"] == t["network_lost_chunks"]
    else:
        assert t["lost_chunks"] >= t["network_lost_chunks"]
    assert t["steps_unaccounted"] == 0
    # Concealment: silence exactly where input was lost, nothing misplaced.
    assert t["audit_misplaced"] == 0
    assert t["audit_dropped_heard"] == 0
    for client in report["clients"]:
        # A delivered sample is silent in the last context that holds it only if it reached
        # the server after that step ran (a starved test process), and then the server
        # counted it as late.
        assert client["audit"]["delivered_silent"] <= client["server_status"]["late_in"]
    assert t["audit_settled_positions"] >= 0.7 * t["audit_positions"]
    for client in report["clients"]:
        assert client["errors"] == []
        status = client["server_status"]
        # a copy that arrives after its samples were released counts as late, not duplicate
        dup = client["network_duplicated_samples"]
        assert status["dup_in"] <= dup <= status["dup_in"] + status["late_in"]
        assert client["latency_p50_ms"] is not None
    proxy = report["proxy"]
    if loss > 0:
        assert proxy["up"]["dropped"] > 0 and proxy["down"]["dropped"] > 0
        assert t["samples_lost_by_network"] > 0 and t["audit_lost_positions"] > 0
        assert t["network_lost_chunks"] > 0
    else:
        assert proxy["up"]["dropped"] == proxy["down"]["dropped"] == 0
        assert t["audit_lost_positions"] == 0
        assert t["lost_chunks"] == 0 or not strict
        # No loss: the server missed no deadline. (Whether the chunks then reach the client
        # in time also depends on the proxy and the client's Python on this machine:
        # ``steps_late`` is reported, not asserted.)
        if strict:
            assert t["misses"] == 0, (report["latency_ms"], report["slack_ms"])
    assert proxy["up"]["held"] > 0  # the link reordered


@pytest.mark.parametrize(("clients", "loss", "datagram"), CASES)
def test_clients_through_an_impaired_link(clients: int, loss: float, datagram: int | None
                                          ) -> None:
    run = ImpairmentRun(clients=clients, loss=loss, reorder=0.05, duplicate=0.01, jitter=0.003,
                        stream=Stream(seconds=3.0, datagram=datagram), tail=0.8)
    report = run_impairment(TinyClickTrack(period=PERIOD, window_frames=512), run,
                            seed=clients * 100 + int(loss * 100))
    check_run(report, loss)


def test_bursty_loss_with_duplicates_everywhere() -> None:
    # Bursts of 4 datagrams on average, 10 % of datagrams doubled: the same guarantees.
    run = ImpairmentRun(clients=2, loss=0.05, burst=4.0, duplicate=0.1, reorder=0.05,
                        stream=Stream(seconds=3.0, datagram=1500), tail=0.8)
    report = run_impairment(TinyClickTrack(period=PERIOD, window_frames=512), run, seed=5)
    check_run(report, 0.05)
    assert report["proxy"]["up"]["burst_dropped"] == report["proxy"]["up"]["dropped"]
    assert report["totals"]["network_duplicated_chunks"] > 0


def test_the_default_model_misses_no_deadline_without_loss() -> None:
    # The embedded model at the live setting (w = 1), r = 0.125 (a hop of 0.74 s, the
    # tighter of its two trained ratios), through a link that reorders, duplicates and
    # jitters but loses nothing: every step is on time, aligned and fed the right input.
    from sideman.models.registry import load_generator

    generator = load_generator("default")
    run = ImpairmentRun(clients=1, loss=0.0, reorder=0.05, duplicate=0.01, jitter=0.003,
                        stream=Stream(seconds=12.5, r=0.125), tail=1.0)
    report = run_impairment(generator, run, seed=12)
    check_run(report, 0.0, clicks=False)
    assert report["model"] == "sideman-default"
    assert report["totals"]["misses"] == 0 and report["totals"]["steps"] >= 15
