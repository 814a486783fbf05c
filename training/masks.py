"""Training conditioning over the whole (hop, look-ahead) grid, with extra weight where it counts.

Every item's masks come from :func:`~sideman.models.conditioning.draw_training_conditioning`
(the pipeline's own :func:`~sideman.models.conditioning.window_masks`): for most items a
(hop, w) pair drawn uniformly from the full grid (every trained hop × every w from -1 to the
deepest the window allows), for a ``focus_prob`` share of the items a pair from a focus grid
(by default the live look-ahead w = 1 at every trained hop), since that is the regime the
model is judged on. Beat planes are dropped (zeroed) per item at ``p_drop_beat``, so the model
works with and without the client's tempo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from sideman.models.conditioning import (
    Conditioning,
    TrainingGrid,
    TrainingMasks,
    draw_training_conditioning,
)


@dataclass(frozen=True)
class GridOptions:
    """The grid of (hop, w) pairs and the dropout probabilities training draws from."""

    grid: TrainingGrid
    focus: TrainingGrid | None = None
    focus_prob: float = 0.0
    masks: TrainingMasks = field(default_factory=TrainingMasks)

    def __post_init__(self) -> None:
        if not 0.0 <= self.focus_prob <= 1.0:
            raise ValueError(f"focus_prob must be in [0, 1], got {self.focus_prob}")
        if self.focus_prob > 0 and self.focus is None:
            raise ValueError("focus_prob > 0 needs a focus grid")
        if self.focus is not None:
            outside = sorted(set(self.focus.pairs()) - set(self.grid.pairs()))
            if outside:
                raise ValueError(f"focus pairs {outside} are not in the training grid")

    @classmethod
    def full(cls, window_frames: int, hop_frames: Sequence[int], *,
             focus_lookaheads: Sequence[int] = (1,), focus_prob: float = 0.0,
             p_drop_beat: float = 0.5, p_drop_mixture: float = 0.0,
             p_no_history: float = 0.05, p_corrupt_history: float = 0.0,
             history_noise: float = 1.0, p_shift_history: float = 0.0,
             history_shift: int = 24) -> GridOptions:
        """Every trained hop × every w from -1 to the largest allowed, plus a focus grid."""
        grid = TrainingGrid.full(window_frames, tuple(hop_frames))
        focus = None
        if focus_prob > 0:
            focus = TrainingGrid(window_frames, tuple(hop_frames), tuple(focus_lookaheads))
        return cls(grid=grid, focus=focus, focus_prob=focus_prob,
                   masks=TrainingMasks(p_drop_beat=p_drop_beat, p_drop_mixture=p_drop_mixture,
                                       p_no_history=p_no_history,
                                       p_corrupt_history=p_corrupt_history,
                                       history_noise=history_noise,
                                       p_shift_history=p_shift_history,
                                       history_shift=history_shift))


def draw_conditioning(target: torch.Tensor, mixture: torch.Tensor, stem: torch.Tensor,
                      beat: torch.Tensor | None, *, options: GridOptions,
                      context_frames: Sequence[int], generator: torch.Generator,
                      uses_beat_grid: bool) -> tuple[Conditioning, torch.Tensor]:
    """Like :func:`draw_training_conditioning`, with the focus share drawn from the focus grid.

    Returns ``(conditioning, hop_frames (B,))``.
    """
    b = target.shape[0]
    focus = torch.rand(b, generator=generator) < options.focus_prob
    groups = [(~focus, options.grid)]
    if options.focus is not None:
        groups.append((focus, options.focus))
    parts: list[tuple[torch.Tensor, Conditioning, torch.Tensor]] = []
    for chosen, grid in groups:
        idx = torch.nonzero(chosen).flatten()
        if idx.numel() == 0:
            continue
        whole = idx.numel() == b  # the whole batch: no copies of its rows

        def rows(x: torch.Tensor) -> torch.Tensor:
            return x if whole else x.index_select(0, idx)  # noqa: B023 (used at once)

        cond, hops = draw_training_conditioning(
            rows(target), rows(mixture), rows(stem), grid=grid, context_frames=context_frames,
            generator=generator, beat=None if beat is None else rows(beat),
            uses_beat_grid=uses_beat_grid, masks=options.masks)
        parts.append((idx, cond, hops))
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    return _merge(parts, b, mixture)


def _merge(parts: list[tuple[torch.Tensor, Conditioning, torch.Tensor]], b: int,
           mixture: torch.Tensor) -> tuple[Conditioning, torch.Tensor]:
    first = parts[0][1]

    def gather(name: str) -> torch.Tensor:
        sample = getattr(first, name)
        out = sample.new_empty((b, *sample.shape[1:]))
        for idx, cond, _ in parts:
            out.index_copy_(0, idx, getattr(cond, name))  # far faster than out[idx] = ...
        return out

    hops = torch.empty(b, dtype=torch.long)
    for idx, _, h in parts:
        hops[idx] = h
    beat = gather("beat") if first.beat is not None else None
    # the conditioning passes each part's mixture rows through unchanged: merged, they are
    # the batch's mixture (the same values)
    cond = Conditioning(mixture=mixture.to(first.mixture.dtype),
                        mixture_known=gather("mixture_known"), target=gather("target"),
                        target_known=gather("target_known"), stem=gather("stem"), beat=beat)
    return cond, hops
