"""Latent cache: every song encoded once per codec, so training never re-encodes audio.

Per song and per stem the cache holds the stem's latent (what the model learns to generate)
and the latent of the mix *without* that stem (its conditioning). The context latent is
encoded from the summed audio: a codec such as the log-mel one is not linear, so it cannot
be combined from stem latents. Also kept: which frames of each stem are audible, and the
ground-truth beats and downbeats, from which :mod:`.beats` builds a local
:class:`~sideman.models.base.Transport` per training window (the same beat planes the
pipeline computes from a client's transport).

Layout: ``ROOT/<codec>-<hash>/`` with ``cache.json`` (codec, parameters, data set, songs,
latent statistics) and one ``<song id>.npz`` per song. The hash covers the codec's name and
latent-space parameters, so another codec (or other mel settings) gets another cache and an
existing one is reused. Frame ``j`` of a song is samples ``[j·hop, (j+1)·hop)`` of the audio
resampled to the codec's rate, padded with zeros to a whole number of frames: exactly the
frames the pipeline marks known (see docs/MODELS.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .datasets import STEMS, Song, load_audio, mix_without, open_dataset

log = logging.getLogger(__name__)

FORMAT = "sideman-latent-cache"
FORMAT_VERSION = 1
#: A latent frame counts as audible when the stem's RMS over its hop span is above this.
ACTIVE_DB = -60.0


class CacheError(ValueError):
    """A latent cache that is missing, stale or does not fit (the message says which)."""


@dataclass(frozen=True)
class SongLatents:
    """One song's cached latents (all stems in :data:`~.datasets.STEMS` order).

    Attributes:
        id, split: from the data set.
        target: ``float32 (S, C, F)``: latent of each stem.
        context: ``float32 (S, C, F)``: latent of the mix without that stem.
        active: ``bool (S, F)``: the stem is audible in the frame (RMS > -60 dBFS).
        beats, downbeats: ground-truth times in seconds (empty when unknown).
        beats_per_bar: beats in a bar (``None`` when unknown).
    """

    id: str
    split: str | None
    target: np.ndarray
    context: np.ndarray
    active: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    beats_per_bar: int | None

    @property
    def frames(self) -> int:
        return self.target.shape[-1]


def cache_key(codec: Any) -> str:
    """``<codec name>-<12 hex digits>`` from the codec's name and latent-space parameters."""
    spec = json.dumps({"name": codec.name, "latent": codec.latent_params()}, sort_keys=True)
    return f"{codec.name}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


def cache_dir(root: str | Path, codec: Any) -> Path:
    return Path(root) / cache_key(codec)


def frame_activity(audio: np.ndarray, hop: int, frames: int, threshold_db: float = ACTIVE_DB
                   ) -> np.ndarray:
    """``bool (frames,)``: RMS of each hop span of ``audio`` above ``threshold_db`` dBFS."""
    padded = np.zeros(frames * hop, dtype=np.float64)
    n = min(len(audio), frames * hop)
    padded[:n] = audio[:n]
    rms = np.sqrt(np.mean(padded.reshape(frames, hop) ** 2, axis=1))
    return rms > 10 ** (threshold_db / 20)


def beats_per_bar_of(song: Song) -> int | None:
    """Beats per bar: the metadata's, else the median count of beats between downbeats."""
    value = song.info.get("beats_per_bar") if song.info else None
    if value:
        return int(value)
    if song.beats is None or song.downbeats is None or len(song.downbeats) < 2:
        return None
    counts = np.diff(np.searchsorted(song.beats, song.downbeats - 1e-6))
    return int(np.median(counts)) if len(counts) else None


