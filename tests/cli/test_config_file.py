"""``--config FILE`` for ``train ldm``, ``train cd`` and ``eval sweep``: the file's values
become the command's, the command line overrides them, unknown keys are one error line, and
the ``OUT/config.toml`` a run writes parses back to the same options."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sideman.cli.config_file import CONFIG_NAME, expand_argv, write_config
from sideman.cli.main import build_parser, main

COMMANDS = {
    "ldm": ["train", "ldm", "--data", "d", "--out", "OUT", "--smoke", "--hops", "8,16,32",
            "--lr", "1e-4", "--no-beat-grid", "--resume"],
    "cd": ["train", "cd", "--teacher", "t/model", "--data", "d", "--out", "OUT",
           "--steps", "7", "--distance", "l2", "--cache", "c"],
    "sweep": ["eval", "sweep", "--data", "d", "--out", "OUT", "--r", "0.25", "0.125",
              "--w", "-1", "0", "1", "--song", "a", "--song", "b", "--latency", "7.5",
              "--split", "validation", "--save-audio", "--shard", "1/3"],
}


def resolve(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = build_parser()
    words, command = expand_argv(parser, argv)
    return command, parser.parse_args(words)


def settings(args: argparse.Namespace) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ("config", "resume")}


@pytest.mark.parametrize("name", COMMANDS)
def test_written_config_reproduces_the_options(name: str, tmp_path: Path) -> None:
    argv = [str(tmp_path / w) if w == "OUT" else w for w in COMMANDS[name]]
    command, first = resolve(argv)
    path = write_config(command, first)
    assert path == tmp_path / "OUT" / CONFIG_NAME
    again_command, again = resolve([*argv[:2], "--config", str(path)])
    assert again_command is not None and settings(again) == settings(first)
    if name == "ldm":  # run control is not an experiment setting
        assert "resume" not in path.read_text() and again.resume is False


def test_command_line_overrides_the_file_and_smoke_is_a_preset(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('data = "d"\nout = "o"\nsteps = 10\nbatch_size = 3\nsmoke = true\n')
    _, args = resolve(["train", "ldm", "--config", str(config), "--steps", "5"])
    assert (args.steps, args.batch_size, args.warmup, args.unet) == (5, 3, 1, "tiny")
    _, args = resolve(["train", "ldm", "--data", "d", "--out", "o"])
    assert (args.steps, args.batch_size, args.lr, args.warmup, args.unet) == (
        20000, 16, 3e-4, 500, "default")
    # --smoke typed beside a recipe file shrinks the recipe; typed options still win
    recipe = tmp_path / "r.toml"
    recipe.write_text('data = "d"\nout = "o"\nsteps = 20000\nbatch-size = 16\n'
                      'unet = "default"\nwindow-frames = 256\n')
    _, args = resolve(["train", "ldm", "--config", str(recipe), "--smoke"])
    assert (args.steps, args.batch_size, args.unet, args.window_frames) == (4, 2, "tiny", 64)
    _, args = resolve(["train", "ldm", "--config", str(recipe), "--smoke", "--steps", "7"])
    assert (args.steps, args.batch_size) == (7, 2)
    _, args = resolve(["train", "cd", "--teacher", "t", "--data", "d", "--out", "o",
                       "--smoke", "--warmup", "0"])
    assert (args.steps, args.warmup, args.valid_windows) == (4, 0, 4)
    sweep = tmp_path / "s.toml"
    sweep.write_text('data = "d"\nout = "o"\nsong = ["a", "b"]\nr = [0.5]\n')
    _, args = resolve(["eval", "sweep", "--config", str(sweep), "--song", "c"])
    assert (args.song_ids, args.rs) == (["c"], [0.5])


@pytest.mark.parametrize(("text", "needle"), [
    ("stepz = 3\n", "unknown key 'stepz'; allowed: batch-size, beat-dropout"),
    ("steps = [1, 2]\n", "key 'steps' takes one value"),
    ("smoke = 1\n", "key 'smoke' is a flag"),
    ("[steps]\nx = 3\n", "key 'steps': values must be strings"),
    ("steps = \n", "not valid TOML"),
])
def test_bad_config_is_one_error_line(text: str, needle: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["train", "ldm", "--data", "d", "--out", str(tmp_path / "o"),
                 "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sideman train ldm: error: --config")
    assert needle in err
    assert not (tmp_path / "o").exists()


def test_a_wrong_value_in_the_file_is_the_parser_s_own_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text('data = "d"\nout = "o"\nlr-schedule = "linear"\n')
    with pytest.raises(SystemExit) as exc:
        main(["train", "ldm", "--config", str(config)])
    assert exc.value.code == 2
    assert "--lr-schedule: invalid choice: 'linear'" in capsys.readouterr().err


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train", "ldm", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needed in ("optimizer steps (default 20000)", "and process (default 16)",
                   "learning rate (default 0.0003)", "warmup steps (default 500)",
                   "--config FILE", "sets --steps 4 --batch-size 2"):
        assert needed in text, needed


@pytest.mark.parametrize("recipe", sorted(Path(__file__).resolve().parents[2].glob(
    "docs/recipes/*.toml")), ids=lambda p: p.name)
def test_recipes_are_valid_configs(recipe: Path) -> None:
    stage = "cd" if recipe.stem.endswith("-cd") else "ldm"
    _, args = resolve(["train", stage, "--config", str(recipe)])
    assert args.steps >= 1000 and args.out.parts[0] == "runs"
