"""The commands the README and docs/SERVER.md show: serve, client, demo."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sideman.cli.main import main
from sideman.models.base import GeneratorError, StepRequest, StepResult
from sideman.server.testing import TinyClickTrack, live_server

STATS_KEYS = {"steps", "steps_complete", "steps_lost", "steps_late", "misses", "superseded",
              "chunks_expected", "chunks_received", "lost_chunks", "late_chunks",
              "duplicate_chunks", "stale_chunks", "quick_chunks_ignored", "latency_p50_ms",
              "latency_p95_ms", "latency_p99_ms", "slack_p50_ms", "slack_min_ms",
              "rtt_p50_ms", "errors", "warnings", "server_status"}


def test_serve_and_client_on_a_file(tmp_path: Path) -> None:
    rate = 48000
    stereo = np.random.default_rng(0).uniform(-0.1, 0.1, (150001, 2)).astype(np.float32)
    sf.write(tmp_path / "in.wav", stereo, rate)
    serve = subprocess.Popen(
        [sys.executable, "-m", "sideman", "serve", "--model", "clicktrack", "--port", "0",
         "--click-period", "4800", "--log-interval", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        for line in serve.stdout:  # type: ignore[union-attr]
            if "udp://" in line:
                break
        port = int(re.search(r"udp://127\.0\.0\.1:(\d+)", line).group(1))  # type: ignore[union-attr]
        out = tmp_path / "out.wav"
        code = main(["client", str(tmp_path / "in.wav"), "--stem", "drums", "--stem", "bass",
                     "--out", str(out), "--port", str(port), "--r", "0.25", "--w", "1",
                     "--fast"])
        assert code == 0
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=20)
    assert serve.returncode == 0
    for stem in ("drums", "bass"):
        audio, got_rate = sf.read(tmp_path / f"out-{stem}.wav", dtype="float32")
        assert got_rate == rate and audio.shape == (150001,)
        hits = np.flatnonzero(audio)
        assert hits.size > 10 and np.all(hits % 4800 == 0)
    stats = json.loads((tmp_path / "out.stats.json").read_text())
    assert STATS_KEYS <= set(stats)
    assert stats["steps"] == stats["steps_complete"] and stats["lost_chunks"] == 0


def test_client_reports_a_missing_server(tmp_path: Path) -> None:
    sf.write(tmp_path / "in.wav", np.zeros(1000, np.float32), 44100)
    code = main(["client", str(tmp_path / "in.wav"), "--out", str(tmp_path / "o.wav"),
                 "--port", "9", "--fast", "--connect-timeout", "0.5"])
    assert code == 1
    assert not (tmp_path / "o.wav").exists()


def test_demo_with_the_click_track(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    code = main(["demo", "--model", "clicktrack", "--fast", "--seconds", "4",
                 "--out-dir", str(out), "--stem", "drums", "--r", "0.125"])
    assert code == 0
    inp, rate = sf.read(out / "input.wav", dtype="float32")
    drums, _ = sf.read(out / "drums.wav", dtype="float32")
    mix, _ = sf.read(out / "mix.wav", dtype="float32")
    assert rate == 44100 and len(inp) == len(drums) == len(mix) == 4 * 44100
    assert np.all(np.flatnonzero(drums) % 4410 == 0) and drums.max() == 1.0
    stats = json.loads((out / "stats.json").read_text())
    assert STATS_KEYS <= set(stats) and stats["model"] == "clicktrack"
    assert "wrote" in capsys.readouterr().out


def test_demo_says_when_the_server_rounds_a_setting(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    code = main(["demo", "--model", "clicktrack", "--fast", "--seconds", "3",
                 "--out-dir", str(out), "--stem", "drums", "--stem", "bass", "--r", "0.2"])
    assert code == 0
    err = capsys.readouterr().err
    assert re.search(r"sideman demo: server warning: r=0\.2 rounded to 0\.\d+ \(\d+ latent "
                     r"frames of \d+\)", err), err
    stats = json.loads((out / "stats.json").read_text())
    assert stats["settings"]["r"] == 0.2  # what was asked for
    effect = stats["settings_in_effect"]
    frames = int(re.search(r"\((\d+) latent frames of (\d+)\)", err).group(1))
    window = int(re.search(r"latent frames of (\d+)\)", err).group(1))
    assert effect["r"] == np.float32(frames / window) != np.float32(0.2)
    assert effect["w"] == 1 and effect["stems"] == ["drums", "bass"]


class FailsSteps(TinyClickTrack):
    """The tiny click track, except that the model fails the steps in ``fail``."""

    def __init__(self, fail: set[int]) -> None:
        super().__init__(period=441)
        self.fail = fail

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        if any(r.step in self.fail for r in requests):
            raise GeneratorError("this step fails on purpose")
        return super().generate(requests)


@pytest.mark.parametrize(("fail", "expected"), [(set(), 0), ({2}, 1)])
def test_client_exit_code_says_whether_every_step_completed(
        tmp_path: Path, capsys, fail: set[int], expected: int) -> None:
    # Scripts (and CI) read the exit code: 0 only when every planned step arrived whole.
    sf.write(tmp_path / "in.wav", np.zeros(44100, np.float32), 44100)
    with live_server(FailsSteps(fail)) as (_, (host, port)):
        code = main(["client", str(tmp_path / "in.wav"), "--out", str(tmp_path / "o.wav"),
                     "--host", host, "--port", str(port), "--r", "0.25", "--fast",
                     "--step-timeout", "1"])
    assert code == expected
    stats = json.loads((tmp_path / "o.stats.json").read_text())
    assert stats["steps"] > 4
    assert stats["steps"] - stats["steps_complete"] == len(fail), stats
