"""The batch loader: each batch seeded by its step, the same with 0, 1 or 2 worker processes,
exact resume with workers, old checkpoints still load, workers stopped at the end and on
errors."""

from __future__ import annotations

import json
import logging
import multiprocessing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sideman.cli.main import main
from sideman.training.ldm import LdmOptions, model_config
from sideman.training.loader import BatchLoader, batch_generators
from sideman.training.stage import DataOptions, stage_data
from sideman.training.windows import WindowOptions

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def stage(data: Path, codec, cache):
    options = DataOptions(data=data, valid_windows=2, progress=False, p_drop_mixture=0.2,
                          p_corrupt_history=0.5)
    config = model_config(LdmOptions(unet="tiny", window_frames=64, hop_frames=(8, 16)),
                          codec, cache.sigma_data)
    window = WindowOptions(window_frames=64, silence_frames=64)
    return stage_data(cache, config, codec, options, window=window, batch_size=2, seed=5)


def _tensors(batch) -> list[torch.Tensor]:
    c = batch.cond
    return [batch.target, batch.hops, c.mixture, c.mixture_known, c.target, c.target_known,
            c.stem, c.beat]


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_tensors(a), _tensors(b), strict=True))


def test_batches_are_the_same_with_0_1_and_2_workers(stage, data: Path, codec) -> None:
    steps = [0, 1, 2, 3, 5, 6]  # a jump (as a resume makes) restarts the workers there
    drawn = {}
    for workers in (0, 1, 2):
        with stage.loader(6, workers) as loader:
            drawn[workers] = [loader.batch(s) for s in steps]
    for workers in (1, 2):
        assert all(_same(a, b) for a, b in zip(drawn[0], drawn[workers], strict=True))
    # a batch is a function of (seed, process, step): steps differ, processes differ
    assert not _same(drawn[0][0], drawn[0][1])
    with stage.loader(6) as inline:
        assert _same(inline.batch(3), drawn[0][3])
    other = stage_data(stage.cache, stage.config, codec, DataOptions(
        data=data, valid_windows=1, progress=False, p_drop_mixture=0.2,
        p_corrupt_history=0.5), window=stage.train.options, batch_size=1, seed=5,
        process_index=1)
    assert not _same(other.loader(6).batch(0), drawn[0][0])


def test_batch_generators_are_independent_streams() -> None:
    rng, gen = batch_generators(0, 0, 7)
    again, gen_again = batch_generators(0, 0, 7)
    assert rng.random() == again.random()
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=gen_again))
    assert batch_generators(0, 0, 8)[0].random() != batch_generators(0, 0, 7)[0].random()
    assert batch_generators(-1, 0, 0)[0].random() >= 0  # any seed is allowed


def _workers(loader: BatchLoader) -> list:
    iterator = loader._iterator
    assert iterator is not None
    return list(iterator._workers)


def test_the_workers_stop_at_close_and_on_an_error(stage) -> None:
    loader = stage.loader(2, 2)
    with loader:
        loader.batch(0)
        workers = _workers(loader)
        assert len(workers) == 2 and all(w.is_alive() for w in workers)
    assert not any(w.is_alive() for w in workers)
    with pytest.raises(RuntimeError, match="a step failed"), loader:
        loader.batch(0)
        workers = _workers(loader)
        raise RuntimeError("a step failed")
    assert not any(w.is_alive() for w in workers)


def test_bad_worker_counts_are_refused(stage, data: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="--loader-workers must be >= 0"):
        stage.loader(2, -1)
    with pytest.raises(ValueError, match="--loader-workers must be >= 0"):
        DataOptions(data=data, loader_workers=-1)
    assert main(["train", "ldm", "--data", str(data), "--out", str(tmp_path / "bad"),
                 "--smoke", "--no-progress", "--loader-workers", "-2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == ["sideman train ldm: error: --loader-workers must be >= 0 "
                                "(0: draw inline), got -2"]


def _losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in map(json.loads, (run / "log.jsonl").read_text()
                                              .splitlines()) if "loss" in r}


COMMON = ["train", "ldm", "--smoke", "--no-progress", "--lr-schedule", "constant",
          "--checkpoint-every", "2", "--tracker", "none", "--no-samples"]


def test_resume_with_workers_equals_an_uninterrupted_inline_run(data: Path, tmp_path: Path
                                                                ) -> None:
    whole, split = tmp_path / "whole", tmp_path / "split"
    common = [*COMMON, "--data", str(data)]
    assert main([*common, "--out", str(whole), "--steps", "4"]) == 0
    assert main([*common, "--out", str(split), "--steps", "2", "--loader-workers", "2"]) == 0
    assert main([*common, "--out", str(split), "--steps", "4", "--resume",
                 "--loader-workers", "1"]) == 0
    assert multiprocessing.active_children() == []  # the run stopped its workers
    assert _losses(split) == _losses(whole)
    a = load_file(str(whole / "model" / "model.safetensors"))
    b = load_file(str(split / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_checkpoint_of_the_sequential_scheme_resumes(data: Path, tmp_path: Path,
                                                       caplog) -> None:
    """Checkpoints written before per-step batches hold the window sampler's generator
    (``{"rng": ...}``) where the loader's state now is: they load, with one log line."""
    run = tmp_path / "old"
    common = [*COMMON, "--data", str(data), "--out", str(run)]
    assert main([*common, "--steps", "2"]) == 0
    (checkpoint,) = (run / "checkpoints").glob("step-*")
    windows = checkpoint / "custom_checkpoint_3.pkl"  # scheduler, EMA, counter, windows, ...
    assert torch.load(windows, weights_only=False) == {"scheme": "per-step"}
    old = np.random.Generator(np.random.PCG64(5000)).bit_generator.state
    torch.save({"rng": old}, windows)
    with caplog.at_level(logging.WARNING, logger="sideman.training.loader"):
        assert main([*common, "--steps", "4", "--resume"]) == 0
    said = [r.getMessage() for r in caplog.records if r.name == "sideman.training.loader"]
    assert len(said) == 1 and "another random stream" in said[0]
    assert sorted(_losses(run)) == [1, 2, 3, 4]


def test_measure_loader_reports_each_worker_count(data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "loader.json"
    assert main(["measure", "loader", "--data", str(data), "--batch-size", "2", "--workers",
                 "0", "1", "--batches", "2", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["workers"] for r in report["runs"]] == [0, 1] and report["same_batches"]
    assert all(r["batches_per_s"] > 0 and r["windows_per_s"] > 0 for r in report["runs"])
    assert report["runs"][0]["speedup"] == 1.0 and report["machine"]["cores"] >= 1
    assert set(report["inline_ms"]) == {"windows", "conditioning", "total"}
    assert json.loads(capsys.readouterr().out) == report
    assert main(["measure", "loader", "--data", str(data), "--workers", "-1"]) == 2


def test_validation_sees_the_true_grid_when_training_grids_are_wrong(stage, codec) -> None:
    wrong = stage_data(stage.cache, stage.config, codec, DataOptions(
        data=stage.cache.path, valid_windows=2, progress=False, p_drop_mixture=0.2,
        p_corrupt_history=0.5), window=replace(stage.train.options, p_wrong_grid=1.0),
        batch_size=2, seed=5)
    assert all(_same(a, b) for a, b in zip(wrong.valid, stage.valid, strict=True))
    rng = np.random.default_rng(0)
    song = stage.train.songs[0]
    true_beat = stage.train.window(song, 1, 40, np.random.default_rng(0))[2]
    assert not np.allclose(wrong.train.window(song, 1, 40, rng)[2], true_beat)
