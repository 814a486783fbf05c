"""The docs and the CLI agree: every command in a ``sh``/``bash`` block of the README, docs/
and the model cards parses with the real ``sideman`` parser (flags, choices, value types),
every ``make`` target exists, and no path points at one build machine's folders."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sideman.cli.config_file import expand_argv, leaf
from sideman.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "models" / "weights").glob("*/MODEL_CARD.md"))]
BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.S | re.M)


def commands(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, words) of each command in the file's shell blocks, continuation lines
    joined, comments and ``nice``/environment prefixes removed."""
    text = path.read_text()
    found = []
    for block in BLOCK.finditer(text):
        first_line = text[:block.start(1)].count("\n") + 1
        joined = re.sub(r"\\\n\s*", " ", block.group(1))
        offset = 0
        for line in joined.splitlines():
            offset += 1
            words = shlex.split(line, comments=True)
            while words and (re.fullmatch(r"[A-Z_]+=.*", words[0]) or words[0] == "nice"):
                words = words[3:] if words[0] == "nice" and words[1:2] == ["-n"] else words[1:]
            if words:
                found.append((first_line + offset - 1, words))
    return found


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


CASES = [(path, line, words) for path in DOCS for line, words in commands(path)
         if Path(words[0]).name in ("sideman", "make") or "sideman.cli" in words]


def test_the_docs_have_commands_to_check() -> None:
    names = {path.name for path, _, _ in CASES}
    assert {"README.md", "SERVER.md", "EVAL.md", "TRAINING.md", "MODEL_CARD.md"} <= names
    assert len(CASES) > 40


@pytest.mark.parametrize(("path", "line", "words"), CASES,
                         ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in CASES])
def test_documented_command_parses(path: Path, line: int, words: list[str], capsys,
                                   tmp_path: Path) -> None:
    if Path(words[0]).name == "make":
        missing = set(words[1:]) - make_targets()
        assert not any(w for w in missing if "=" not in w), f"{path}:{line}: {words}"
        return
    if "sideman.cli" in words:  # accelerate launch -m sideman.cli ...
        words = ["sideman", *words[words.index("sideman.cli") + 1:]]
    parser = build_parser()
    argv = _with_config(parser, words[1:], tmp_path)
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        assert exc.code == 0, (f"{path.relative_to(ROOT)}:{line}: `{shlex.join(words)}`: "
                               f"{capsys.readouterr().err.strip()}")


def _with_config(parser, argv: list[str], tmp_path: Path) -> list[str]:
    """``argv`` with its ``--config FILE`` read as ``main`` reads it: a file of the repository
    (a recipe) as it is; one a documented run writes (``RUN/config.toml``) stands in as a
    file holding the command's required options."""
    if "--config" not in argv:
        return argv
    index = argv.index("--config") + 1
    if not (ROOT / argv[index]).is_file():
        command, _ = leaf(parser, argv)
        required = [a for a in command._actions if a.required and a.option_strings]
        stand_in = tmp_path / "config.toml"
        stand_in.write_text("".join(f'{a.option_strings[0][2:]} = "x"\n' for a in required))
        argv = [*argv[:index], str(stand_in), *argv[index + 1:]]
    else:
        argv = [*argv[:index], str(ROOT / argv[index]), *argv[index + 1:]]
    return expand_argv(parser, argv)[0]


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_no_build_machine_paths(path: Path) -> None:
    text = path.read_text()
    for pattern in (r"/work/", r"\bdata/tiny\b", r"/data/slakh"):
        assert not re.search(pattern, text), f"{path.relative_to(ROOT)}: {pattern}"


def test_readme_first_screen_and_contents() -> None:
    text = (ROOT / "README.md").read_text()
    first = "\n".join(text.splitlines()[:60])
    for needed in ("make demo", "make serve", "make test", "sideman-help.maxpat", "sideman.pd",
                   "out/demo/mix.wav", "source .venv/bin/activate", "eval sweep"):
        assert needed in text[:text.index("## Commands")], needed
    assert "**Contents:**" in first
    for anchor in re.findall(r"\]\(#([\w-]+)\)", text):
        headings = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
                    for h in re.findall(r"^#+ (.+)$", text, re.M)}
        assert anchor in headings, anchor
    for link in re.findall(r"\]\(((?:docs|models|max_patches)/[^)#]+)", text):
        assert (ROOT / link).exists(), link
