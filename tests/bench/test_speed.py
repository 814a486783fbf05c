"""``sideman bench``: the tiny quick run end to end, the report, options and helpers.

No timing is asserted (speed is measured, not tested): the checks are that every figure
exists, is positive where it is a time, and that counts add up.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sideman.bench import speed
from sideman.bench.speed import (
    STAGES,
    BenchError,
    BenchOptions,
    parse_prometheus,
    resolve_model,
    speedups,
    split_steps,
    summarize,
    targets,
)
from sideman.bench.speed_report import markdown, write_report
from sideman.cli.main import main

STAGE_KEYS = {"model", "sampler", "device", "codec", "model_calls", "r", "w", "hop_frames",
              "hop_ms", "threads", "stems", "num_steps", "num_steps_ran", "steps_measured",
              "blocks", "ms", "step_ms_samples", "rtf_p50", "rtf_p95", "fraction_of_hop_p50",
              "fraction_of_hop_p95", "load_average", "client"}
SECTION_KEYS = {"model", "threads", "runs", "batch_scaling", "peak_rss_mb", "startup"}
SESSION_KEYS = {"sessions", "max_batch", "threads", "r", "w", "load_average", "stems",
                "audio_seconds", "steps", "steps_complete", "misses", "superseded",
                "steps_late", "steps_lost", "deadline_misses", "degraded", "refined",
                "server_steps", "mean_batch", "step_ms", "stage_ms", "session_step_p95_ms_max",
                "slack_ms", "latency_ms", "lost_chunks", "wall_s", "server_cpu_s",
                "clients_cpu_s", "errors", "peak_rss_mb", "rss_mb", "startup"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One ``sideman bench --tiny --quick`` run shared by the tests below (about a minute)."""
    out = tmp_path_factory.mktemp("bench")
    code = main(["bench", "--tiny", "--quick", "--out", str(out), "--no-progress"])
    assert code == 0
    return out, json.loads((out / "bench.json").read_text())


