"""100 000 hostile datagrams in-process, and more over UDP beside a real client.

The fuzzer mutates a corpus seeded with the inputs that break python-osc 1.10.2 (a bundle
element size of -4, far-future timetags, deep nesting, non-UTF-8 addresses, datagrams above
8192 bytes), generates messages for every address with random type tags, and sends
valid-looking messages to real sessions with wrong tokens, extreme positions and NaN or
infinite values. Nothing may raise; each datagram's handling is timed.

Time bounds, and why they are generous: this machine has two cores shared with training jobs,
so wall-clock time includes preemption. The bounds are on the thread's CPU time
(``time.thread_time``), which preemption does not inflate: 99.9 % of datagrams under 5 ms
and none over 50 ms (a datagram that really took 50 ms of CPU would mean an algorithmic
problem: typical handling is tens of microseconds). The report keeps the wall-clock figures.
"""

from __future__ import annotations

import pytest

from sideman.bench.fuzz import DatagramFuzzer, python_osc_failures, seed_corpus
from sideman.bench.scenarios import FuzzRun, Stream, run_fuzz
from sideman.server import osc
from sideman.server.testing import TinyClickTrack


def test_fuzzer_is_seeded_and_covers_its_kinds() -> None:
    a, b = DatagramFuzzer(3), DatagramFuzzer(3)
    first = [a.datagram() for _ in range(2000)]
    assert first == [b.datagram() for _ in range(2000)]
    assert first != [DatagramFuzzer(4).datagram() for _ in range(2000)]
    assert set(a.kinds) == set(DatagramFuzzer.KINDS)
    assert all(d in seed_corpus() for d in python_osc_failures())
    # The python-osc failure inputs are refused by our decoder, each for its reason.
    reasons = []
    for data in python_osc_failures():
        try:
            osc.decode(data, max_size=8192)
            reasons.append("ok")
        except osc.OscDecodeError as exc:
            reasons.append(exc.reason)
    assert reasons == ["bundle_size", "ok", "ok", "nesting", "address", "oversize"]


@pytest.fixture(scope="module")
def fuzz_report() -> dict:
    return run_fuzz(TinyClickTrack(period=441, window_frames=512),
                    FuzzRun(datagrams=100_000, udp_datagrams=8000, udp_rate=3000.0,
                            stream=Stream(seconds=3.0)), seed=1)


def test_hundred_thousand_datagrams_in_process(fuzz_report: dict) -> None:
    f = fuzz_report["in_process"]
    assert f["datagrams"] == 100_000 and f["exceptions"] == 0
    assert f["cpu_ms"]["p99_9"] < 5.0, f["cpu_ms"]
    assert f["cpu_ms"]["max"] < 50.0, f["slowest"]
    counters = f["server"]["counters"]
    assert counters["datagrams_in"] >= 100_000
    # Every refusal path was exercised, and so was the real session logic.
    assert set(counters["malformed"]) == set(osc.REASONS)
    for key in ("bad_message", "unknown_address", "unknown_session", "bad_token", "foreign",
                "timetags_ignored", "steps", "superseded"):
        assert counters[key] > 0, key
    assert f["sessions_opened"] > 4  # targets closed by the fuzz (bye, expiry) came back
    assert f["server_answers_after"] is True
    assert set(f["kinds"]) == {"mutation", "generated", "session", "random"}


@pytest.fixture
def udp_fuzz_report() -> dict:
    """The live half on its own (a retry re-runs it; the in-process half is kept short)."""
    return run_fuzz(TinyClickTrack(period=441, window_frames=512),
                    FuzzRun(datagrams=1000, udp_datagrams=8000, udp_rate=3000.0,
                            stream=Stream(seconds=3.0)), seed=1)


@pytest.mark.flaky(reruns=2, reruns_delay=2)
def test_a_client_beside_a_udp_fuzzer_loses_nothing(udp_fuzz_report: dict) -> None:
    udp = udp_fuzz_report["udp"]
    assert udp["fuzz_sent"] == 8000
    t, client = udp["totals"], udp["client"]
    assert t["steps"] >= 15 and t["steps_complete"] == t["steps"]
    assert t["lost_chunks"] == 0 and t["alignment_errors"] == 0 and t["click_errors"] == 0
    assert t["misses"] == 0
    assert t["audit_misplaced"] == 0 and t["audit_lost_positions"] == 0
    status = client["server_status"]
    # Not one valid datagram refused. (``lost_in`` is not asserted: at 3000 fuzz datagrams a
    # second a starved 2-core machine can overflow the kernel's socket buffer, which drops
    # whatever comes next, the client's audio included; the output above stays complete.)
    assert status["rejected"] == 0
    assert client["errors"] == []
    # The fuzz did reach the server (and was refused there).
    counters = udp["server"]["counters"]
    assert sum(counters["malformed"].values()) > 1000
