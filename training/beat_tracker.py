"""Training the learned beat tracker (:mod:`sideman.models.beatnet`) on annotated songs.

Each song's stems are turned into mel power spectrograms once. A training item is a crop of
``frames`` frames of a random mix of the song's stems (each stem in with probability
:data:`P_STEM`, at a random gain; never none), as the server hears a performer who plays
some of the parts: mel power adds across sources up to their phases, so the mix is made in
the mel domain and logged. The targets are the annotated beats and downbeats at their
nearest frame, widened by half-weight neighbours. Sometimes the crop starts with silence,
as a stream's first windows do.

Validation runs the same beat tracker the server runs (librosa's, :mod:`sideman.models.tempo`)
over the network's activation and over librosa's onset envelope, on whole valid songs mixed
without their drums and without their bass, and reports both beat F-measures (mir_eval,
±70 ms): the learned tracker is worth shipping only where it beats the onsets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import torch
from torch import nn

from sideman.models.beatnet import BeatNet, BeatNetConfig, log_mel, mel_power
from sideman.models.tempo import ONSET_HOP, TIGHTNESS, onset_envelope

from .datasets import STEMS, Song, load_audio, open_dataset
from .loop import LoopOptions, Trainer, latest_checkpoint

log = logging.getLogger(__name__)

#: Probability that each stem is in a training mix.
P_STEM = 0.6
#: Stem gains are drawn from this range (dB).
GAIN_DB = (-9.0, 3.0)
#: Probability that a crop starts with up to half its length of silence.
P_LEAD_SILENCE = 0.2
#: Weight of the positive class in the loss (beats are one frame in ~20).
POS_WEIGHT = 2.0
#: The stems left out of the validation mixes (as the sweep's default stems).
VALID_WITHOUT = ("drums", "bass")


@dataclass(frozen=True)
class BeatTrainOptions:
    """What to train on and the network's shape."""

    data: Path
    frames: int = 256
    valid_songs: int = 10
    net: BeatNetConfig = field(default_factory=BeatNetConfig)
    progress: bool = True

    def __post_init__(self) -> None:
        if self.frames < 16:
            raise ValueError(f"--frames must be >= 16, got {self.frames}")
        if self.valid_songs < 1:
            raise ValueError(f"--valid-songs must be >= 1, got {self.valid_songs}")


@dataclass
class SongFeatures:
    """One song: mel power per stem ``(4, n_mels, frames)`` and targets ``(2, frames)``."""

    id: str
    power: np.ndarray
    target: np.ndarray


def beat_targets(beats: Sequence[float] | np.ndarray,
                 downbeats: Sequence[float] | np.ndarray | None, frames: int,
                 config: BeatNetConfig) -> np.ndarray:
    """``(2, frames)``: 1 at each beat's (downbeat's) nearest frame, 0.5 beside it."""
    target = np.zeros((2, frames), np.float32)
    for row, times in enumerate((beats, downbeats if downbeats is not None else ())):
        idx = np.round(np.asarray(times, float) * config.sample_rate / config.hop).astype(int)
        idx = idx[(idx >= 0) & (idx < frames)]
        for shift in (-1, 1):
            near = np.clip(idx + shift, 0, frames - 1)
            target[row, near] = np.maximum(target[row, near], 0.5)
        target[row, idx] = 1.0
    return target


def song_features(song: Song, config: BeatNetConfig) -> SongFeatures:
    if song.beats is None or len(song.beats) < 2:
        raise ValueError(f"{song.id} has no beat annotations: the beat tracker learns from "
                         f"annotated songs (sideman data synth makes them)")
    power = np.stack([mel_power(load_audio(song, stem, sr=config.sample_rate), config)
                      for stem in STEMS])
    return SongFeatures(song.id, power,
                        beat_targets(song.beats, song.downbeats, power.shape[-1], config))


def load_features(songs: Sequence[Song], config: BeatNetConfig, progress: bool
                  ) -> list[SongFeatures]:
    from tqdm import tqdm

    return [song_features(s, config)
            for s in tqdm(songs, desc="features", unit="song", disable=not progress)]


