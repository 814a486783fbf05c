"""The one-shot recipe (``sideman train recipe``) and the training loop's deadline: the plan
that fits a time budget, checked with a fake clock (no wall-clock assertions), the budget
split, and the whole recipe end to end in its tiny form."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from sideman.training.loop import LoopOptions, Trainer, lr_factor, plan_steps, read_log

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def fresh_accelerate() -> Iterator[None]:
    """accelerate keeps one state per process; these tests make trainers with other
    precisions than the tests before them."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _train(out: Path, clock: FakeClock, *, budget: float, step_seconds: list[float],
           eval_seconds: float = 3.0, export_seconds: float = 0.5, **options: object
           ) -> Trainer:
    """A linear model trained with ``step_seconds[i]`` fake seconds per step (the last value
    repeats), each validation ``eval_seconds`` and each export ``export_seconds``."""
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    settings: dict = dict(out=out, steps=10**6, warmup=50, log_every=1, tracker="none",
                          samples=False, progress=False, calibration_steps=4, evaluations=3,
                          deadline=clock.t + budget)
    settings.update(options)
    trainer = Trainer(model, LoopOptions(**settings), clock=clock)
    x = torch.randn(8, 4)
    calls = [0]

    def loss(m: nn.Module) -> torch.Tensor:
        clock.t += step_seconds[min(calls[0], len(step_seconds) - 1)]
        calls[0] += 1
        return m(x).pow(2).mean()

    def validate(m: nn.Module) -> dict[str, float]:
        clock.t += eval_seconds
        return {"valid": float(m(x).pow(2).mean())}

    def export(directory: Path, m: nn.Module) -> None:
        clock.t += export_seconds
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(m.state_dict(), directory / "weights.pt")

    trainer.run(loss, validate, export)
    return trainer


def test_plan_steps_reserves_the_evaluations_and_caps_warmup() -> None:
    options = LoopOptions(out=Path("x"), steps=10**6, warmup=500, evaluations=3)
    plan = plan_steps(5, 91.0, 1.0, 4.0, options)
    # 91 s: 4 for the final evaluation, 2 × 4 on the way, 79 one-second steps
    assert (plan.steps, plan.valid_every, plan.checkpoint_every) == (84, 27, 27)
    assert plan.warmup == 84 // 5 and plan.planned_at == 5
    assert plan_steps(5, 91.0, 1.0, 4.0, LoopOptions(out=Path("x"), steps=50)).steps == 50
    # no time left: still one step, and no evaluation on the way
    tight = plan_steps(5, 1.0, 1.0, 4.0, options)
    assert tight.steps == 6 and tight.valid_every == 1
    # slow evaluations take at most a quarter of the time
    slow = plan_steps(0, 100.0, 1.0, 30.0, options)
    assert slow.steps == 70 and slow.valid_every == 70


def test_a_deadline_fixes_the_run_length_and_the_schedule_ends_there(tmp_path: Path) -> None:
    clock = FakeClock()
    trainer = _train(tmp_path, clock, budget=100.0, step_seconds=[1.0])
    # steps 2-5 timed (1 s each), then one evaluation (3 s + 2 exports of 0.5 s) at step 5;
    # 91 s were left: the same plan as test_plan_steps' first
    assert trainer.plan.steps == 84 and trainer.counter.step == 84
    assert clock.t <= 1000.0 + 100.0
    records = read_log(tmp_path / "log.jsonl")
    (planned,) = [r for r in records if "plan" in r]
    assert planned["step"] == 5 and planned["plan"]["steps"] == 84
    assert planned["plan"]["seconds_per_step"] == pytest.approx(1.0)
    assert planned["plan"]["eval_seconds"] == pytest.approx(4.0)
    assert [r["step"] for r in records if "valid" in r] == [5, 32, 59, 84]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "step-0000005", "step-0000032", "step-0000059", "step-0000084"]
    assert (tmp_path / "model" / "weights.pt").is_file()
    assert not any("stopped" in r for r in records)
    # the cosine reached its floor at the planned last step
    last = [r for r in records if "loss" in r][-1]
    assert last["step"] == 84
    assert last["lr"] == pytest.approx(trainer.options.lr * trainer.options.min_lr_ratio)
    assert lr_factor(84, trainer.options, trainer.plan) == pytest.approx(
        trainer.options.min_lr_ratio)


