"""Wrong settings and inputs: one line ``sideman COMMAND: error: ...`` naming what was wrong
and what is allowed, a non-zero exit, and nothing slow (no model load, no stream) first."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sideman.cli.main import main


@pytest.fixture
def song(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    sf.write(path, np.zeros(44100 * 3, np.float32), 44100)
    return path


def run(argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and stderr of ``sideman ARGV`` (argparse's own exits included)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def assert_one_error(err: str, prog: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: "), err
    for needle in needles:
        assert needle in lines[0], err


CLIENT_CASES = [
    (["--out", "{tmp}/out/"], "is a folder", ".wav"),
    (["--out", "{tmp}/x.mp3"], "x.mp3", ".wav"),
    (["--out", "o.wav", "--host", "nosuchhost.invalid"], "nosuchhost.invalid", "IP address"),
    (["--out", "o.wav", "--port", "99999"], "99999", "1 ... 65535"),
    (["--out", "o.wav", "--stem", "vocals"], "vocals", "bass, drums, guitar, piano"),
    (["--out", "o.wav", "--r", "0.5", "--w", "1"], "(w+2)*r <= 1", "0.333"),
    (["--out", "o.wav", "--variation", "3"], "--variation", "0 ... 2"),
    (["--out", "o.wav", "--bpm", "fast"], "--bpm", "20 ... 400"),
]


@pytest.mark.parametrize(("extra", "what", "allowed"), CLIENT_CASES)
def test_client_settings_are_refused_in_one_line(song: Path, tmp_path: Path, capsys,
                                                 extra: list[str], what: str,
                                                 allowed: str) -> None:
    argv = ["client", str(song), *(a.replace("{tmp}", str(tmp_path)) for a in extra)]
    started = time.monotonic()
    code, err = run(argv, capsys)
    assert code == 2
    assert_one_error(err, "sideman client", what, allowed)
    assert time.monotonic() - started < 5  # refused before any stream


def test_client_refuses_a_file_that_is_not_audio(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("not a sound")
    code, err = run(["client", str(bad), "--out", str(tmp_path / "o.wav")], capsys)
    assert code == 2
    assert_one_error(err, "sideman client", "cannot read", "WAV, AIFF, FLAC or OGG")
    code, err = run(["client", str(tmp_path / "missing.wav"), "--out", "o.wav"], capsys)
    assert code == 2
    assert_one_error(err, "sideman client", "no such input file")


def test_client_refuses_a_bad_beat_file(song: Path, tmp_path: Path, capsys) -> None:
    beats = tmp_path / "beats.txt"
    beats.write_text("0.5\nlater\n")
    code, err = run(["client", str(song), "--out", str(tmp_path / "o.wav"), "--beats",
                     str(beats)], capsys)
    assert code == 2
    assert_one_error(err, "sideman client", "--beats", "one beat time in seconds per line")


def test_a_missing_server_is_one_line_and_status_1(song: Path, tmp_path: Path, capsys) -> None:
    code, err = run(["client", str(song), "--out", str(tmp_path / "o.wav"), "--port", "9",
                     "--fast", "--connect-timeout", "0.3"], capsys)
    assert code == 1
    assert_one_error(err, "sideman client", "no welcome", "sideman serve")
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize(("extra", "what", "allowed"), [
    (["--stem", "vocals"], "vocals", "bass, drums, guitar, piano"),
    (["--seconds", "0"], "--seconds", "> 0"),
    (["--model", "no/such/model"], "no/such/model", "default, clicktrack"),
    (["--r", "0.3", "--w", "2"], "(w+2)*r <= 1", "0.25"),
])
def test_demo_checks_settings_before_loading_the_model(tmp_path: Path, capsys, extra: list[str],
                                                       what: str, allowed: str) -> None:
    out = tmp_path / "demo"
    started = time.monotonic()
    # the default model takes many seconds to load: a refusal must come before that
    code, err = run(["demo", "--out-dir", str(out), *extra], capsys)
    assert code == 2
    assert_one_error(err, "sideman demo", what, allowed)
    assert time.monotonic() - started < 5
    assert not out.exists()  # no partial output folder


def test_serve_refuses_a_port_in_use_before_loading(capsys) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        code, err = run(["serve", "--port", str(taken.getsockname()[1])], capsys)
    finally:
        taken.close()
    assert code == 2
    assert_one_error(err, "sideman serve", "Address already in use", "another --port")
    assert time.monotonic() - started < 5  # before the default model's load


def test_serve_refuses_a_metrics_port_in_use_before_loading(capsys) -> None:
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        code, err = run(["serve", "--port", "0", "--metrics-port",
                         str(taken.getsockname()[1])], capsys)
    finally:
        taken.close()
    assert code == 2
    assert_one_error(err, "sideman serve", "cannot serve metrics", "--metrics-port")


@pytest.mark.parametrize(("argv", "prog", "needles"), [
    (["serve", "--port", "99999"], "sideman serve", ("99999", "0 ... 65535")),
    (["serve", "--host", "nosuchhost.invalid", "--model", "clicktrack"], "sideman serve",
     ("nosuchhost.invalid", "127.0.0.1")),
    (["serve", "--threads", "0"], "sideman serve", ("--threads", ">= 1")),
    (["eval", "sweep", "--data", "x", "--out", "y", "--split", "dev"], "sideman eval sweep",
     ("dev", "valid")),
    (["data", "synth", "--out", "x", "--songs", "1", "--style", "polka"], "sideman data synth",
     ("polka", "known")),
])
def test_other_commands_use_the_same_error_line(capsys, argv: list[str], prog: str,
                                                needles: tuple[str, ...]) -> None:
    code, err = run(argv, capsys)
    assert code == 2
    assert_one_error(err, prog, *needles)


def test_version_and_verbose_after_the_command(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip().startswith("sideman 0.")
    from sideman.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve", "-v"]).verbose == 1
    assert parser.parse_args(["-vv", "serve"]).verbose == 2
    assert parser.parse_args(["serve"]).verbose == 0


def test_data_commands_take_the_data_set_either_way(tmp_path: Path, capsys) -> None:
    from sideman.cli.main import build_parser

    parser = build_parser()
    for action in ("info", "check", "cache"):
        positional = parser.parse_args(["data", action, "some/set"])
        option = parser.parse_args(["data", action, "--data", "some/set"])
        assert (positional.path, option.data) == (Path("some/set"), Path("some/set"))
    code, err = run(["data", "info"], capsys)
    assert code == 2
    assert_one_error(err, "sideman data info", "no data set given", "--data PATH")
    code, err = run(["data", "info", "--data", str(tmp_path / "none"), "--split", "validation"],
                    capsys)
    assert code == 2
    assert_one_error(err, "sideman data info", "is not a directory")


def test_a_model_folder_without_a_model_is_one_line(tmp_path: Path, capsys) -> None:
    """A checkpoint error (no config.json) is the user's input, not a crash."""
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    code, err = run(["train", "probe", "--model", str(empty), "--data", str(tmp_path)], capsys)
    assert code == 2
    assert_one_error(err, "sideman train probe", "config.json not found")


def test_train_check_lists_take_spaces_or_commas() -> None:
    from sideman.cli.main import build_parser

    parser = build_parser()
    base = ["train", "check", "--model", "m", "--data", "d", "--out", "o"]
    spaced = parser.parse_args([*base, "--r", "0.125", "0.25", "--stems", "drums", "bass",
                                "--beat-grid", "on", "off", "--split", "validation"])
    commas = parser.parse_args([*base, "--r", "0.125,0.25", "--stems", "drums,bass",
                                "--beat-grid", "on,off"])
    for key in ("r", "stems", "beat_grid"):
        assert getattr(spaced, key) == getattr(commas, key)
    assert spaced.r == [0.125, 0.25] and spaced.split == "valid"