def test_tiny_quick_run_writes_every_file(tiny_run: tuple[Path, dict]) -> None:
    out, result = tiny_run
    for name in ("bench.json", "bench.md", "latency_hist.png", "stages.png", "sessions.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "latency_hist.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["schema"] == speed.SCHEMA
    assert set(result) >= {"created", "options", "machine", "input", "stages", "sessions",
                           "gpu", "music2latent", "paper", "targets", "duration_s"}
    machine = result["machine"]
    assert machine["cpu_count"] >= 1 and machine["torch_threads_default"] >= 1
    assert len(machine["load_average_before"]) == 3
    text = (out / "bench.md").read_text()
    assert "## Targets" in text and "## Concurrent sessions over loopback" in text
    assert "random weights" in text
    # a toy model's speed is not held against the default model's targets or the paper
    assert "**missed**" not in text and "paper (GPU)" not in text
    assert "Beside the reference paper" not in text and "not compared" in text


def test_stage_figures_are_complete_and_positive(tiny_run: tuple[Path, dict]) -> None:
    _, result = tiny_run
    stages = result["stages"]
    assert set(stages["models"]) == {"teacher", "consistency"}
    teacher, distilled = stages["models"]["teacher"], stages["models"]["consistency"]
    assert (teacher["sampler"], teacher["model_calls"]) == ("heun", 2 * teacher["num_steps"] - 2)
    assert (distilled["sampler"], distilled["model_calls"]) == ("consistency", 2)
    runs = stages["runs"]
    # both samplers at both hop ratios, one thread count
    assert sorted((r["model"], r["r"]) for r in runs) == [
        ("consistency", 0.125), ("consistency", 0.25), ("teacher", 0.125), ("teacher", 0.25)]
    for row in runs:
        assert set(row) == STAGE_KEYS
        assert row["steps_measured"] == 3 == len(row["step_ms_samples"])
        assert row["num_steps_ran"] == [row["num_steps"]]  # full quality, never degraded
        for stage in (*STAGES, "step"):
            figures = row["ms"][stage]
            assert 0 < figures["p50"] <= figures["p95"] <= figures["max"], (stage, figures)
        step, parts = row["ms"]["step"]["mean"], sum(row["ms"][s]["mean"] for s in STAGES)
        assert parts <= step * 1.001  # the stages lie inside the step
        assert row["rtf_p50"] == pytest.approx(row["hop_ms"] / row["ms"]["step"]["p50"],
                                               rel=1e-2)
        assert row["client"]["steps"] == row["client"]["steps_complete"]
        assert row["client"]["lost_chunks"] == 0
    assert {(s["r"], s["threads"]) for s in stages["speedups"]} == {(0.125, 1), (0.25, 1)}
    for s in stages["speedups"]:
        assert s["sampling_p50"] > 0 and s["end_to_end_p50"] > 0
    # beside the paper: its teacher at r = 0.25, its distilled at r = 0.125, the speed-ups
    comparison = result["paper_comparison"]
    assert [(c["what"], c["r"]) for c in comparison] == [
        ("teacher step", 0.25), ("distilled step", 0.125), ("distilled over teacher", 0.125)]
    by_role = {(r["model"], r["r"]): r for r in runs}
    for c, role, paper in zip(comparison[:2], ("teacher", "consistency"),
                              (speed.PAPER["teacher"], speed.PAPER["distilled"]), strict=True):
        row = by_role[(role, c["r"])]
        assert c["ours_step_p50_ms"] == row["ms"]["step"]["p50"]
        assert c["rtf_ratio"] == pytest.approx(
            row["rtf_p50"] * paper["step_ms"] / paper["hop_ms"], rel=1e-2)
        assert c["step_ratio"] == pytest.approx(paper["step_ms"] / c["ours_step_p50_ms"],
                                                rel=1e-2)
    (at_eighth,) = [s for s in stages["speedups"] if s["r"] == 0.125]
    assert comparison[2]["sampling_speedup_ratio"] == pytest.approx(
        at_eighth["sampling_p50"] / speed.PAPER["sampling_speedup"], rel=1e-2)


def test_session_figures_count_up(tiny_run: tuple[Path, dict]) -> None:
    _, result = tiny_run
    section = result["sessions"]
    assert set(section) == SECTION_KEYS
    rows = [(r["sessions"], r["max_batch"]) for r in section["runs"]]
    assert rows == [(1, 8), (2, 8)]  # --quick leaves out the max_batch 1 rows
    for run in section["runs"]:
        assert set(run) == SESSION_KEYS
        assert run["steps"] > 0 and run["steps_complete"] <= run["steps"]
        # a step late, superseded or lost counts once, whoever noticed it
        assert run["steps_late"] <= run["deadline_misses"] <= (
            run["misses"] + run["superseded"] + run["steps_late"] + run["steps_lost"])
        assert run["deadline_misses"] <= run["steps"]
        assert run["server_steps"] >= run["steps_complete"]
        assert 1.0 <= run["mean_batch"] <= run["max_batch"]
        assert 0 < run["step_ms"]["p50"] <= run["step_ms"]["p95"]
        assert run["peak_rss_mb"] >= run["rss_mb"] > 10
        assert 0 < run["startup"]["listening_s"] < run["startup"]["first_chunk_s"]
        assert run["errors"] == []
        assert run["wall_s"] >= run["audio_seconds"]  # real time: at least the audio's length
        assert run["server_cpu_s"] > 0 and run["clients_cpu_s"] > 0
    # two sessions really ran at once: twice the steps of one
    one, two = section["runs"][0], section["runs"][1]
    assert two["steps"] == 2 * one["steps"]
    assert section["peak_rss_mb"] == max(r["peak_rss_mb"] for r in section["runs"])
    scaling = section["batch_scaling"]
    assert [row["batch"] for row in scaling] == [1, 2]
    assert scaling[0]["per_item_gain"] == 1.0
    for row in scaling:
        assert row["call_ms"] > 0 and row["per_item_ms"] == pytest.approx(
            row["call_ms"] / row["batch"], abs=2e-3)
        assert all(v > 0 for v in row["stage_ms"].values())
    assert section["startup"]["first_chunk_s"] == one["startup"]["first_chunk_s"]
    names = {t["name"] for t in result["targets"]}
    assert {"step_within_20pct_of_hop_p50_threads1", "peak_rss_under_1500mb"} <= names
    assert result["music2latent"]["status"].startswith(("skipped: no weights at", "measured"))
    assert result["gpu"]["status"] in ("measured", "no GPU (torch.cuda.is_available() is False)")


def test_report_says_by_how_much_a_target_is_missed(tiny_run: tuple[Path, dict],
                                                    tmp_path: Path) -> None:
    _, result = tiny_run
    result = copy.deepcopy(result)
    result["options"]["tiny"] = False  # as if a real model: targets are reported
    row = next(r for r in result["stages"]["runs"]
               if r["model"] == "consistency" and r["r"] == 0.125)
    row["ms"]["step"]["p50"] = 0.5 * row["hop_ms"]  # 2.5x the 20 % budget
    row["fraction_of_hop_p50"] = 0.5
    four = copy.deepcopy(result["sessions"]["runs"][1])
    four.update(sessions=4, deadline_misses=3, misses=3)
    one_at_a_time = copy.deepcopy(four)
    one_at_a_time.update(max_batch=1, deadline_misses=0, misses=0)
    one_at_a_time["step_ms"]["p50"] = 2 * four["step_ms"]["p50"]
    result["sessions"]["runs"] += [four, one_at_a_time]
    result["targets"] = targets(result)
    by_name = {t["name"]: t for t in result["targets"]}
    assert not by_name["step_within_20pct_of_hop_p50_threads1"]["met"]
    assert by_name["step_within_20pct_of_hop_p50_threads1"]["margin"] == pytest.approx(-0.3)
    assert not by_name["four_sessions_no_miss"]["met"]
    text = markdown(result)
    budget = 0.2 * row["hop_ms"]
    assert f"missed by {0.5 * row['hop_ms'] - budget:.0f} ms" in text
    assert "2.50× the budget" in text and "Where the p50 step goes: sample" in text
    assert "3 of" in text and "3 late" in text
    assert "- 4 sessions: batching gives step p50" in text and "(2.00×), 3 vs 0 missed" in text
    assert "| sessions in the call | call ms |" in text
    assert "| figure | r | threads | ours (p50) | paper (GPU) | ours / paper |" in text
    paths = write_report(result, tmp_path)
    assert json.loads(paths["json"].read_text())["targets"] == result["targets"]


def test_missing_packaged_model_is_a_clear_error(tmp_path: Path, capsys) -> None:
    code = main(["bench", "--out", str(tmp_path), "--model", str(tmp_path / "none"),
                 "--no-progress"])
    assert code == 2
    message = capsys.readouterr().err
    assert message.startswith("sideman bench: error: ")
    assert str(tmp_path / "none") in message and "--random-weights" in message
    assert not (tmp_path / "bench.json").exists()


def test_model_of_the_wrong_kind_is_refused(tmp_path: Path, monkeypatch) -> None:
    from sideman.models import pipeline
    from sideman.models.testing import tiny_pipeline

    tiny_pipeline().save_pretrained(tmp_path / "cm")
    assert resolve_model(str(tmp_path / "cm"), "consistency") == tmp_path / "cm"
    with pytest.raises(BenchError, match="is a 'consistency' model"):
        resolve_model(str(tmp_path / "cm"), "teacher")
    # the packaged names resolve beside the embedded default's directory
    monkeypatch.setattr(pipeline, "DEFAULT_WEIGHTS", tmp_path / "weights" / "default")
    with pytest.raises(BenchError, match="packaged model 'default-teacher' is not in this"):
        resolve_model("default-teacher", "teacher")
    tiny_pipeline().save_pretrained(tmp_path / "weights" / "default")
    assert resolve_model("default", "consistency") == tmp_path / "weights" / "default"


def test_trained_checkpoints_given_by_directory(tmp_path: Path) -> None:
    """The path the trained weights take: ``--model DIR --teacher DIR`` (no random models)."""
    from sideman.models.codecs import build_codec
    from sideman.models.pipeline import StreamingPipeline

    dirs = {}
    for kind in ("consistency", "teacher"):
        config = speed.tiny_architecture(kind)
        dirs[kind] = tmp_path / f"ckpt-{kind}"
        StreamingPipeline.random(config, build_codec(config.codec, config.codec_params),
                                 seed=3).save_pretrained(dirs[kind])
    out = tmp_path / "out"
    code = main(["bench", "--model", str(dirs["consistency"]), "--teacher",
                 str(dirs["teacher"]), "--quick", "--r", "0.25", "--steps", "1",
                 "--sessions", "1", "--out", str(out), "--no-progress"])
    assert code == 0
    result = json.loads((out / "bench.json").read_text())
    models = result["stages"]["models"]
    assert {role: d["path"] for role, d in models.items()} == {
        role: str(path) for role, path in dirs.items()}
    assert not any(d["random_weights"] for d in models.values())
    assert result["sessions"]["model"] == str(dirs["consistency"])
    assert [run["steps_measured"] for run in result["stages"]["runs"]] == [1, 1]
    text = (out / "bench.md").read_text()
    assert "random weights" not in text.lower()


@pytest.mark.parametrize(("given", "message"), [
    (dict(threads=(0,)), "--threads"), (dict(ratios=(0.0,)), "--r"),
    (dict(ratios=(1.5,)), "--r"), (dict(steps=0), "--steps"), (dict(stems=5), "--stems"),
    (dict(sessions=(0,)), "--sessions"), (dict(teacher_steps=0), "--teacher-steps"),
    (dict(session_seconds=0.5), "--session-seconds"), (dict(lookahead=-1), "--w"),
    (dict(max_batch=0), "--max-batch"),
])
def test_bad_options_name_the_option(given: dict, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        BenchOptions.preset(out=Path("x"), **given)


def test_quick_preset_fills_only_what_is_not_given() -> None:
    quick = BenchOptions.preset(out=Path("x"), quick=True, steps=None, sessions=(4,))
    assert (quick.steps, quick.sessions, quick.session_seconds) == (3, (4,), 3.0)
    assert not quick.unbatched
    assert BenchOptions.preset(out=Path("x"), quick=True, unbatched=True).unbatched
    full = BenchOptions.preset(out=Path("x"), steps=None, unbatched=None)
    assert (full.steps, full.sessions, full.unbatched) == (12, (1, 2, 4, 8), True)


def test_helpers() -> None:
    assert split_steps(12, 3) == [4, 4, 4] and split_steps(7, 3) == [3, 2, 2]
    assert split_steps(2, 3) == [1, 1] and sum(split_steps(13, 3)) == 13
    text = ('# HELP sideman_steps_total steps\nsideman_steps_total 12\n'
            'sideman_stage_seconds{stage="sample",quantile="0.50"} 0.25\n')
    assert parse_prometheus(text) == {
        "sideman_steps_total": 12.0, 'sideman_stage_seconds{stage="sample",quantile="0.50"}': 0.25}
    s = summarize([0.001, 0.002, 0.003])
    assert s["p50"] == 2.0 and s["max"] == 3.0 and s["mean"] == 2.0
    assert summarize([]) == {"p50": None, "p95": None, "mean": None, "max": None}
    ms = {k: {"p50": 1.0, "p95": 2.0} for k in ("sample", "step")}
    rows = [{"model": "teacher", "r": 0.25, "threads": 1, "model_calls": 15,
             "ms": {"sample": {"p50": 300.0, "p95": 400.0}, "step": {"p50": 400.0, "p95": 500.0}}},
            {"model": "consistency", "r": 0.25, "threads": 1, "model_calls": 2,
             "ms": {"sample": {"p50": 60.0, "p95": 80.0}, "step": {"p50": 100.0, "p95": 125.0}}},
            {"model": "consistency", "r": 0.125, "threads": 1, "model_calls": 2, "ms": ms}]
    (only,) = speedups(rows)  # r = 0.125 has no teacher row: no speed-up
    assert (only["sampling_p50"], only["end_to_end_p50"], only["end_to_end_p95"]) == (5.0, 4.0,
                                                                                       4.0)


def test_music2latent_section_with_a_tiny_checkpoint(tmp_path: Path) -> None:
    """The Music2Latent path (weights present) on a tiny random codec checkpoint."""
    import torch

    from sideman.models.codecs.music2latent import build_unet, save_package_checkpoint

    tiny = dict(base_channels=8, layers_list=[1, 1, 1, 1, 1], multipliers_list=[1, 1, 1, 1, 1],
                attention_list=[0, 0, 0, 0, 1], layers_list_encoder=[1, 1, 1, 1, 1],
                attention_list_encoder=[0, 0, 0, 0, 1], bottleneck_base_channels=16,
                num_bottleneck_layers=1, heads=2, cond_channels=16)
    weights = tmp_path / "m2l.pt"
    save_package_checkpoint(build_unet(tiny), weights)
    options = BenchOptions.preset(out=tmp_path, quick=True, m2l_weights=weights,
                                  m2l_hparams=tiny, ratios=(0.25,))
    assert speed.m2l_weights_path(options) == weights
    models = speed.m2l_models(weights, tiny, "cpu")
    rate = 44100
    audio = (0.1 * np.random.default_rng(0).standard_normal(12 * rate)).astype(np.float32)
    labels: list[str] = []
    with speed.torch_threads(1):
        section = speed.stage_section(models, options, audio, rate, steps=1, threads=(1,),
                                      tick=labels.append)
    assert torch.get_num_threads() >= 1
    assert len(labels) == 2  # teacher and distilled, one block each
    for row in section["runs"]:
        assert row["codec"] == "music2latent" and row["hop_frames"] == 16
        assert row["steps_measured"] == 1 and row["ms"]["step"]["p50"] > 0
    assert section["models"]["consistency"]["window_frames"] == 64


def test_serve_threads_option(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "sideman", "serve", "--model", "clicktrack",
                           "--threads", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == ("sideman serve: error: --threads 0 is out of range; "
                                   "allowed >= 1")


def test_missed_steps_counts_each_step_once() -> None:
    from types import SimpleNamespace

    from sideman.client.core import ClientSettings, PlannedStep, _StepLog

    plan = [PlannedStep(step=k, capture=100 * k, region=(100 * k + 100, 100 * k + 200),
                        out_start=100 * k + 100) for k in range(6)]
    logs = {
        0: _StepLog(arrivals={("drums", 1, 0): 0.5, ("bass", 1, 0): 0.9}),  # in time
        1: _StepLog(arrivals={("drums", 1, 0): 0.5, ("bass", 1, 0): 1.5},  # late and reported
                    miss_late=10),
        2: _StepLog(arrivals={("drums", 1, 0): 0.5}),  # bass lost
        3: _StepLog(superseded=True),
        # quick version in time, final one after the play time: in time
        4: _StepLog(arrivals={("drums", 0, 0): 0.2, ("bass", 0, 0): 0.3,
                              ("drums", 1, 0): 2.0, ("bass", 1, 0): 2.0}),
    }  # step 5: nothing arrived (lost)
    core = SimpleNamespace(plan=lambda: plan, steps=logs,
                           settings=ClientSettings(stems=("drums", "bass")),
                           play_time=lambda step, position: 1.0)
    assert speed.missed_steps(core) == 4  # steps 1, 2, 3 and 5