def test_a_run_that_slows_down_stops_by_the_deadline_with_its_model(tmp_path: Path) -> None:
    clock = FakeClock()
    trainer = _train(tmp_path, clock, budget=100.0, step_seconds=[1.0] * 5 + [3.0])
    step = trainer.counter.step
    assert step < trainer.options.steps and step < 84  # planned for 1-s steps
    assert clock.t <= 1000.0 + 100.0
    records = read_log(tmp_path / "log.jsonl")
    assert {"step": step, "stopped": "deadline"} in records
    assert [r["step"] for r in records if "valid" in r][-1] == step
    assert (tmp_path / "models" / f"step-{step:07d}" / "weights.pt").is_file()


def test_a_deadline_before_the_plan_stops_at_once(tmp_path: Path) -> None:
    clock = FakeClock()
    trainer = _train(tmp_path, clock, budget=2.5, step_seconds=[1.0])
    assert trainer.counter.step == 3 and trainer.plan.planned_at is None
    records = read_log(tmp_path / "log.jsonl")
    assert {"step": 3, "stopped": "deadline"} in records
    assert (tmp_path / "model" / "weights.pt").is_file()


def test_without_a_deadline_the_steps_decide(tmp_path: Path) -> None:
    clock = FakeClock()
    trainer = _train(tmp_path, clock, budget=0.0, step_seconds=[100.0], deadline=None,
                     steps=6, valid_every=3, checkpoint_every=3)
    assert trainer.counter.step == 6 and trainer.plan.planned_at is None
    assert [r["step"] for r in read_log(tmp_path / "log.jsonl") if "valid" in r] == [3, 6]
    assert json.loads(json.dumps(trainer.counter.state_dict()))["step"] == 6


# ---- the budget --------------------------------------------------------------------------
def test_the_budget_split() -> None:
    from sideman.training.recipe import SHARES, budget_split, check_budget, training_deadlines

    split = budget_split(540.0)  # the 9-minute run
    assert split == pytest.approx({"data": 108.0, "teacher": 297.0, "distillation": 108.0,
                                   "finish": 27.0})
    assert sum(SHARES.values()) == pytest.approx(1.0)
    given = budget_split(540.0, synthesize=False)  # --data: the data share goes to training
    assert given["data"] == 0.0 and sum(given.values()) == pytest.approx(540.0)
    assert given["teacher"] / given["distillation"] == pytest.approx(0.55 / 0.20)
    # training starts late (the data phase overran): both training phases shrink alike
    teacher_end, cd_end = training_deadlines(200.0, 540.0, 540.0)
    assert cd_end == pytest.approx(513.0)
    assert (teacher_end - 200.0) / (cd_end - teacher_end) == pytest.approx(0.55 / 0.20)
    with pytest.raises(ValueError, match=r"at least 1\.25 minutes"):
        check_budget(60.0)
    assert check_budget(75.0)["distillation"] == pytest.approx(15.0)


def test_beside_a_gpu_all_cores_but_two_draw_batches() -> None:
    from sideman.training.recipe import gpu_loader_workers

    assert [gpu_loader_workers(n) for n in (1, 2, 3, 16)] == [0, 0, 1, 14]


def test_the_cache_encodes_alike_in_parallel(tmp_path: Path) -> None:
    import numpy as np

    from sideman.models.codecs import build_codec
    from sideman.training.cache import build_cache
    from sideman.training.synth.dataset import SynthOptions, synthesize

    data = tmp_path / "synth"
    synthesize(data, SynthOptions(seed=2, songs=3, seconds=3.0, sample_rate=22050),
               progress=False)
    codec = build_codec("mel")
    one = build_cache(data, tmp_path / "one", codec, progress=False)
    two = build_cache(data, tmp_path / "two", codec, progress=False, jobs=2)
    for path in one.glob("*.npz"):
        with np.load(path) as a, np.load(two / path.name) as b:
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key])
    assert (json.loads((one / "cache.json").read_text())["stats_train"]
            == json.loads((two / "cache.json").read_text())["stats_train"])