def encode_song(song: Song, codec: Any) -> SongLatents:
    """Encode one song's stems and stem-less mixes (``codec`` built by ``build_codec``)."""
    import torch

    sr, hop = codec.sample_rate, codec.hop_length
    stems = [load_audio(song, stem, sr=sr) for stem in STEMS]
    contexts = [mix_without(song, stem, sr=sr) for stem in STEMS]
    n = max(len(a) for a in stems)
    frames = -(-n // hop)
    batch = np.zeros((2 * len(STEMS), frames * hop), dtype=np.float32)
    for i, audio in enumerate(stems + contexts):
        batch[i, :len(audio)] = audio
    with torch.no_grad():
        latent = codec.encode(torch.from_numpy(batch)).float().cpu().numpy()
    active = np.stack([frame_activity(a, hop, frames) for a in stems])
    empty = np.zeros(0, dtype=np.float64)
    return SongLatents(
        id=song.id, split=song.split, target=latent[:len(STEMS)], context=latent[len(STEMS):],
        active=active,
        beats=empty if song.beats is None else np.asarray(song.beats, np.float64),
        downbeats=empty if song.downbeats is None else np.asarray(song.downbeats, np.float64),
        beats_per_bar=beats_per_bar_of(song),
    )


def _save_song(path: Path, lat: SongLatents) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, target=lat.target, context=lat.context, active=lat.active, beats=lat.beats,
             downbeats=lat.downbeats, beats_per_bar=np.int64(lat.beats_per_bar or 0))
    tmp.replace(path)


def _load_song(path: Path, song_id: str, split: str | None) -> SongLatents:
    with np.load(path) as data:
        bpb = int(data["beats_per_bar"])
        return SongLatents(id=song_id, split=split, target=data["target"],
                           context=data["context"], active=data["active"],
                           beats=data["beats"], downbeats=data["downbeats"],
                           beats_per_bar=bpb or None)


def latent_stats(songs: Sequence[SongLatents]) -> dict[str, Any]:
    """Second moments of the target latents (EDM's ``sigma_data`` is their RMS), per stem.

    Computed over each song's frames (pre-song padding, which training adds, is not counted).
    """
    out: dict[str, Any] = {"songs": len(songs)}
    if not songs:
        return out
    total = np.zeros(len(STEMS))
    sq = np.zeros(len(STEMS))
    count = np.zeros(len(STEMS))
    frames = 0
    active = np.zeros(len(STEMS))
    for s in songs:
        total += s.target.sum(axis=(1, 2), dtype=np.float64)
        sq += np.square(s.target, dtype=np.float64).sum(axis=(1, 2))
        count += s.target.shape[1] * s.target.shape[2]
        frames += s.frames
        active += s.active.sum(axis=1)
    mean, rms = total / count, np.sqrt(sq / count)
    out["per_stem"] = {stem: {"mean": float(mean[i]), "rms": float(rms[i]),
                              "std": float(np.sqrt(max(rms[i] ** 2 - mean[i] ** 2, 0.0))),
                              "active_fraction": float(active[i] / frames)}
                       for i, stem in enumerate(STEMS)}
    out["rms"] = float(np.sqrt(sq.sum() / count.sum()))
    out["mean"] = float(total.sum() / count.sum())
    return out


@lru_cache(maxsize=2)
def _worker_codec(name: str, params: str) -> Any:
    """A worker process's codec, built once from its recorded parameters (one torch thread:
    the processes are the parallelism)."""
    import torch

    from sideman.models.codecs import build_codec

    torch.set_num_threads(1)
    return build_codec(name, json.loads(params))


def _encode_task(task: tuple[Song, str, str, str]) -> str:
    song, path, name, params = task
    _save_song(Path(path), encode_song(song, _worker_codec(name, params)))
    return song.id


