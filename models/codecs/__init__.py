"""Codecs: audio ⇄ latent frames (see :mod:`.base` for the interface and units).

* ``mel``: built in, no weights, far faster than real time on a laptop CPU (:mod:`.mel`);
* ``music2latent``: the Music2Latent package's own model (GPU-class), weights from a path or
  the package's default location (:mod:`.music2latent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Codec, CodecError

CODEC_NAMES = ("mel", "music2latent")


def build_codec(name: str, params: Mapping[str, Any] | None = None, **runtime: Any) -> Codec:
    """Build codec ``name`` from its recorded ``params`` plus runtime options.

    Runtime options do not change the latent space: ``device`` for both; ``gl_iters``,
    ``gl_momentum``, ``decode_context_frames`` for ``mel``; ``weights``, ``decode_steps``,
    ``allow_pickle`` for ``music2latent``. ``weights=None`` means not given, for any codec.
    """
    if params and "allow_pickle" in params:
        # Recorded parameters come from a checkpoint's config.json: a file must never be
        # able to switch on unpickling (arbitrary code) for itself.
        raise CodecError("allow_pickle can only be given at run time, not recorded in a "
                         "checkpoint's codec parameters")
    kwargs = {**dict(params or {}), **runtime}
    if kwargs.get("weights") is None:
        kwargs.pop("weights", None)
    elif name == "mel":
        raise CodecError("the mel codec has no weights (codec weights are for music2latent)")
    if name == "mel":
        from .mel import MelCodec

        cls: Any = MelCodec
    elif name == "music2latent":
        from .music2latent import Music2LatentCodec

        cls = Music2LatentCodec
    else:
        raise CodecError(f"unknown codec {name!r}; known: {', '.join(CODEC_NAMES)}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise CodecError(f"bad parameters for codec {name!r}: {exc}") from exc


__all__ = ["CODEC_NAMES", "Codec", "CodecError", "build_codec"]
