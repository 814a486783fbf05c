"""Random training windows cut from cached song latents.

A window is the ``window_frames`` frames ending at a random frame of a song, for a random
stem: the stem's latent (target), the latent of the mix without it (context) and the
beat-grid planes of a local transport (:func:`~.beats.transport_at` at a random anchor in
the window's second half, turned into planes by the pipeline's own
:func:`~sideman.models.conditioning.beat_planes`; with ``p_wrong_grid`` sometimes misplaced as a
live tracker's grid can be, :func:`~.beats.misplaced`). Frames before the song are digital
silence, as the pipeline sees them (``codec.silence_latent()``), in both latents.

Silence: a window whose last ``silence_frames`` frames of the target stem are all silent is
kept with probability ``keep_silent`` only, so most of the effort goes to making sound while
the model still learns that a stem sits out when its history and the music say so.

All randomness comes from the numpy generator given to :meth:`WindowSampler.draw`: training
gives each batch its own, seeded from (seed, process, step) (:mod:`.loader`), so a batch does
not depend on the batches before it; the validation set uses the sampler's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sideman.models.base import Transport
from sideman.models.conditioning import beat_planes

from .beats import last_beat, misplaced, transport_of_beat
from .cache import SongLatents
from .datasets import STEMS

#: Tries to find a non-silent window before accepting whatever was drawn last.
MAX_TRIES = 32


def check_grid_error(p: float, octave: float, phase_error: float, tempo_error: float) -> None:
    """A ValueError naming the first grid-error option out of range (and its CLI flag)."""
    for name, value, lo, hi in (("grid error (--grid-error)", p, 0.0, 1.0),
                                ("grid octave share (--grid-octave)", octave, 0.0, 1.0),
                                ("grid phase error (--grid-phase-error)", phase_error, 0.0, 1.0),
                                ("grid tempo error (--grid-tempo-error)", tempo_error, 0.0, 0.25)):
        if not lo <= value <= hi:
            raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value:g}")


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
    #: probability that a window's grid is wrong as a live beat tracker's can be, so the
    #: model learns that a grid is a hint and the heard mix says where the beat really is:
    #: with probability ``grid_octave`` an octave error (half the tempo, or a quarter of
    #: those double), otherwise its beat moved by a Gaussian phase error (std
    #: ``grid_phase_error`` beats) and its tempo scaled by a Gaussian relative error (std
    #: ``grid_tempo_error``)
    p_wrong_grid: float = 0.0
    grid_octave: float = 0.5
    grid_phase_error: float = 0.1
    grid_tempo_error: float = 0.02

    def __post_init__(self) -> None:
        if len(self.stem_weights) != len(STEMS) or min(self.stem_weights) < 0 \
                or sum(self.stem_weights) <= 0:
            raise ValueError(f"stem_weights needs {len(STEMS)} weights >= 0 ({', '.join(STEMS)})"
                             f" with a positive sum, got {self.stem_weights}")
        if not 0.0 <= self.keep_silent <= 1.0:
            raise ValueError(f"keep_silent must be in [0, 1], got {self.keep_silent}")
        if self.window_frames < 1 or self.silence_frames < 1 or self.min_end < 1:
            raise ValueError("window_frames, silence_frames and min_end must be >= 1")
        check_grid_error(self.p_wrong_grid, self.grid_octave, self.grid_phase_error,
                         self.grid_tempo_error)


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
        # per song: its beats as float64 and the transport of each anchor beat, made once
        # (a transport depends on its anchor only through the beat before it)
        self._beats: dict[str, tuple[np.ndarray, dict[int, Transport]]] = {}

    # checkpointing of the sampler's own generator (the validation set's draws)
    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def transport(self, song: SongLatents, time_s: float) -> Transport | None:
        """:func:`~.beats.transport_at` of ``song`` at ``time_s``, cached per anchor beat."""
        if song.id not in self._beats:
            self._beats[song.id] = (np.asarray(song.beats, dtype=np.float64), {})
        beats, made = self._beats[song.id]
        if beats.size < 2:
            return None
        i = last_beat(beats, time_s)
        if i not in made:
            made[i] = transport_of_beat(beats, song.downbeats, i, sample_rate=self.sample_rate,
                                        beats_per_bar=song.beats_per_bar)
        return made[i]

    def window(self, song: SongLatents, stem: int, end: int,
               rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(target (C, F), mixture (C, F), beat (2, F))`` of the window ending at ``end``.

        The beat planes come from the transport at a random anchor in the window's second
        half (zeros when the song has no beats).
        """
        target = np.empty((song.target.shape[1], self.options.window_frames), dtype=np.float32)
        mixture = np.empty_like(target)
        beat = self._fill(song, stem, end, target, mixture, self.rng if rng is None else rng)
        return target, mixture, beat

    def _fill(self, song: SongLatents, stem: int, end: int, target: np.ndarray,
              mixture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Write the window's latents into ``target`` and ``mixture``; return its beat planes."""
        f = self.options.window_frames
        start = end - f
        pad = max(0, -start)
        target[:, :pad] = self.silence[:, None]
        mixture[:, :pad] = self.silence[:, None]
        target[:, pad:] = song.target[stem, :, start + pad:end]
        mixture[:, pad:] = song.context[stem, :, start + pad:end]
        anchor = (start + f * (0.5 + 0.5 * rng.random())) * self.hop_length
        transport = self.transport(song, anchor / self.sample_rate)
        # drawn only when asked for, so runs without it draw exactly the windows they drew
        o = self.options
        if transport is not None and o.p_wrong_grid and rng.random() < o.p_wrong_grid:
            if rng.random() < o.grid_octave:
                phase, ratio = 0.0, 0.5 if rng.random() < 0.75 else 2.0
            else:
                phase, tempo = rng.standard_normal(2)
                phase *= o.grid_phase_error
                ratio = float(np.clip(1.0 + tempo * o.grid_tempo_error, 0.5, 2.0))
            transport = misplaced(transport, phase_error=float(phase), tempo_ratio=ratio,
                                  sample_rate=self.sample_rate)
        return beat_planes(transport, start, f, hop_length=self.hop_length,
                           sample_rate=self.sample_rate)

    def draw(self, batch: int, rng: np.random.Generator | None = None) -> Windows:
        """``batch`` windows drawn with ``rng`` (default: the sampler's own generator)."""
        o = self.options
        rng = self.rng if rng is None else rng
        channels = self.songs[0].target.shape[1]
        # written in place: no per-window arrays to stack afterwards
        targets = np.empty((batch, channels, o.window_frames), dtype=np.float32)
        mixtures = np.empty_like(targets)
        beats: list[np.ndarray] = []
        stems, ids, ends = [], [], []
        for b in range(batch):
            stem = int(rng.choice(len(STEMS), p=self.stem_p))
            for _try in range(MAX_TRIES):
                song = self.songs[int(rng.integers(len(self.songs)))]
                lo = min(o.min_end, song.frames)
                end = int(rng.integers(lo, song.frames + 1))
                tail = song.active[stem, max(0, end - o.silence_frames):end]
                if tail.any() or rng.random() < o.keep_silent:
                    break
            beats.append(self._fill(song, stem, end, targets[b], mixtures[b], rng))
            stems.append(stem)
            ids.append(song.id)
            ends.append(end)
        return Windows(target=torch.from_numpy(targets), mixture=torch.from_numpy(mixtures),
                       stem=torch.tensor(stems, dtype=torch.long),
                       beat=torch.from_numpy(np.stack(beats)), song=ids, end=ends)
