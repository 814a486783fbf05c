"""The one place where audio crosses between the client clock and the model clock (soxr).

Positions map by :class:`~sideman.models.geometry.ClockMap`. A resampled segment is only
sample-exact if its first sample sits at a time that both clocks hit exactly, so segments
start on the common grid: model positions that are multiples of ``model_rate / g`` and client
positions that are multiples of ``client_rate / g`` (``g`` = gcd of the rates). Margins on
both sides keep the filter's edge effects out of the samples that are used.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import soxr

from sideman.models.geometry import ClockMap

#: Client samples of margin around a resampled segment (soxr "HQ" needs far fewer).
MARGIN = 64


class Resampler:
    """Moves windows to the model clock and generated audio back to the client clock."""

    def __init__(self, clock_map: ClockMap, margin: int = MARGIN) -> None:
        self.map = clock_map
        g = math.gcd(clock_map.model_rate, clock_map.client_rate)
        self.model_quantum = clock_map.model_rate // g
        self.client_quantum = clock_map.client_rate // g
        self.margin = 0 if clock_map.identity else margin

    @property
    def identity(self) -> bool:
        return self.map.identity

    def _client_of_grid(self, model_position: int) -> int:
        # Exact: model_position is a multiple of model_quantum.
        return model_position // self.model_quantum * self.client_quantum

    def client_range(self, start: int, end: int) -> tuple[int, int]:
        """The client samples ``[c0, c1)`` that :meth:`from_client` needs to produce model
        samples ``[start, end)`` (``c0`` on the common grid, with a margin)."""
        if self.identity:
            return start, end
        cm = self.map
        m0 = (start - cm.to_model(self.margin) - 1) // self.model_quantum * self.model_quantum
        return self._client_of_grid(m0), cm.to_client(end)

    def from_client(self, x: np.ndarray, c0: int, start: int, end: int) -> np.ndarray:
        """Model samples ``[start, end)`` from client samples ``x`` starting at ``c0`` (as
        given by :meth:`client_range`)."""
        if self.identity:
            lo = start - c0
            return np.asarray(x[lo:lo + end - start], np.float32)
        cm = self.map
        y = soxr.resample(np.asarray(x, np.float32), cm.client_rate, cm.model_rate)
        m0 = c0 // self.client_quantum * self.model_quantum
        out = np.zeros(end - start, np.float32)
        lo = start - m0
        piece = y[lo:lo + (end - start)]
        out[:len(piece)] = piece
        return out

    def to_model(self, read_client: Callable[[int, int], np.ndarray], start: int, end: int
                 ) -> np.ndarray:
        """Model samples ``[start, end)`` of the client audio ``read_client(a, b)`` (which
        returns client samples ``[a, b)``, zeros where unknown)."""
        c0, c1 = self.client_range(start, end)
        return self.from_client(read_client(c0, c1), c0, start, end)

    def model_output_start(self, region_start: int, xfade_client: int) -> int:
        """Where the model output must start so that, once resampled, it covers the client's
        crossfade before ``region_start`` (model clock) plus a margin, on the common grid."""
        if self.identity:
            return region_start - xfade_client
        need = region_start - self.map.to_model(xfade_client + self.margin) - 1
        return need // self.model_quantum * self.model_quantum

    def to_client(self, audio: np.ndarray, model_start: int, client_start: int,
                  client_end: int) -> np.ndarray:
        """Client samples ``[client_start, client_end)`` of model audio starting at
        ``model_start`` (which must come from :meth:`model_output_start`)."""
        if self.identity:
            lo = client_start - model_start
            return np.asarray(audio[lo:lo + client_end - client_start], dtype=np.float32)
        cm = self.map
        if model_start % self.model_quantum:
            raise ValueError(f"model_start {model_start} is not on the {self.model_quantum}-"
                             f"sample common grid")
        z = soxr.resample(np.asarray(audio, np.float32), cm.model_rate, cm.client_rate)
        c0 = self._client_of_grid(model_start)
        out = np.zeros(client_end - client_start, np.float32)
        lo = client_start - c0
        if lo < 0:
            raise ValueError("model output starts after the client span")
        piece = z[lo:lo + len(out)]
        out[:len(piece)] = piece
        return out
