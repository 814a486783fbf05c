"""Churn: a thousand sessions opened and abandoned, and a client that drops its socket and
resumes from a new port.

In-process on a simulated clock, with tracemalloc: each session says hello, sends a hop of
audio and a mark (its steps run), and is abandoned; every wave expires. After a baseline
taken once the server's bounded histories are full, a thousand more sessions come and go and
the memory the server's and the model's code hold returns to the baseline (a leaked session
would keep about 0.7 MB of input buffer); no session object survives; every table is empty.
Live on loopback: a real-time client loses its socket for 0.4 s and resumes from a new port
while abandoned sessions come and go around it; its output stays aligned and every step
from two hops after the resume on plays normally. And a client whose ``bye`` ack is lost says
``bye`` again and takes the ``unknown_session`` answer as the close it asked for."""

from __future__ import annotations

from sideman.bench.scenarios import ChurnRun, Stream, churn_in_process, churn_live
from sideman.client import ClientSettings, StreamClient
from sideman.server import protocol
from sideman.server.app import Server, ServerConfig
from sideman.server.testing import TinyClickTrack


def test_a_thousand_abandoned_sessions_leave_nothing() -> None:
    report = churn_in_process(TinyClickTrack(period=441, window_frames=512),
                              ChurnRun(sessions=1000, wave=50, warm_waves=6))
    assert report["opened_after_baseline"] >= 1000 and report["refused"] == 0
    assert report["expired"] == report["opened"]
    assert report["steps"] >= 2 * report["opened"]  # every session's steps ran
    assert report["session_objects_alive"] == 0
    assert all(v == 0 for v in report["tables"].values()), report["tables"]
    assert abs(report["traced_kb_growth"]) < 64, report["trace"]


def test_a_client_resumes_from_a_new_port_amid_churn() -> None:
    report = churn_live(TinyClickTrack(period=441, window_frames=512),
                        ChurnRun(reconnect_at=1.5, reconnect_gap=0.4, live_sessions=50,
                                 idle_timeout=2.0, stream=Stream(seconds=4.0)))
    client = report["client"]
    assert client["reconnect"]["resumed_at_s"] is not None
    assert client["alignment_errors"] == 0 and client["click_errors"] == 0
    audit = client["audit"]
    assert audit["misplaced"] == 0 and audit["dropped_heard"] == 0
    # What was not sent during the gap is silent in the contexts, nothing else is.
    assert audit["lost_positions"] > 0
    assert audit["delivered_silent"] <= client["server_status"]["late_in"]
    # Normal output from two hops after the resume on, to the end.
    assert report["steps_after_resume"] >= 5
    assert report["steps_after_resume_ok"] == report["steps_after_resume"]
    # One session, one address: the old binding is gone, and all of it after bye.
    assert report["tables_while_resumed"] == {"nonces": 1, "bound": 1}
    assert report["tables_after_bye"] == {"nonces": 0, "sessions": 0}
    counters = report["server"]["counters"]
    assert report["abandoned_sessions"] == 50
    assert counters["sessions_opened"] == 51
    assert counters["sessions_expired"] + report["server"]["sessions_open"] == 50


def test_a_repeated_bye_whose_ack_was_lost_closes_cleanly() -> None:
    # Socket-free: the server closes the session on the first bye, its ack is lost, the
    # client says bye again and hears "no session": that is the close it asked for, not an
    # error. Before bye, the same error is one.
    sent: list[tuple[bytes, tuple[str, int]]] = []
    server = Server(TinyClickTrack(), ServerConfig(log_interval=0),
                    send=lambda payload, to: sent.append((payload, to)))
    me = ("127.0.0.1", 5001)
    core = StreamClient(ClientSettings(r=0.25, w=1, stems=("drums",)), 44100, 1000)

    def deliver(payload: bytes, *, lose: bool = False) -> None:
        server.handle_datagram(payload, me)
        replies = [p for p, to in sent if to == me]
        sent.clear()
        for reply in [] if lose else replies:
            core.on_datagram(reply, 0.0)

    deliver(core.hello())
    assert core.session is not None
    stranger = StreamClient(ClientSettings(r=0.25, w=1, stems=("drums",)), 44100, 1000)
    stranger.session, stranger.token = core.session + 1, "0" * 16
    deliver(stranger.status_request())  # a message for a session that does not exist
    assert [code for code, _ in core.errors] == [protocol.ErrorCode.UNKNOWN_SESSION]
    core.errors.clear()
    bye = core.bye()
    deliver(bye, lose=True)  # closed, but the ack never arrives
    assert server.sessions == {} and "bye" not in core.acks
    deliver(bye)
    assert server.counters.unknown_session == 2
    assert core.errors == [] and "bye" in core.acks
