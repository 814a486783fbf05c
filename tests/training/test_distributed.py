"""The distributed path: ``accelerate launch`` with the committed multi-GPU config, on two
CPU processes (gloo), trains the tiny smoke model end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sideman.training.synth.dataset import SynthOptions, synthesize

ROOT = Path(__file__).resolve().parents[2]


def test_two_processes_train_together(tmp_path: Path) -> None:
    data = tmp_path / "synth"
    synthesize(data, SynthOptions(seed=3, songs=3, seconds=4.0,
                                  split_fractions=(0.67, 0.33, 0.0)), progress=False)
    out = tmp_path / "ddp"
    # ACCELERATE_USE_CPU: the multi-GPU launcher's processes form a gloo group on CPUs
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "CUDA_VISIBLE_DEVICES": "",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
         str(ROOT / "docs" / "accelerate" / "multi_gpu.yaml"), "--num_processes", "2",
         "-m", "sideman.cli", "train", "ldm", "--data", str(data), "--out", str(out),
         "--smoke", "--no-progress", "--no-samples"],
        env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads((out / "run.json").read_text())
    assert run["processes"] == 2
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4]  # written once
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-0000002",
                                                                       "step-0000004"]
    assert (out / "model" / "model.safetensors").is_file() and (out / "config.toml").is_file()
    assert done.stdout.count("model: ") == 2  # both processes finished
