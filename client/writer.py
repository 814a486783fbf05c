"""One stem's output buffer, written chunk by chunk with the PROTOCOL.md rule.

:class:`StemWriter` applies one crossfade over the first ``xfade`` samples of each step's
output; duplicates are never applied twice; ``final`` 1 replaces ``final`` 0, never the
reverse. The buffer is a pure function of the set of chunks received, whatever their arrival
order: overlapping steps are composed in step order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Steps kept open for late chunks before their audio is frozen into the buffer.
KEEP_STEPS = 64


class ClientError(RuntimeError):
    """The server refused the session or a setting, or never answered."""


# -- writing chunks ------------------------------------------------------------------------
@dataclass
class _Layer:
    """One step's output as received: chunks per (final, index)."""

    start: int
    xfade: int
    chunks: dict[tuple[int, int], tuple[int, np.ndarray]] = field(default_factory=dict)
    lo: int = 2**62
    hi: int = -(2**62)

    def values(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """This step's samples over ``[lo, hi)`` and where it has any (final over quick)."""
        x = np.zeros(hi - lo, np.float32)
        have = np.zeros(hi - lo, bool)
        for (_final, _index), (pos, arr) in sorted(self.chunks.items()):
            a, b = max(lo, pos), min(hi, pos + len(arr))
            if a < b:
                x[a - lo:b - lo] = arr[a - pos:b - pos]
                have[a - lo:b - lo] = True
        return x, have


class StemWriter:
    """One stem's output buffer, written chunk by chunk with the PROTOCOL.md rule."""

    def __init__(self, length: int) -> None:
        self.buffer = np.zeros(length, np.float32)
        #: Which samples some received chunk covered (lost output stays False).
        self.covered = np.zeros(length, bool)
        self._layers: dict[int, _Layer] = {}
        self._seen: set[tuple[int, int, int]] = set()
        self._frozen_below = -(2**62)  # steps below this are baked into the buffer
        self._freeze_point = -(2**62)  # positions below this are final

    def add(self, step: int, start: int, xfade: int, position: int, index: int, final: bool,
            samples: np.ndarray) -> str:
        """Apply one chunk; returns ``"new"``, ``"duplicate"``, ``"stale"`` (its step was
        frozen already) or ``"superseded"`` (a quick chunk after the final one)."""
        key = (step, int(final), index)
        if step < self._frozen_below:
            return "stale"
        if key in self._seen:
            return "duplicate"
        self._seen.add(key)
        layer = self._layers.get(step)
        if layer is None:
            layer = self._layers[step] = _Layer(start=start, xfade=xfade)
        elif final:
            layer.start, layer.xfade = start, xfade
        if not final and any(k[0] == 1 and k[1] == index for k in layer.chunks):
            return "superseded"
        layer.chunks[(int(final), index)] = (position, np.asarray(samples, np.float32))
        end = position + len(samples)
        self.covered[max(0, position):max(0, min(end, len(self.covered)))] = True
        layer.lo, layer.hi = min(layer.lo, position), max(layer.hi, end)
        self._compose(max(position, self._freeze_point), end)
        if len(self._layers) > 2 * KEEP_STEPS:
            self._freeze()
        return "new"

    def _compose(self, lo: int, hi: int) -> None:
        lo, hi = max(lo, 0), min(hi, len(self.buffer))
        if lo >= hi:
            return
        v = np.zeros(hi - lo, np.float64)
        p = np.arange(lo, hi)
        for step in sorted(self._layers):
            layer = self._layers[step]
            if layer.hi <= lo or layer.lo >= hi:
                continue
            x, have = layer.values(lo, hi)
            fade = have & (p < layer.start + layer.xfade)
            direct = have & ~fade
            v[direct] = x[direct]
            if fade.any():
                g = (p[fade] - layer.start + 1) / (layer.xfade + 1)
                v[fade] = (1.0 - g) * v[fade] + g * x[fade]
        self.buffer[lo:hi] = v

    def _freeze(self) -> None:
        steps = sorted(self._layers)
        keep = steps[-KEEP_STEPS:]
        point = min(self._layers[s].lo for s in keep)
        for s in steps[:-KEEP_STEPS]:
            if self._layers[s].hi <= point:
                del self._layers[s]
                self._frozen_below = max(self._frozen_below, s + 1)
        self._seen = {k for k in self._seen if k[0] >= self._frozen_below}
        self._freeze_point = max(self._freeze_point, point)
