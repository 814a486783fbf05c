"""docs/ARCHITECTURE.md holds: the packages import each other without cycles, and every file
the hop's path names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "client", "cli", "models", "training", "eval", "bench")
#: Imports kept on purpose until another branch lands (ARCHITECTURE.md, "What remains").
KNOWN: dict[tuple[str, str], set[str]] = {}


def _imports(path: Path, package: str) -> set[str]:
    """The sideman packages ``path`` imports (at any depth, lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "sideman" and len(parts) > 1 and parts[1] in PACKAGES \
                    and parts[1] != package:
                found.add(parts[1])
    return found


def test_packages_import_each_other_without_cycles() -> None:
    edges: dict[str, dict[str, set[str]]] = {p: {} for p in PACKAGES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = str(path.relative_to(ROOT))
            for target in _imports(path, package):
                if rel not in KNOWN.get((package, target), set()):
                    edges[package].setdefault(target, set()).add(rel)

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        return any(t == b or (t not in seen and reaches(t, b, seen | {t})) for t in edges[a])

    cycles = sorted((a, b, sorted(edges[a][b])) for a in PACKAGES for b in edges[a]
                    if reaches(b, a, {b}))
    assert not cycles, cycles


def test_the_hop_path_names_files_that_exist() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    picture = text.split("## A hop's path", 1)[1].split("```")[1]
    files = set(re.findall(r"\b([a-z_]+/[a-z_]+\.py)\b", picture))
    assert len(files) >= 12
    assert not [f for f in files if not (ROOT / f).is_file()]
