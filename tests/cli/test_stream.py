"""``sideman client`` and ``demo`` while streaming: Ctrl-C keeps what was received (and says
bye), inputs too short for the geometry are refused or warned about, and a beat grid can be
sent (--bpm, --beats)."""

from __future__ import annotations

import _thread
import json
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sideman.cli.main import INTERRUPTED, main
from sideman.models.clicktrack import ClickTrack
from sideman.server.testing import live_server

RATE = 44100


def write(path: Path, seconds: float) -> Path:
    rng = np.random.default_rng(0)
    sf.write(path, rng.uniform(-0.1, 0.1, round(seconds * RATE)).astype(np.float32), RATE)
    return path


def interrupt_after(seconds: float) -> threading.Timer:
    """Ctrl-C in the main thread (where ``main`` runs) after ``seconds``."""
    timer = threading.Timer(seconds, _thread.interrupt_main)
    timer.start()
    return timer


@pytest.fixture
def ctrl_c_raises():
    """Python's own Ctrl-C handler while the test runs. A runner started in the background
    by a non-interactive shell inherits SIGINT ignored, and then ``interrupt_main`` does
    nothing: the stream would run to its end and the test would fail for the runner's sake."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def clicktrack():
    with live_server(ClickTrack(period=4410)) as (server, address):
        yield server, address


@pytest.mark.flaky(reruns=2, reruns_delay=2)
@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_in_client_writes_what_came_and_says_bye(clicktrack, tmp_path: Path,
                                                        capsys) -> None:
    server, (_host, port) = clicktrack
    song = write(tmp_path / "in.wav", 8.0)
    out = tmp_path / "out.wav"
    timer = interrupt_after(3.5)  # real time: steps at 0, 1.49 and 2.97 s have run
    try:
        code = main(["client", str(song), "--out", str(out), "--port", str(port)])
    finally:
        timer.cancel()
    assert code == INTERRUPTED
    printed = capsys.readouterr().out
    assert printed.startswith("interrupted: wrote")
    audio, rate = sf.read(out, dtype="float32")
    assert rate == RATE and len(audio) == 8 * RATE
    hits = np.flatnonzero(audio)
    assert hits.size > 5 and np.all(hits % 4410 == 0)
    stats = json.loads((tmp_path / "out.stats.json").read_text())
    assert stats["interrupted"] is True
    assert 0 < stats["steps_complete"] < stats["steps"]
    deadline = time.monotonic() + 2
    while server.sessions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.sessions  # closed by bye, not left to the idle timeout


@pytest.mark.flaky(reruns=2, reruns_delay=2)
@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_in_demo_keeps_what_was_made(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    timer = interrupt_after(4.0)
    try:
        code = main(["demo", "--model", "clicktrack", "--seconds", "9", "--out-dir", str(out)])
    finally:
        timer.cancel()
    assert code == INTERRUPTED
    for name in ("input.wav", "drums.wav", "mix.wav", "stats.json"):
        assert (out / name).is_file(), name
    drums, _ = sf.read(out / "drums.wav", dtype="float32")
    assert np.flatnonzero(drums).size > 5
    assert json.loads((out / "stats.json").read_text())["interrupted"] is True


def test_an_input_too_short_for_any_step_is_refused(clicktrack, tmp_path: Path,
                                                    capsys) -> None:
    _server, (_host, port) = clicktrack
    out = tmp_path / "o.wav"
    code = main(["client", str(write(tmp_path / "in.wav", 1.0)), "--out", str(out), "--port",
                 str(port), "--fast"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("sideman client: error: the input is 1.00 s, too short for r=0.25 "
                          "w=1"), err
    assert "smaller --r or --w" in err
    assert not out.exists()


def test_an_input_mostly_before_the_first_region_is_warned_about(clicktrack, tmp_path: Path,
                                                                  capsys) -> None:
    _server, (_host, port) = clicktrack
    code = main(["client", str(write(tmp_path / "in.wav", 2.0)), "--out",
                 str(tmp_path / "o.wav"), "--port", str(port), "--fast"])
    assert code == 0
    captured = capsys.readouterr()
    assert "sideman client: warning: only the last 0.51 s of the 2.00-s input get a part" \
        in captured.err
    assert "parts from 1.49 s" in captured.out


def test_client_sends_a_tempo_or_a_beat_file(clicktrack, tmp_path: Path) -> None:
    _server, (_host, port) = clicktrack
    song = write(tmp_path / "in.wav", 4.0)
    out = tmp_path / "o.wav"
    assert main(["client", str(song), "--out", str(out), "--port", str(port), "--fast",
                 "--bpm", "120"]) == 0
    effect = json.loads((tmp_path / "o.stats.json").read_text())["settings_in_effect"]
    bpm, position, per_bar, in_bar = effect["transport"]  # the last beat sent, acknowledged
    assert bpm == 120.0 and position % (RATE // 2) == 0 and per_bar == 4
    assert in_bar == (position // (RATE // 2)) % 4
    beats = tmp_path / "beats.txt"
    beats.write_text("# time beat\n0.25 3\n0.75 1\n1.25 2\n1.75 3\n")
    assert main(["client", str(song), "--out", str(out), "--port", str(port), "--fast",
                 "--beats", str(beats)]) == 0
    effect = json.loads((tmp_path / "o.stats.json").read_text())["settings_in_effect"]
    # the last beat captured before the last step (at 1.49 s): beat 2 of a 3-beat bar
    assert effect["transport"] == [120.0, round(1.25 * RATE), 3, 1]


def test_delay_in_milliseconds_is_the_patch_unit(clicktrack, tmp_path: Path) -> None:
    _server, (_host, port) = clicktrack
    song = write(tmp_path / "in.wav", 4.0)
    assert main(["client", str(song), "--out", str(tmp_path / "o.wav"), "--port", str(port),
                 "--fast", "--delay-ms", "10"]) == 0
    stats = json.loads((tmp_path / "o.stats.json").read_text())
    assert stats["settings_in_effect"]["delay"] == 441


def test_the_demo_sends_its_songs_true_beats_unless_told_not_to(tmp_path: Path,
                                                                capsys) -> None:
    from sideman.cli.live import DEMO_BEATS, DEMO_INPUT

    if not DEMO_INPUT.is_file():
        pytest.skip("no demo song (not a source tree)")
    out = tmp_path / "demo"
    assert main(["demo", "--model", "clicktrack", "--fast", "--seconds", "4", "--out-dir",
                 str(out)]) == 0
    assert f"beat grid from {DEMO_BEATS.name}" in capsys.readouterr().out
    bpm, _position, per_bar, in_bar = json.loads((out / "stats.json").read_text()
                                                )["settings_in_effect"]["transport"]
    assert 120 < bpm < 121.5 and per_bar == 4 and 0 <= in_bar < 4
    assert main(["demo", "--model", "clicktrack", "--fast", "--seconds", "4", "--out-dir",
                 str(out), "--bpm", "off"]) == 0
    assert "transport" not in json.loads((out / "stats.json").read_text())["settings_in_effect"]


def test_the_progress_bar_shows_seconds_streamed_on_a_terminal(monkeypatch) -> None:
    import io
    import sys

    from sideman.cli.live import _Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = _Progress(RATE, True, "sideman client")
    bar(RATE, 10 * RATE)
    bar.close()
    assert "sideman client: 1.0/10.0 s of audio" in screen.getvalue() or \
        "sideman client: 0.0/10.0 s of audio" in screen.getvalue()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    off = _Progress(RATE, False, "sideman client")
    off(RATE, 10 * RATE)
    off.close()
    assert quiet.getvalue() == ""
