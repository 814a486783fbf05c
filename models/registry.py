"""Build a generator from a name or a checkpoint path: the one entry point for the CLI and eval.

* ``clicktrack``: the diagnostic impulse generator (options: ``period``, ``delay``,
  ``delay_per_step``);
* ``default``: the embedded default model shipped inside the package;
* a directory: a checkpoint saved with ``save_pretrained`` (``config.json`` + safetensors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import Generator, GeneratorError
from .clicktrack import ClickTrack

BUILTIN_NAMES = ("default", "clicktrack")


def load_generator(spec: str, **options: Any) -> Generator:
    """Return the generator named by ``spec`` (a built-in name or a checkpoint directory)."""
    if spec == "clicktrack":
        return ClickTrack(**options)
    if spec == "default" or Path(spec).is_dir():
        try:
            from .pipeline import load_pipeline  # the real models package
        except ImportError as exc:  # pragma: no cover - only before the models land
            raise GeneratorError(f"model {spec!r} needs sideman.models.pipeline: {exc}") from exc
        return load_pipeline(spec, **options)
    raise GeneratorError(
        f"unknown model {spec!r}: use one of {', '.join(BUILTIN_NAMES)} or a checkpoint "
        f"directory (config.json + model.safetensors)"
    )
