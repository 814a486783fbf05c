"""Training batches drawn ahead in worker processes, each seeded by its step.

Batch ``k`` of a run (the one step ``k`` trains on, counted from 0) is drawn with generators
seeded from ``(seed, process index, k)`` alone (:func:`batch_generators`): its windows
(:meth:`~.windows.WindowSampler.draw`) and their conditioning
(:func:`~.masks.draw_conditioning`). A batch therefore does not depend on the batches before
it, so

* the number of workers does not change what a run learns: 0 draws inline, N > 0 draws the
  next batches in N processes (torch's ``DataLoader``; forked on Linux, so the workers share
  the latents in memory) and hands them over in step order;
* a resumed run draws exactly the batches an uninterrupted one would: the step is the state.

Checkpoints of the earlier scheme hold the windows' generator (``{"rng": ...}``): they load,
and the run goes on with the per-step batches (one log line says so), a different random
stream than it would have drawn.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from .stage import Batch, StageData

log = logging.getLogger(__name__)

#: What :meth:`BatchLoader.state_dict` records (the step is the rest of the state).
SCHEME = "per-step"
#: Batches each worker keeps ready ahead of the step that needs them.
PREFETCH = 2


def check_workers(workers: int) -> None:
    """Refuse a negative worker count, in one line that says what is allowed."""
    if workers < 0:
        raise ValueError(f"--loader-workers must be >= 0 (0: draw inline), got {workers}")


def batch_generators(seed: int, process_index: int, step: int
                     ) -> tuple[np.random.Generator, torch.Generator]:
    """The windows' and the conditioning's generators of batch ``step`` (independent
    streams of one ``SeedSequence``; negative seeds are taken modulo 2**64)."""
    windows, conditioning = np.random.SeedSequence(
        [seed % 2**64, process_index, step]).spawn(2)
    torch_seed = int(conditioning.generate_state(1, np.uint64)[0]) & (2**63 - 1)
    return (np.random.Generator(np.random.PCG64(windows)),
            torch.Generator().manual_seed(torch_seed))


class StepBatches(torch.utils.data.Dataset):
    """Item ``k``: the conditioned batch of step ``k`` (what a worker computes), drawn from
    ``data``'s training windows and conditioned as :meth:`~.stage.StageData.condition` does."""

    def __init__(self, data: StageData, batch_size: int) -> None:
        self.data, self.batch_size = data, batch_size

    def __getitem__(self, step: int) -> Batch:
        rng, generator = batch_generators(self.data.seed, self.data.process_index, step)
        windows = self.data.train.draw(self.batch_size, rng=rng)
        return self.data.condition(windows, self.data.grid, generator)


class _Steps(torch.utils.data.Sampler[int]):
    """Step indices from ``start`` on, without end."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.count(self.start)


class BatchLoader:
    """The batch of each step, inline (``workers=0``) or drawn ahead by ``workers``
    processes (module docstring). Stateful for the checkpoint; a context manager whose exit
    (or :meth:`close`) stops the workers."""

    def __init__(self, batches: StepBatches, workers: int = 0) -> None:
        check_workers(workers)
        self.batches = batches
        self.workers = workers
        self._iterator: Iterator[Any] | None = None
        self._next = 0  # the step the workers' next batch is for

    def batch(self, step: int) -> Any:
        """The batch of ``step``. Workers run ahead from the first step asked for; asking
        for another step than the next one restarts them there."""
        if self.workers == 0:
            return self.batches[step]
        if self._iterator is None or step != self._next:
            self.close()
            self._iterator = iter(self._loader(step))
        self._next = step + 1
        return next(self._iterator)

    def _loader(self, start: int) -> torch.utils.data.DataLoader:
        methods = multiprocessing.get_all_start_methods()
        # fork shares the cached latents with the workers instead of pickling them to each
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        return torch.utils.data.DataLoader(
            self.batches, batch_size=None, sampler=_Steps(start), num_workers=self.workers,
            multiprocessing_context=context, prefetch_factor=PREFETCH)

    def close(self) -> None:
        """Stop the workers (if any run); the next :meth:`batch` starts new ones."""
        iterator, self._iterator = self._iterator, None
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()

    def __enter__(self) -> BatchLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # checkpointing: a batch is a function of its step, which the trainer's counter holds
    def state_dict(self) -> dict[str, Any]:
        return {"scheme": SCHEME}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("scheme") != SCHEME:
            log.warning("this checkpoint drew its windows from one sequential generator; "
                        "from here each batch is seeded by its step (another random stream "
                        "than the uninterrupted run would have drawn)")
        self.close()