def build_cache(data: str | Path, root: str | Path, codec: Any, *, progress: bool = True,
                splits: Sequence[str] | None = None, jobs: int = 1) -> Path:
    """Encode every song of ``data`` not yet cached under ``root``; returns the cache dir.

    Songs already encoded (their ``.npz`` exists) are kept, so an interrupted run resumes.
    ``splits`` restricts which songs are encoded (default: all). ``jobs`` > 1 encodes songs
    in that many worker processes, each with its own codec built from ``codec``'s recorded
    parameters: the mel codec only (music2latent needs its weights at run time); the
    files do not depend on it.
    """
    from tqdm import tqdm

    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    if jobs > 1 and codec.name != "mel":
        raise ValueError(f"jobs > 1 encodes with the mel codec only (workers rebuild it from "
                         f"its parameters); encode {codec.name} with one job")

    songs = open_dataset(data)
    if splits is not None:
        songs = [s for s in songs if s.split in splits]
    if not songs:
        raise CacheError(f"no songs in {data}" + (f" for splits {list(splits)}" if splits
                                                  else ""))
    out = cache_dir(root, codec)
    out.mkdir(parents=True, exist_ok=True)
    todo = [s for s in songs if not (out / f"{s.id}.npz").is_file()]
    bar = tqdm(total=len(todo), desc=f"cache {out.name}", unit="song", disable=not progress)
    with bar:
        if jobs == 1 or len(todo) <= 1:
            for song in todo:
                _save_song(out / f"{song.id}.npz", encode_song(song, codec))
                bar.update()
        else:
            params = json.dumps(codec.params(), sort_keys=True)
            tasks = [(s, str(out / f"{s.id}.npz"), codec.name, params) for s in todo]
            with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
                for _ in pool.map(_encode_task, tasks, chunksize=4):
                    bar.update()
    index: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "codec": codec.name, "codec_params": codec.params(),
        "latent_params": codec.latent_params(), "key": out.name,
        "data": str(Path(data).resolve()),
        "sample_rate": codec.sample_rate, "hop_length": codec.hop_length,
        "latent_channels": codec.latent_channels, "stems": list(STEMS),
        "active_db": ACTIVE_DB,
        "songs": [{"id": s.id, "split": s.split, "file": f"{s.id}.npz"} for s in songs],
    }
    index_path = out / "cache.json"
    if not todo and index_path.is_file():
        # nothing new: an index of the same songs already holds these statistics, which
        # would cost reading every training latent again (each training run opens the cache)
        old = json.loads(index_path.read_text())
        if "stats_train" in old and {k: v for k, v in old.items() if k != "stats_train"} \
                == json.loads(json.dumps(index)):
            log.info("latent cache %s: %d songs, all cached", out, len(songs))
            return out
    train = [_load_song(out / f"{s.id}.npz", s.id, s.split) for s in songs
             if s.split == "train"]
    index["stats_train"] = latent_stats(train)
    index_path.write_text(json.dumps(index, indent=1) + "\n")
    log.info("latent cache %s: %d songs (%d encoded now)", out, len(songs), len(todo))
    return out


@dataclass(frozen=True)
class LatentCache:
    """An opened cache: its index and the songs of the requested splits, in memory."""

    path: Path
    index: dict[str, Any]
    songs: tuple[SongLatents, ...]

    @property
    def sigma_data(self) -> float:
        """RMS of the training split's stem latents (EDM's σ_data for this data)."""
        stats = self.index.get("stats_train") or {}
        if "rms" not in stats:
            raise CacheError(f"{self.path}/cache.json has no training-split statistics "
                             f"(the data set has no 'train' songs?)")
        return float(stats["rms"])

    def split(self, name: str) -> list[SongLatents]:
        return [s for s in self.songs if s.split == name]


def open_cache(path: str | Path, codec: Any | None = None,
               splits: Sequence[str] | None = None) -> LatentCache:
    """Open a cache directory (as :func:`build_cache` returns) and load songs of ``splits``.

    With ``codec`` given, a cache made with other latent-space parameters is refused.
    """
    path = Path(path)
    index_path = path / "cache.json"
    if not index_path.is_file():
        raise CacheError(f"{index_path} not found: build the cache with `sideman data cache`")
    index = json.loads(index_path.read_text())
    if index.get("format") != FORMAT or index.get("format_version") != FORMAT_VERSION:
        raise CacheError(f"{index_path} is not a version-{FORMAT_VERSION} sideman latent cache")
    if codec is not None and index.get("key") != cache_key(codec):
        raise CacheError(f"{path} holds latents of codec {index.get('codec')} "
                         f"{index.get('latent_params')}, not of {codec.name} "
                         f"{codec.latent_params()}")
    songs = tuple(_load_song(path / e["file"], e["id"], e["split"]) for e in index["songs"]
                  if splits is None or e["split"] in splits)
    return LatentCache(path=path, index=index, songs=songs)
