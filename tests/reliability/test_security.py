"""What the network can reach cannot write files or load code.

The modules on the path of a datagram (transport, routing, sessions, scheduling, engine,
codec, telemetry, the source guard) are checked statically: no ``open``, ``eval``, ``exec``,
no pickle, no ``torch.load``/``np.load``, no subprocess or shell, no dynamic import, no file
writes. Checkpoints load with safetensors (the music2latent codec with
``torch.load(weights_only=True)``), and a checkpoint's recorded codec parameters cannot turn
unpickling on.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sideman.models.codecs import CodecError, build_codec

ROOT = Path(__file__).resolve().parents[2]
NETWORK_PATH = ["server/app.py", "server/session.py", "server/engine.py", "server/scheduler.py",
                "server/protocol.py", "server/osc.py", "server/transport.py",
                "server/telemetry.py", "server/guard.py", "server/settings.py",
                "server/resample.py", "server/clock.py"]
FORBIDDEN_CALLS = {"open", "eval", "exec", "compile", "__import__", "input"}
FORBIDDEN_ATTRS = {"write_text", "write_bytes", "import_module", "system", "popen", "unlink",
                   "rmtree", "remove", "rename", "replace_file", "mkdir", "touch", "loads",
                   "load", "save", "dump", "savez", "tofile"}
FORBIDDEN_MODULES = {"pickle", "marshal", "shelve", "subprocess", "shutil", "importlib",
                     "dill", "joblib", "tempfile"}


def offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
                found.append(f"{path.name}:{node.lineno} {f.id}()")
            if isinstance(f, ast.Attribute) and f.attr in FORBIDDEN_ATTRS:
                found.append(f"{path.name}:{node.lineno} .{f.attr}()")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""]
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{path.name}:{node.lineno} import {name}")
    return found


@pytest.mark.parametrize("module", NETWORK_PATH)
def test_network_path_neither_writes_files_nor_loads_code(module: str) -> None:
    assert offences(ROOT / module) == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nfrom subprocess import run\n"
                   "def f(p, d):\n    open(p)\n    eval(d)\n    p.write_text(d)\n"
                   "    torch.load(p)\n")
    assert len(offences(bad)) == 6


def test_checkpoint_weights_are_safetensors_or_weights_only() -> None:
    checkpoint = (ROOT / "models/checkpoint.py").read_text()
    assert "safetensors" in checkpoint and "torch.load" not in checkpoint
    m2l = (ROOT / "models/codecs/music2latent.py").read_text()
    loads = [line.strip() for line in m2l.splitlines() if "torch.load(" in line]
    # One safe load; the pickle fallback only behind an explicit run-time opt-in.
    assert any("weights_only=True" in line for line in loads)
    assert all("weights_only=True" in line or "weights_only=False" in line for line in loads)
    assert "if not allow_pickle" in m2l


def test_a_checkpoint_cannot_switch_unpickling_on() -> None:
    with pytest.raises(CodecError, match="allow_pickle can only be given at run time"):
        build_codec("music2latent", {"allow_pickle": True, "weights": "evil.pt"})
