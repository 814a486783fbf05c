"""Random training windows cut from cached song latents.

A window is the ``window_frames`` frames ending at a random frame of a song, for a random
stem: the stem's latent (target), the latent of the mix without it (context) and the
beat-grid planes of a local transport (:func:`~.beats.transport_at` at a random anchor in
the window's second half, turned into planes by the pipeline's own
:func:`~sideman.models.conditioning.beat_planes`). Frames before the song are digital
silence, as the pipeline sees them (``codec.silence_latent()``), in both latents.

Silence: a window whose last ``silence_frames`` frames of the target stem are all silent is
kept with probability ``keep_silent`` only, so most of the effort goes to making sound while
the model still learns that a stem sits out when its history and the music say so.

All randomness comes from one numpy generator whose state is part of the training
checkpoint, so a resumed run draws the same windows as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sideman.models.conditioning import beat_planes

from .beats import transport_at
from .cache import SongLatents
from .datasets import STEMS

#: Tries to find a non-silent window before accepting whatever was drawn last.
MAX_TRIES = 32


@dataclass(frozen=True)
class WindowOptions:
    """How windows are drawn (see the module docstring)."""

    window_frames: int
    #: probability of each stem, in STEMS order (normalised)
    stem_weights: tuple[float, ...] = (0.2, 0.4, 0.2, 0.2)
    #: probability of keeping a window whose last ``silence_frames`` target frames are silent
    keep_silent: float = 0.15
    silence_frames: int = 64
    #: earliest window end, in frames from the song start (smaller: more pre-song silence)
    min_end: int = 16

    def __post_init__(self) -> None:
        if len(self.stem_weights) != len(STEMS) or min(self.stem_weights) < 0 \
                or sum(self.stem_weights) <= 0:
            raise ValueError(f"stem_weights needs {len(STEMS)} weights >= 0 ({', '.join(STEMS)})"
                             f" with a positive sum, got {self.stem_weights}")
        if not 0.0 <= self.keep_silent <= 1.0:
            raise ValueError(f"keep_silent must be in [0, 1], got {self.keep_silent}")
        if self.window_frames < 1 or self.silence_frames < 1 or self.min_end < 1:
            raise ValueError("window_frames, silence_frames and min_end must be >= 1")


@dataclass
class Windows:
    """A batch of windows: latents ``(B, C, F)``, ``stem (B,)``, ``beat (B, 2, F)``."""

    target: torch.Tensor
    mixture: torch.Tensor
    stem: torch.Tensor
    beat: torch.Tensor
    song: list[str]
    end: list[int]


class WindowSampler:
    """Draws :class:`Windows` from songs held in memory (see the module docstring)."""

    def __init__(self, songs: Sequence[SongLatents], options: WindowOptions, *,
                 silence: np.ndarray, hop_length: int, sample_rate: int, seed: int) -> None:
        if not songs:
            raise ValueError("no songs to draw windows from")
        self.songs = list(songs)
        self.options = options
        self.silence = np.asarray(silence, dtype=np.float32)
        self.hop_length = hop_length
        self.sample_rate = sample_rate
        self.rng = np.random.Generator(np.random.PCG64(seed))
        weights = np.asarray(options.stem_weights, dtype=np.float64)
        self.stem_p = weights / weights.sum()

    # checkpointing: the generator's state is all there is
    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def window(self, song: SongLatents, stem: int, end: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(target (C, F), mixture (C, F), beat (2, F))`` of the window ending at ``end``.

        The beat planes come from the transport at a random anchor in the window's second
        half (zeros when the song has no beats).
        """
        f = self.options.window_frames
        start = end - f
        pad = max(0, -start)
        target = np.empty((song.target.shape[1], f), dtype=np.float32)
        mixture = np.empty_like(target)
        target[:, :pad] = self.silence[:, None]
        mixture[:, :pad] = self.silence[:, None]
        target[:, pad:] = song.target[stem, :, start + pad:end]
        mixture[:, pad:] = song.context[stem, :, start + pad:end]
        anchor = (start + f * (0.5 + 0.5 * self.rng.random())) * self.hop_length
        transport = transport_at(song.beats, song.downbeats, anchor / self.sample_rate,
                                 sample_rate=self.sample_rate,
                                 beats_per_bar=song.beats_per_bar)
        beat = beat_planes(transport, start, f, hop_length=self.hop_length,
                           sample_rate=self.sample_rate)
        return target, mixture, beat

    def draw(self, batch: int) -> Windows:
        o = self.options
        targets, mixtures, beats, stems, ids, ends = [], [], [], [], [], []
        for _ in range(batch):
            stem = int(self.rng.choice(len(STEMS), p=self.stem_p))
            for _try in range(MAX_TRIES):
                song = self.songs[int(self.rng.integers(len(self.songs)))]
                lo = min(o.min_end, song.frames)
                end = int(self.rng.integers(lo, song.frames + 1))
                tail = song.active[stem, max(0, end - o.silence_frames):end]
                if tail.any() or self.rng.random() < o.keep_silent:
                    break
            target, mixture, beat = self.window(song, stem, end)
            targets.append(target)
            mixtures.append(mixture)
            beats.append(beat)
            stems.append(stem)
            ids.append(song.id)
            ends.append(end)
        return Windows(target=torch.from_numpy(np.stack(targets)),
                       mixture=torch.from_numpy(np.stack(mixtures)),
                       stem=torch.tensor(stems, dtype=torch.long),
                       beat=torch.from_numpy(np.stack(beats)), song=ids, end=ends)
