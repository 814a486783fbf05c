"""``sideman soak`` end to end, every scenario for a couple of seconds: a JSON report with the
command and the machine, and a PNG, per scenario; bad arguments are refused."""

from __future__ import annotations

import json
from pathlib import Path

from sideman.cli.main import main

FIGURES = {
    "impairment": ("totals", "clients", "latency_ms", "slack_ms", "proxy", "server", "series"),
    "slow": ("recovery_hops", "probe", "stall", "steps", "unreported_bad_steps", "server"),
    "fuzz": ("in_process", "udp"),
    "flood": ("baseline", "flood"),
    "churn": ("in_process", "live"),
}


def test_soak_all_scenarios_briefly(tmp_path: Path, capsys) -> None:
    out = tmp_path / "soak"
    code = main(["soak", "--scenario", "all", "--minutes", "0.035", "--clients", "2",
                 "--loss", "0.05", "--model", "clicktrack", "--click-window-frames", "512",
                 "--fuzz-datagrams", "3000", "--fuzz-udp-rate", "1000", "--flood-rate", "3000",
                 "--churn-sessions", "100", "--stall-s", "1.0", "--out", str(out),
                 "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    for name, keys in FIGURES.items():
        report = json.loads((out / f"{name}.json").read_text())
        assert report["scenario"] == name and report["model"] == "clicktrack"
        assert report["command"]
        options = report["options"]
        assert (options["scenario"], options["minutes"], options["clients"]) == ("all", 0.035, 2)
        assert options["out"] == str(out)
        assert len(report["machine"]["loadavg"]) == 3 and report["machine"]["cpus"] >= 1
        for key in keys:
            assert key in report, (name, key)
        png = out / f"{name}.png"
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
        assert f"{name}:" in printed
    impairment = json.loads((out / "impairment.json").read_text())
    assert impairment["settings"]["clients"] == 2
    assert impairment["totals"]["alignment_errors"] == 0
    assert impairment["proxy"]["up"]["datagrams"] > 0


def test_soak_refuses_bad_arguments(tmp_path: Path, capsys) -> None:
    assert main(["soak", "--loss", "1.5", "--out", str(tmp_path)]) == 2
    assert "--loss 1.5 is out of range" in capsys.readouterr().err
    assert main(["soak", "--model", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    text = capsys.readouterr().err
    assert text.startswith("sideman soak: error: ") and len(text.splitlines()) == 1
    assert "unknown model" in text and "--random-default" in text
