"""Installing sideman prints no warnings caused by our own pyproject.toml."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_uses_no_deprecated_or_ambiguous_setuptools_config() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)  # SPDX; a table is deprecated
    packages = set(project["tool"]["setuptools"]["packages"])
    # every importable-looking folder that ships files is a listed package (else setuptools
    # warns "Package ... is absent from the `packages` configuration" for each file)
    weights = ROOT / "models" / "weights"
    for folder in [weights, *weights.iterdir()]:
        if folder.is_dir() and folder.name.isidentifier():
            name = "sideman.models." + str(folder.relative_to(ROOT / "models")).replace("/", ".")
            assert name in packages, name


def test_building_the_package_prints_no_setuptools_warning(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    source = tmp_path / "src"  # a copy: the build leaves build/ and egg-info behind
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("sideman", "server", "client", "cli", "models", "training", "eval", "bench"):
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
         "--no-build-isolation", "-w", str(tmp_path / "wheel"), "-v"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout + done.stderr
    ours = [line for line in text.splitlines() if re.search(r"SetuptoolsWarning|"
            r"BuildBackendWarning|SetuptoolsDeprecationWarning", line)]
    assert not ours, "\n".join(ours)
    # the embedded model and beat tracker ship in the wheel
    import zipfile

    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("default", "beats"):
        for name in ("config.json", "model.safetensors"):
            assert f"sideman/models/weights/{folder}/{name}" in names, (folder, name)