def draw_batch(songs: Sequence[SongFeatures], batch: int, frames: int,
               rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-mel of random stem mixes ``(batch, n_mels, frames)`` and targets ``(batch, 2,
    frames)``."""
    mels, targets = [], []
    for _ in range(batch):
        song = songs[int(rng.integers(len(songs)))]
        total = song.power.shape[-1]
        start = int(rng.integers(0, max(1, total - frames + 1)))
        power = np.zeros((song.power.shape[1], frames), np.float32)
        target = np.zeros((2, frames), np.float32)
        span = min(frames, total - start)
        chosen = rng.random(len(STEMS)) < P_STEM
        if not chosen.any():
            chosen[rng.integers(len(STEMS))] = True
        for i in np.flatnonzero(chosen):
            gain = 10.0 ** (rng.uniform(*GAIN_DB) / 10.0)
            power[:, :span] += gain * song.power[i, :, start:start + span]
        target[:, :span] = song.target[:, start:start + span]
        if rng.random() < P_LEAD_SILENCE:
            lead = int(rng.integers(1, frames // 2))
            power[:, :lead] = 0.0
            target[:, :lead] = 0.0
        mels.append(log_mel(power))
        targets.append(target)
    return torch.from_numpy(np.stack(mels)), torch.from_numpy(np.stack(targets))


def beats_from_envelope(envelope: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """The beat times (seconds) librosa's tracker finds in an envelope, with the server's
    tightness."""
    if float(envelope.max(initial=0.0)) <= 0.0:
        return np.zeros(0)
    _, frames = librosa.beat.beat_track(onset_envelope=envelope, sr=sample_rate,
                                        hop_length=hop, trim=False, tightness=TIGHTNESS)
    return librosa.frames_to_time(frames, sr=sample_rate, hop_length=hop)


@dataclass
class ValidMix:
    """A valid song mixed without one stem, at the tracker's rate, with its true beats."""

    audio: np.ndarray
    beats: np.ndarray


def valid_mixes(songs: Sequence[Song], config: BeatNetConfig) -> list[ValidMix]:
    """Each song mixed without each of :data:`VALID_WITHOUT` (read once, scored at every
    validation)."""
    out = []
    for song in songs:
        stems = {s: load_audio(song, s, sr=config.sample_rate) for s in STEMS}
        for left_out in VALID_WITHOUT:
            mix = sum(audio for s, audio in stems.items() if s != left_out)
            assert isinstance(mix, np.ndarray)
            out.append(ValidMix(mix, mir_eval.beat.trim_beats(np.asarray(song.beats, float))))
    return out


def tracker_f1(net: BeatNet | None, mixes: Sequence[ValidMix], config: BeatNetConfig
               ) -> float:
    """Mean beat F-measure over the mixes of librosa's tracker over the net's beat
    activation (``net``) or over the onset envelope (``None``)."""
    scores = []
    for mix in mixes:
        if net is None:
            envelope, hop = onset_envelope(mix.audio, config.sample_rate), ONSET_HOP
        else:
            envelope, hop = net.activation(mix.audio)[0], config.hop
        found = beats_from_envelope(envelope, config.sample_rate, hop)
        scores.append(mir_eval.beat.f_measure(mix.beats, mir_eval.beat.trim_beats(found)))
    return float(np.mean(scores))


def train_beats(options: BeatTrainOptions, loop: LoopOptions, *,
                resume: bool | Path = False) -> Path:
    """Train and export the tracker to ``loop.out/model`` (and ``models/step-N``); returns
    the model directory."""
    songs = open_dataset(options.data)
    train = [s for s in songs if s.split in ("train", None)]
    valid = [s for s in songs if s.split == "valid"][:options.valid_songs]
    if not train:
        raise ValueError(f"{options.data} has no training songs")
    if not valid:  # a set with no valid split: hold out its last songs
        train, valid = train[:-options.valid_songs] or train, train[-options.valid_songs:]
    log.info("beat tracker: %d training songs, %d validation songs", len(train), len(valid))
    config = options.net
    features = load_features(train, config, options.progress)
    valid_features = load_features(valid, config, False)
    rng = np.random.default_rng(loop.seed)
    torch.manual_seed(loop.seed)
    fixed = draw_batch(valid_features, max(8, loop.batch_size), options.frames,
                       np.random.default_rng(1))
    criterion = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([POS_WEIGHT]))
    mixes = valid_mixes(valid, config)
    onsets_f1 = tracker_f1(None, mixes, config)

    def loss(model: nn.Module) -> torch.Tensor:
        mel, target = draw_batch(features, loop.batch_size, options.frames, rng)
        logits = model(mel)
        return criterion(logits.float().transpose(1, 2), target.transpose(1, 2))

    def validate(model: nn.Module) -> dict[str, float]:
        mel, target = fixed
        logits = model(mel)
        assert isinstance(model, BeatNet)
        return {"valid_loss": float(criterion(logits.float().transpose(1, 2),
                                              target.transpose(1, 2))),
                "valid_beat_f1": tracker_f1(model, mixes, config),
                "valid_beat_f1_onsets": onsets_f1}

    def export(directory: Path, model: nn.Module) -> None:
        assert isinstance(model, BeatNet)
        model.save(directory)

    trainer = Trainer(BeatNet(config), loop, hparams={"frames": options.frames,
                                                       **vars(config)})
    if resume:
        checkpoint = latest_checkpoint(loop.out) if resume is True else Path(resume)
        if checkpoint is None:
            raise FileNotFoundError(f"nothing to resume in {loop.out}/checkpoints")
        trainer.resume(checkpoint)
    trainer.run(loss, validate, export)
    return loop.out / "model"
