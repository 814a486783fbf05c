"""The one-shot recipe (``sideman train recipe``) and the training loop's deadline: the plan
that fits a time budget, checked with a fake clock (no wall-clock assertions), the budget
split, and the whole recipe end to end in its tiny form."""

from __future__ import annotations

import json
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