# ---- the recipe end to end ---------------------------------------------------------------
TINY = ["--smoke", "--jobs", "1", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from accelerate.state import AcceleratorState

    from sideman.cli.main import main

    AcceleratorState._reset_state(reset_partial_state=True)
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("recipe") / "out"
    try:
        assert main(["train", "recipe", "--out", str(out), "--budget-minutes", "5",
                     *TINY]) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def test_the_recipe_makes_a_student_and_a_teacher(recipe: Path) -> None:
    from safetensors import safe_open

    from sideman.models.registry import load_generator

    student, teacher = load_generator(str(recipe / "model")), load_generator(
        str(recipe / "teacher"))
    assert student.config.kind == "consistency" and teacher.config.kind == "teacher"
    assert student.config.window_frames == 64 and student.config.noise_scale == 1.0
    assert student.config.beat_phase == "sincos"
    with safe_open(str(recipe / "model" / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    with safe_open(str(recipe / "teacher" / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}


def test_the_recipe_records_each_phase(recipe: Path) -> None:
    record = json.loads((recipe / "recipe.json").read_text())
    phases = record["phases"]
    assert list(phases) == ["data", "teacher", "distillation", "finish"]
    assert all(phases[p]["seconds"] >= 0 for p in phases)
    assert phases["data"]["songs"] == 7 and phases["data"]["synthesized"]
    assert phases["data"]["splits"]["valid"] == 1
    assert (phases["teacher"]["steps"], phases["distillation"]["steps"]) == (6, 4)
    for p in ("teacher", "distillation"):
        assert phases[p]["planned_steps"] == phases[p]["steps"]
        assert phases[p]["windows_seen"] == phases[p]["steps"] * 2
        assert phases[p]["seconds_per_step"] > 0
        assert phases[p]["final_train_loss"] > 0 and phases[p]["final_valid_loss"] > 0
    assert record["budget_minutes"] == 5.0 and record["device"]["kind"] in ("cpu", "cuda")
    settings = record["settings"]
    assert (settings["history_corruption"], settings["mixture_dropout"],
            settings["beat_dropout"]) == (0.5, 0.1, 0.5)
    if record["device"]["kind"] == "cpu":  # the cores train: batches drawn inline
        assert settings["loader_workers"] == 0
    assert record["command"].startswith("sideman train recipe --out ")
    card = (recipe / "model" / "MODEL_CARD.md").read_text()
    assert record["command"] in card and "6 steps" in card
    for png in ("teacher-loss.png", "distillation-loss.png"):
        assert f"]({png})" in card and (recipe / "model" / png).stat().st_size > 1000


def test_ctrl_c_keeps_the_newest_student(recipe: Path, tmp_path: Path, monkeypatch,
                                         capsys) -> None:
    from sideman.cli.main import INTERRUPTED, main
    from sideman.models.registry import load_generator
    from sideman.training import recipe as module

    def teacher(o, data, run, *args):  # the finished run's teacher, at once
        shutil.copytree(recipe / "runs" / "teacher", run)
        return run / "model"

    def distil(o, data, teacher, run, *args):  # one export made, then Ctrl-C
        shutil.copytree(recipe / "runs" / "cd", run)
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "train_teacher", teacher)
    monkeypatch.setattr(module, "distil", distil)
    out = tmp_path / "out"
    assert main(["train", "recipe", "--out", str(out), "--budget-minutes", "5",
                 "--data", str(recipe / "data"), *TINY]) == INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    record = json.loads((out / "recipe.json").read_text())
    assert record["interrupted"] == "distillation" and "teacher" in record["phases"]
    assert not (out / "data").exists()  # --data: nothing synthesized
    assert load_generator(str(out / "model")).config.kind == "consistency"
    assert "Interrupted during distillation" in (out / "model" / "MODEL_CARD.md").read_text()


@pytest.mark.parametrize(("words", "message"), [
    (["--budget-minutes", "0.05"], "--budget-minutes 0.05 is too small"),
    (["--budget-minutes", "0"], "--budget-minutes 0 is out of range"),
    (["--budget-minutes", "5", "--songs", "0"], "--songs must be >= 1"),
    (["--budget-minutes", "5", "--batch-size", "0"], "--batch-size must be >= 1"),
    (["--budget-minutes", "5", "--loader-workers", "-1"], "--loader-workers must be >= 0"),
    (["--budget-minutes", "5", "--data", "no/such/folder"], "is not a directory"),
    (["--budget-minutes", "5", "--mixed-precision", "fp8"], "invalid choice"),
    (["--budget-minutes", "5", "--unet", "huge"], "--unet must be one of"),
    (["--budget-minutes", "5", "--soundfont", "no/such.sf2"], "is not a file"),
    (["--budget-minutes", "5", "--seconds", "0.5"], "seconds must be in [1, 3600]"),
    (["--budget-minutes", "five"], "invalid float value"),
])
def test_bad_input_is_one_line(words: list[str], message: str, tmp_path: Path,
                               capsys) -> None:
    from sideman.cli.main import main

    out = tmp_path / "out"
    try:
        code = main(["train", "recipe", "--out", str(out), *words, *TINY])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err, err
    assert len(err.splitlines()) == 1 and err.startswith("sideman train recipe: error:")
    assert not out.exists()


def test_a_folder_with_files_is_refused(tmp_path: Path, capsys) -> None:
    from sideman.cli.main import main

    (tmp_path / "kept.txt").write_text("mine")
    assert main(["train", "recipe", "--out", str(tmp_path), "--budget-minutes", "5",
                 *TINY]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["kept.txt"]
