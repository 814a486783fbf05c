"""Look-ahead sweeps: songs × stems × r × w × beat-grid condition through the live server's
own code on a simulated clock, scored against references, written as JSON / CSV / markdown /
plots.

For every (song, stem) the client streams the mix without that stem
(:func:`~sideman.training.datasets.mix_without`) at the song's own rate, exactly as a patch
would, through :class:`~sideman.eval.simulate.Simulation` (the server's sessions, scheduler,
engine and chunker, the reference client's protocol core); the server generates the stem.
Nothing here re-implements streaming: this module picks songs, builds the simulated clients,
and scores what they received.

* **Jobs** are (song, stem, r, w, condition); ``condition`` is ``no_grid`` (no grid at all:
  no transport, the server's beat tracking off), ``tracked`` (no transport: the server tracks
  the beat in the input, as it does by default) or ``beat_grid`` (the client sends
  ``/sideman/transport`` at every annotated beat with the host's tempo and the beat's
  position in the bar). For a model without the beat-grid input they are identical by
  construction: the other conditions reuse the ``no_grid`` output (noted in ``meta``)
  instead of running it again.
* **Batching**: up to ``batch`` jobs run as concurrent sessions of one simulated server, so
  the engine batches their steps into one model call (fast mode; in real time they also share
  the model like concurrent clients, so the default there is one job at a time).
* **Span**: each song is scored over ``[span_start, end)``; by default ``span_start`` is one
  model window T, when every (r, w) with ``(w+2)·r <= 1`` has generated and has a full window
  of context, so all conditions of a song are scored over the same seconds.
* **Caching**: the ground truth, the context and the other song's stem are analysed and
  embedded once per (song, stem) and reused for every (r, w, condition).
* **References**: ground truth, silence and the same stem of another song
  (:func:`other_songs`: preferably one that is not scored itself, so the pooled Fréchet
  distance of that reference is a real floor rather than the ground-truth pool reshuffled).
* **Listening control**: beside each job a second client streams the other song's context
  (and, with the beat grid, its grid) with the same seed and settings; what the model makes
  of it, scored against *this* song, is the ``other_generated`` entry, and ``listening`` =
  generated / other_generated per metric. A model that ignores its input makes the same
  stem for both and scores exactly 1. A third client streams this song again with another
  seed, so :func:`~sideman.eval.metrics.conditioning_sensitivity` can set the change the
  input makes against the change the seed makes (``sensitivity=False`` skips it).
* **Seeds per song**: each song is generated with :func:`song_seed` of ``seed`` and its id,
  so songs do not share noise; the seed is recorded with each record.

Songs whose target stem is silent over the span are skipped (listed in ``run.json``) unless
``include_silent``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from sideman.client.core import ClientSettings, StreamClient, TransportUpdate
from sideman.client.core import transport_updates as client_transport_updates
from sideman.models.base import DEFAULT_BEAT_TRACKER, Generator, song_seed
from sideman.models.geometry import Geometry, GeometryError, hop_frames_for_ratio
from sideman.server.app import ServerConfig
from sideman.training.datasets import STEMS, Song, load_audio, mix_without, open_dataset

from .latency import Latency
from .metrics import (
    EMBED_DIM,
    SILENCE_DB,
    Analysis,
    BeatTracker,
    analyze,
    conditioning_sensitivity,
    crop,
    embed,
    evaluate_stem,
    fit_length,
    resolve_tracker,
)
from .network import Impairment
from .report import SongRecord, SweepResults, write_json
from .simulate import SIM_OPTIONS, SimClient, Simulation

log = logging.getLogger(__name__)

#: Condition labels by ``--beat-grid`` choice.
BEAT_GRID_CONDITIONS: dict[str, tuple[str, ...]] = {
    "off": ("no_grid",), "on": ("beat_grid",), "both": ("no_grid", "beat_grid"),
    "tracked": ("tracked",), "all": ("no_grid", "tracked", "beat_grid")}
#: The server's ``track`` setting per condition: ``no_grid`` gives the model no grid at all,
#: ``tracked`` the one the server tracks in the input; with ``beat_grid`` the host's wins.
TRACK_SETTING: dict[str, bool | None] = {"no_grid": False, "tracked": True, "beat_grid": None}
#: The numbers each record's ``counts`` holds (keys documented in docs/EVAL.md).
COUNT_KEYS: tuple[str, ...] = (
    "steps", "steps_complete", "steps_lost", "steps_late", "misses", "superseded",
    "degraded", "refined", "lost_chunks", "late_chunks", "duplicate_chunks", "lost_samples",
    "lost_in")
#: Default sessions per simulated server: fast mode batches, real time one client at a time.
DEFAULT_BATCH_FAST = 16
DEFAULT_BATCH_REALTIME = 1


class SweepError(ValueError):
    """A sweep that cannot run as asked (the message says what to change)."""


@dataclass(frozen=True)
class SweepConfig:
    """Everything a sweep needs; parsed once by the CLI (``sideman eval sweep``)."""

    data: Path
    out: Path
    model: str = "default"
    split: str | None = "test"
    songs: int | None = None
    song_ids: tuple[str, ...] = ()
    seconds: float | None = None  #: stream and score only each song's first seconds
    stems: tuple[str, ...] = ("drums",)
    rs: tuple[float, ...] = (0.25,)
    ws: tuple[int, ...] = (1,)
    beat_grid: str = "off"
    # client settings
    steps: int | None = None
    seed: int = 0  #: the sweep's seed; each song's own comes from :func:`song_seed`
    variation: float | None = None
    guidance: float | None = None
    grid_guidance: float | None = None
    #: what the tracked condition's grid is tracked in (models.tempo.envelope_for)
    grid_tracker: str = DEFAULT_BEAT_TRACKER
    #: the ``stop`` setting (seconds of silence heard before the parts stop; None: the server's)
    stop: float | None = None
    xfade: int | None = None
    delay: int = 0
    refine: bool = True
    # simulation
    realtime: bool = False
    latency: Latency = field(default_factory=Latency)
    up: Impairment | None = None
    down: Impairment | None = None
    link_seed: int = 0
    block: int = 1024
    batch: int | None = None
    # scoring and output
    tracker: str = "auto"
    beat_this_checkpoint: Path | None = None
    span_start: float | None = None
    skip_seconds: float = 0.0
    sensitivity: bool = True  #: also run each song with another seed (the sensitivity)
    include_silent: bool = False
    save_audio: bool = False
    plots: bool = True
    spectrograms: int = 2  #: songs per stem drawn as spectrograms (with ``plots``)
    # model loading and compute
    device: str = "cpu"
    codec_weights: Path | None = None
    click_period: int | None = None
    jobs: int = 1  #: worker processes, one (song, stem) at a time each
    threads: int = 1  #: torch threads per worker process (0: torch's default)
    resume: bool = True  #: keep the finished song-settings of ``out/cells.jsonl``
    #: ``(I, N)``: run only shard I of N (:func:`shard_jobs`); ``None``: every song-setting
    shard: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.shard is not None:
            index, count = self.shard
            if not (count >= 1 and 0 <= index < count):
                raise SweepError(f"shard must be I/N with 0 <= I < N, got {index}/{count}")
        if self.beat_grid not in BEAT_GRID_CONDITIONS:
            raise SweepError(f"beat_grid must be one of {', '.join(BEAT_GRID_CONDITIONS)}, got "
                             f"{self.beat_grid!r}")
        unknown = [s for s in self.stems if s not in STEMS]
        if not self.stems or unknown:
            raise SweepError(f"stems must be some of {', '.join(STEMS)}, got "
                             f"{', '.join(self.stems) or 'none'}")
        if len(set(self.stems)) != len(self.stems):
            raise SweepError(f"stems listed twice: {', '.join(self.stems)}")
        if not self.rs or any(not (0.0 < r <= 1.0) for r in self.rs):
            raise SweepError(f"r values must be in (0, 1], got {list(self.rs)}")
        if not self.ws or any(w < -1 for w in self.ws):
            raise SweepError(f"w values must be integers >= -1, got {list(self.ws)}")
        if self.songs is not None and self.songs < 1:
            raise SweepError(f"songs must be >= 1, got {self.songs}")
        if self.seconds is not None and not (math.isfinite(self.seconds)
                                             and self.seconds > 0):
            raise SweepError(f"seconds must be > 0, got {self.seconds}")
        if self.jobs < 1:
            raise SweepError(f"jobs must be >= 1, got {self.jobs}")
        if self.threads < 0:
            raise SweepError(f"threads must be >= 0, got {self.threads}")
        if self.batch is not None and self.batch < 1:
            raise SweepError(f"batch must be >= 1, got {self.batch}")
        if self.block < 16:
            raise SweepError(f"block must be >= 16 samples, got {self.block}")
        if self.span_start is not None and not (math.isfinite(self.span_start)
                                                and self.span_start >= 0):
            raise SweepError(f"span_start must be >= 0 seconds, got {self.span_start}")
        if not (math.isfinite(self.skip_seconds) and self.skip_seconds >= 0):
            raise SweepError(f"skip_seconds must be >= 0, got {self.skip_seconds}")
        if not self.realtime and not self.latency.zero:
            raise SweepError("a simulated model latency only matters under real-time "
                             "conditions: add --realtime (or drop the latency options)")

    @property
    def conditions(self) -> tuple[str, ...]:
        return BEAT_GRID_CONDITIONS[self.beat_grid]

    @property
    def batch_size(self) -> int:
        if self.batch is not None:
            return self.batch
        return DEFAULT_BATCH_REALTIME if self.realtime else DEFAULT_BATCH_FAST

    def client_settings(self, stem: str, r: float, w: int, seed: int,
                        condition: str = "beat_grid") -> ClientSettings:
        return ClientSettings(stems=(stem,), r=r, w=w, steps=self.steps, seed=seed,
                              variation=self.variation, guidance=self.guidance,
                              grid_guidance=self.grid_guidance,
                              track=TRACK_SETTING[condition], stop=self.stop,
                              xfade=self.xfade,
                              delay=self.delay, realtime=self.realtime, refine=self.refine)


@dataclass(frozen=True)
class Job:
    """One song-setting: the stem of ``song`` generated with hop ratio ``r``, look-ahead ``w``
    and beat-grid ``condition``; ``other`` gives the other-song reference.

    ``other_scored``: the other song is itself scored for this stem (every song with the
    stem is). Its stem is still a fair per-song reference (an unrelated part over this
    context), but not for the pooled Fréchet distance: the other-song windows would be the
    ground-truth windows again, shuffled, and their distance about 0.
    """

    song: Song
    stem: str
    r: float
    w: int
    condition: str
    span: tuple[float, float]
    other: Song | None
    other_scored: bool = False
    picture: bool = False  #: draw its spectrograms (one of the first songs of its stem)

    @property
    def label(self) -> str:
        return f"{self.song.id}/{self.stem}/{self.condition}/r{self.r:g}/w{self.w}"

    def seed(self, seed: int) -> int:
        """The seed this song is generated with (the listening control uses it too)."""
        return song_seed(seed, self.song.id)

    def reseed(self, seed: int) -> int:
        """Another seed for the same song: the seed-to-seed change of the sensitivity."""
        return song_seed(seed, self.song.id, reseed=True)

    def link_seed(self, seed: int) -> int:
        """Per-job link seed: a job's losses do not depend on what else runs beside it."""
        digest = hashlib.blake2b(f"{seed}:{self.label}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "little")


@dataclass
class _Reference:
    """Per (song, stem): the audio and analyses every job of it reuses.

    ``other_context`` / ``other_transport``: the other song's input, cut or padded to this
    song's length, for the listening control (``None``/empty without another song).
    """

    rate: int
    truth: np.ndarray
    context: np.ndarray
    truth_analysis: Analysis
    context_analysis: Analysis
    other_analysis: Analysis | None
    embeddings: dict[str, np.ndarray]
    transport: tuple[TransportUpdate, ...]
    other_context: np.ndarray | None = None
    other_transport: tuple[TransportUpdate, ...] = ()


@dataclass
class SweepRun:
    """What :func:`run_sweep` returns: the results, the files written and the run info."""

    results: SweepResults
    paths: dict[str, Path]
    info: dict[str, Any]


# -- songs and the beat grid ---------------------------------------------------------------
def _rms_db(audio: np.ndarray) -> float:
    if not audio.size:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def _scorable(song: Song, stem: str, span_start: float, include_silent: bool,
              end: float | None = None) -> str | None:
    """Why ``song`` cannot be scored for ``stem`` over ``[span_start, end)`` (``None``: it
    can; ``end`` None: the song's end)."""
    if song.duration <= span_start:
        return f"{song.duration:.2f} s long: nothing after the span start {span_start:.2f} s"
    if not include_silent:
        stop = None if end is None else min(end, song.duration)
        level = _rms_db(load_audio(song, stem, start=span_start, end=stop))
        if level < SILENCE_DB:
            where = "" if stop is None else f" and before {stop:.2f} s"
            return f"{stem} silent after {span_start:.2f} s{where} ({level:.1f} dBFS)"
    return None


def select_songs(songs: Sequence[Song], stem: str, span_start: float, count: int | None,
                 include_silent: bool, end: float | None = None
                 ) -> tuple[list[Song], dict[str, str]]:
    """The first ``count`` songs (in order) that can be scored for ``stem`` (over
    ``[span_start, end)``), and why the others before the last one picked were skipped."""
    chosen: list[Song] = []
    skipped: dict[str, str] = {}
    for song in songs:
        if count is not None and len(chosen) >= count:
            break
        why = _scorable(song, stem, span_start, include_silent, end)
        if why is None:
            chosen.append(song)
        else:
            skipped[song.id] = why
    return chosen, skipped


def other_songs(songs: Sequence[Song], chosen: Sequence[Song], stem: str, span_start: float,
                include_silent: bool, end: float | None = None) -> list[Song | None]:
    """The other-song reference of each chosen song: the songs of the set that have the stem
    but are not scored, in order after the last chosen one (cycling), one per chosen song
    while they last; when every such song is scored, the next chosen song (cyclic), so the
    reference is never the song itself (``None`` for a single song)."""
    ids = {s.id for s in chosen}
    last = max((i for i, s in enumerate(songs) if s.id in ids), default=-1)
    pool: list[Song] = []
    for k in range(1, len(songs) + 1):
        if len(pool) >= len(chosen):
            break
        song = songs[(last + k) % len(songs)]
        if song.id not in ids and _scorable(song, stem, span_start, include_silent,
                                            end) is None:
            pool.append(song)
    if pool:
        return [pool[i % len(pool)] for i in range(len(chosen))]
    if len(chosen) < 2:
        return [None] * len(chosen)
    return [chosen[(i + 1) % len(chosen)] for i in range(len(chosen))]


def beats_per_bar(song: Song) -> int:
    """Felt beats per bar: the data's own figure, else the median count between downbeats."""
    value = song.info.get("beats_per_bar") if isinstance(song.info, dict) else None
    if value is None and song.beats is not None and song.downbeats is not None \
            and len(song.downbeats) > 1:
        counts = np.diff(np.searchsorted(song.beats, np.asarray(song.downbeats) - 1e-3))
        value = int(np.median(counts)) if len(counts) else None
    if value is None and song.meter:
        value = int(song.meter.split("/")[0])
    return int(min(16, max(1, value or 4)))


def transport_updates(song: Song, rate: int) -> tuple[TransportUpdate, ...]:
    """One ``/sideman/transport`` per annotated beat, sent once the client has captured that
    beat: the host's tempo there (from the beat to the next) and the beat's place in the bar.
    The first goes out at capture start (it may announce a beat still to come)."""
    if song.beats is None or len(song.beats) < 2:
        raise SweepError(f"song {song.id} has no beat annotations: the beat-grid condition "
                         f"needs them (use --beat-grid off)")
    return client_transport_updates(song.beats, rate, beats_per_bar=beats_per_bar(song),
                                    downbeats=song.downbeats)


# -- the sweep -----------------------------------------------------------------------------
def _load_model(config: SweepConfig) -> Generator:
    from sideman.models.registry import load_generator

    options: dict[str, Any] = {}
    if config.model == "clicktrack":
        if config.click_period is not None:
            options["period"] = config.click_period
    else:
        if config.device != "cpu":
            options["device"] = config.device
        if config.grid_tracker != DEFAULT_BEAT_TRACKER:
            options["beat_tracker"] = config.grid_tracker
        if config.codec_weights is not None:
            options["codec_weights"] = config.codec_weights
    return load_generator(config.model, **options)


def _window_seconds(generator: Generator, rate: int) -> float:
    info = generator.info
    return info.window_frames * info.hop_length / (info.sample_rate or rate)


def _check_geometry(generator: Generator, config: SweepConfig) -> None:
    info = generator.info
    bad = []
    for r in config.rs:
        try:
            frames = hop_frames_for_ratio(r, info.window_frames)
        except GeometryError as exc:
            raise SweepError(str(exc)) from None
        for w in config.ws:
            if w > Geometry.max_lookahead(info.window_frames, frames):
                bad.append(f"r={r:g} w={w}")
    if bad:
        raise SweepError(f"(w+2)*r must be <= 1 for {info.name}'s {info.window_frames}-frame "
                         f"window: {', '.join(bad)} leave no known context")


def _jobs(config: SweepConfig, songs: Sequence[Song], span_rule: float
          ) -> tuple[list[Job], dict[str, dict[str, str]]]:
    jobs: list[Job] = []
    skipped: dict[str, dict[str, str]] = {}
    for stem in config.stems:
        chosen, skipped[stem] = select_songs(songs, stem, span_rule, config.songs,
                                             config.include_silent, config.seconds)
        if not chosen:
            raise SweepError(f"no song to score for {stem}: {len(songs)} songs, all skipped "
                             f"({'; '.join(f'{k}: {v}' for k, v in skipped[stem].items())})")
        if config.songs is not None and len(chosen) < config.songs:
            why = "; ".join(f"{k}: {v}" for k, v in skipped[stem].items())
            raise SweepError(
                f"{config.songs} songs asked for (--songs) but {len(chosen)} of the "
                f"{len(songs)} songs of split {config.split or 'all'} can be scored for {stem}"
                + (f" (skipped {why})" if why else "")
                + f"; ask for --songs {len(chosen)} or fewer, or use another --split"
                + ("" if config.include_silent else " or --include-silent"))
        others = other_songs(songs, chosen, stem, span_rule, config.include_silent,
                             config.seconds)
        if "beat_grid" in config.conditions:  # refuses songs without beats
            for song in {s.id: s for s in [*chosen, *others] if s is not None}.values():
                transport_updates(song, song.sample_rate)
        scored = {s.id for s in chosen}
        for n, (song, other) in enumerate(zip(chosen, others, strict=True)):
            other_scored = other is not None and other.id in scored
            picture = config.plots and n < config.spectrograms
            span = (span_rule, song.duration if config.seconds is None
                    else min(song.duration, config.seconds))
            for condition in config.conditions:
                for r in config.rs:
                    for w in config.ws:
                        jobs.append(Job(song, stem, r, w, condition, span, other,
                                        other_scored, picture))
    return jobs, skipped


def _reference(job: Job, tracker: BeatTracker, beat_grid: bool) -> _Reference:
    song, stem = job.song, job.stem
    rate = song.sample_rate
    start, end = job.span
    # An excerpt (--seconds) is the song cut at the span's end: streamed, scored, compared.
    stop = None if end >= song.duration else end
    truth = load_audio(song, stem, end=stop)
    context = mix_without(song, stem, end=stop)
    truth_a = analyze(truth, rate, tracker)
    context_a = analyze(context, rate, tracker)
    embeddings = {"ground_truth": embed(crop(truth, rate, start, end), rate),
                  "silence": embed(np.zeros(round((end - start) * rate), np.float32), rate)}
    def grid(of: Song) -> tuple[TransportUpdate, ...]:
        """``of``'s beat grid as this client sends it, over this song's length."""
        return tuple(u for u in transport_updates(of, rate) if u.at < len(context)) \
            if beat_grid else ()

    other_a = None
    other_context = None
    other_transport: tuple[TransportUpdate, ...] = ()
    if job.other is not None:
        other = fit_length(load_audio(job.other, stem, sr=rate, end=stop), len(truth))
        other_a = analyze(other, rate, tracker)
        if not job.other_scored:
            embeddings["other_song"] = embed(crop(other, rate, start, end), rate)
        other_context = fit_length(mix_without(job.other, stem, sr=rate, end=stop),
                                   len(context))
        other_transport = grid(job.other)
    return _Reference(rate=rate, truth=truth, context=context, truth_analysis=truth_a,
                      context_analysis=context_a, other_analysis=other_a,
                      embeddings=embeddings,
                      transport=grid(song),
                      other_context=other_context, other_transport=other_transport)


def lost_samples(core: StreamClient, stem: str) -> int:
    """Samples the client's plan expected (every step's output, crossfade included) that no
    received chunk covered: what plays as silence because it was lost or superseded."""
    expected = np.zeros(core.length, bool)
    for p in core.plan():
        expected[max(0, p.out_start):max(0, min(p.region[1], core.length))] = True
    return int(np.count_nonzero(expected & ~core.writers[stem].covered))


def job_counts(core: StreamClient, stem: str) -> dict[str, float]:
    """A job's ``counts`` (:data:`COUNT_KEYS`): the client's stats, the server's status
    (``degraded``, ``refined``, ``lost_in``; absent when the status never arrived) and
    :func:`lost_samples`."""
    stats = core.stats()
    status = stats["server_status"]
    assert isinstance(status, dict)
    counts: dict[str, float] = {k: cast(float, stats[k]) for k in (
        "steps", "steps_complete", "steps_lost", "steps_late", "misses", "superseded",
        "lost_chunks", "late_chunks", "duplicate_chunks")}
    for key in ("degraded", "refined", "lost_in"):
        if key in status:
            counts[key] = status[key]
    counts["lost_samples"] = lost_samples(core, stem)
    return counts


def _save_audio(out: Path, job: Job, audio: np.ndarray, rate: int, suffix: str = "") -> Path:
    import soundfile as sf

    path = (out / "audio" / job.song.id
            / f"{job.stem}_{job.condition}_r{job.r:g}_w{job.w}{suffix}.wav")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, rate, subtype="FLOAT")
    return path


#: The checkpoint of finished song-settings in the output directory (one JSON object a line).
CHECKPOINT = "cells.jsonl"
#: Settings a checkpoint may differ in and still be resumed: which songs and settings to run
#: (cells are keyed by song, stem, condition, r and w) and how to compute or write them.
RESUMABLE_KEYS = frozenset({"out", "songs", "song_ids", "stems", "rs", "ws", "beat_grid",
                            "batch", "jobs", "threads", "resume", "plots", "save_audio",
                            "spectrograms", "device"})


@dataclass
class Cell:
    """One finished song-setting: its record and its windows for the pooled Fréchet
    distance."""

    label: str
    record: SongRecord
    embeddings: dict[str, np.ndarray]
    other: str | None = None  #: the song whose stem was the other-song reference

    def to_json(self) -> str:
        return json.dumps({"label": self.label, "other": self.other,
                           "record": self.record.to_dict(),
                           "embeddings": {k: np.asarray(v).tolist()
                                          for k, v in self.embeddings.items()}},
                          allow_nan=False)

    @classmethod
    def from_json(cls, line: str) -> Cell:
        data = json.loads(line)
        return cls(label=data["label"], other=data["other"],
                   record=SongRecord.from_dict(data["record"]),
                   embeddings={k: np.asarray(v, np.float64).reshape(-1, EMBED_DIM)
                               for k, v in data["embeddings"].items()})


@dataclass
class _GroupRun:
    """What running the jobs of one (song, stem) gave: cells, counters, saved audio."""

    cells: list[Cell]
    stats: dict[str, float]
    audio: list[str]
    pictures: list[str] = field(default_factory=list)


def model_digest(generator: Generator) -> str:
    """A short sha256 of what decides a model's output: its class, info and scalar options,
    and for a pipeline its weights and config. A model retrained under the same name (or
    the same directory) gets another digest, so a sweep never resumes with its old cells."""
    import torch

    h = hashlib.sha256()
    h.update(type(generator).__qualname__.encode())
    h.update(repr(generator.info).encode())
    for key, value in sorted(vars(generator).items()):
        if isinstance(value, (bool, int, float, str)):
            h.update(f"{key}={value!r};".encode())
    denoiser = getattr(generator, "denoiser", None)
    if isinstance(denoiser, torch.nn.Module):
        h.update(repr(getattr(generator, "config", None)).encode())
        for name, tensor in sorted(denoiser.state_dict().items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
                     .numpy().tobytes())
    return h.hexdigest()[:16]


def _fingerprint(config: SweepConfig, model_name: str, digest: str | None = None
                 ) -> dict[str, Any]:
    settings = {k: v for k, v in _jsonable(asdict(config)).items() if k not in RESUMABLE_KEYS}
    return {"model": model_name, "model_digest": digest, **settings}


def load_checkpoint(config: SweepConfig, model_name: str, digest: str | None = None
                    ) -> dict[str, Cell]:
    """The finished cells of ``config.out/cells.jsonl`` by label (empty without one, or
    with ``resume`` off, which starts the file again). Refuses a checkpoint made with
    settings that change the results (see :data:`RESUMABLE_KEYS`) or with another model
    (``digest``: :func:`model_digest`)."""
    path = config.out / CHECKPOINT
    fingerprint = _fingerprint(config, model_name, digest)
    if not config.resume or not path.is_file():
        config.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"sweep_checkpoint": 1, "settings": fingerprint}) + "\n")
        return {}
    lines = path.read_text().splitlines()
    header = json.loads(lines[0]) if lines else {}
    if header.get("sweep_checkpoint") != 1:
        raise SweepError(f"{path} is not a sweep checkpoint: use another --out or --fresh")
    before = header["settings"]
    changed = sorted(k for k in set(before) | set(fingerprint)
                     if before.get(k) != fingerprint.get(k))
    if changed:
        what = "; ".join(f"{k}: {before.get(k)!r} then, {fingerprint.get(k)!r} now"
                         for k in changed)
        raise SweepError(f"{path} was made with other settings ({what}): use another --out, "
                         f"or --fresh to start again")
    return read_cells(path, lines)


def read_cells(path: Path, lines: Sequence[str] | None = None) -> dict[str, Cell]:
    """The cells of a checkpoint by label (later lines win; the header line is skipped)."""
    if lines is None:
        lines = path.read_text().splitlines()
    cells = {}
    for number, line in enumerate(lines[1:], start=2):
        try:
            cell = Cell.from_json(line)
        except (ValueError, KeyError, TypeError) as exc:
            # A sweep killed while appending leaves at most a torn last line.
            log.warning("%s line %d unreadable (%s): that song-setting runs again", path,
                        number, exc)
            continue
        cells[cell.label] = cell
    return cells


def _append_checkpoint(path: Path, cells: Sequence[Cell]) -> None:
    with path.open("a") as f:
        for cell in cells:
            f.write(cell.to_json() + "\n")
        f.flush()
        os.fsync(f.fileno())


def shard_jobs(jobs: Sequence[Job], index: int, count: int) -> list[tuple[int, Job]]:
    """Shard ``index`` of ``count``: the jobs of every ``count``-th (stem, song) unit, with
    their place in the whole sweep.

    Units are numbered in the sweep's order (stems as given, songs by id) and unit k goes to
    shard k mod count. A unit is all the settings of one song and stem, so a song-setting's
    listening control and reseeded run, its beat-grid twin and the batches it shares model
    calls with stay in one shard and give the same numbers as an unsharded run.
    """
    units: dict[tuple[str, str], int] = {}
    picked = []
    for place, job in enumerate(jobs):
        unit = units.setdefault((job.stem, job.song.id), len(units))
        if unit % count == index:
            picked.append((place, job))
    return picked


def _run_group(config: SweepConfig, jobs: Sequence[Job], alias: tuple[str, ...],
               generator: Generator, tracker: BeatTracker, on_cell: Any = None) -> _GroupRun:
    """Simulate the jobs of one (song, stem) in batches of ``config.batch_size`` concurrent
    sessions of one simulated server, and score them."""
    seconds = {"references_seconds": 0.0, "simulate_seconds": 0.0, "evaluate_seconds": 0.0}
    t = time.perf_counter()
    ref = _reference(jobs[0], tracker, "beat_grid" in config.conditions)
    seconds["references_seconds"] += time.perf_counter() - t
    sim = Simulation(generator, config=ServerConfig(
        log_interval=0, max_sessions=config.batch_size + 1, max_batch=config.batch_size,
        max_queue=max(64, 4 * config.batch_size), idle_timeout=3600.0),
        latency=config.latency, options=replace(SIM_OPTIONS, realtime_block=config.block),
        seed=config.seed)
    cells: list[Cell] = []
    audio: list[str] = []
    pictures: list[str] = []
    roles = _roles(config, ref)
    # Fast mode: every role of a batch in one simulated server (their steps share model
    # calls; nothing is timed). Real time: the controls must not take the model's time from
    # the measured clients, so each role runs on its own, as many clients as the batch.
    per_batch = config.batch_size if config.realtime else max(1, config.batch_size // len(roles))
    for first in range(0, len(jobs), per_batch):
        batch = jobs[first:first + per_batch]
        t = time.perf_counter()
        if config.realtime:
            by_role = {role: sim.run([_client(config, job, ref, role) for job in batch])
                       for role in roles}
        else:
            cores = sim.run([_client(config, job, ref, role) for job in batch for role in roles])
            by_role = {role: cores[k::len(roles)] for k, role in enumerate(roles)}
        seconds["simulate_seconds"] += time.perf_counter() - t
        t = time.perf_counter()
        for i, job in enumerate(batch):
            runs = {role: by_role[role][i] for role in roles}
            record, embeddings = _score(job, runs, ref, tracker, config)
            core = runs["own"]
            other = job.other.id if job.other else None
            done = [Cell(job.label, record, embeddings, other)]
            for twin_condition in alias:  # the same output, scored once, recorded again
                twin = replace(job, condition=twin_condition)
                done.append(Cell(twin.label, replace(record, condition=twin_condition),
                                 embeddings, other))
            if config.save_audio:
                audio.append(str(_save_audio(config.out, job, core.writers[job.stem].buffer,
                                             ref.rate)))
                if "swap" in runs:  # what it made of the other song's input, same seed
                    audio.append(str(_save_audio(config.out, job, runs["swap"].writers[
                        job.stem].buffer, ref.rate, "_other-input")))
            if job.picture:
                pictures.append(str(_draw(config.out, job, runs, ref)))
            cells += done
            if on_cell is not None:
                on_cell(len(done))
        seconds["evaluate_seconds"] += time.perf_counter() - t
    counters = sim.server.counters
    stats = {**seconds, "model_calls": sim.stats.model_calls,
             "model_wall_seconds": sim.stats.model_wall_seconds,
             "model_steps": counters.steps + counters.refined, "batches": counters.batches,
             "batched_steps": counters.batched_steps,
             "simulated_seconds": sim.stats.simulated_seconds}
    return _GroupRun(cells, stats, audio, pictures)


def _draw(out: Path, job: Job, runs: dict[str, StreamClient], ref: _Reference) -> Path:
    """Spectrograms of what the model heard, the real stem, the generated one and the
    listening control, with the true beats: ``plots/spectrograms/``."""
    from .plots import plot_spectrograms

    panels = [("heard: the mix without the stem", ref.context), ("real stem", ref.truth),
              ("generated", runs["own"].writers[job.stem].buffer)]
    if "swap" in runs:
        panels.append(("generated for another\nsong's input (same seed)",
                       runs["swap"].writers[job.stem].buffer))
    name = f"{job.song.id}_{job.stem}_{job.condition}_r{job.r:g}_w{job.w}.png"
    beats = None if job.song.beats is None else np.asarray(job.song.beats, np.float64)
    return plot_spectrograms(
        panels, ref.rate, out / "plots" / "spectrograms" / name, span=job.span, beats=beats,
        title=f"{job.song.id} {job.stem}, {job.condition}, r = {job.r:g}, w = {job.w}")


def _roles(config: SweepConfig, ref: _Reference) -> tuple[str, ...]:
    """The clients each job runs: its own stream, the listening control (the other song's
    input, same seed) and, for the sensitivity, its own input with another seed."""
    if ref.other_context is None:
        return ("own",)
    return ("own", "swap", "reseed") if config.sensitivity else ("own", "swap")


def _client(config: SweepConfig, job: Job, ref: _Reference, role: str) -> SimClient:
    grid = job.condition == "beat_grid"
    if role == "swap":
        audio, transport = ref.other_context, ref.other_transport
    else:
        audio, transport = ref.context, ref.transport
    assert audio is not None
    seed = job.reseed(config.seed) if role == "reseed" else job.seed(config.seed)
    return SimClient(audio=audio, rate=ref.rate, name=f"{job.label}/{role}",
                     settings=config.client_settings(job.stem, job.r, job.w, seed,
                                                     job.condition),
                     transport=transport if grid else (), up=config.up, down=config.down,
                     link_seed=job.link_seed(config.link_seed))


def _worker_group(config: SweepConfig, jobs: Sequence[Job], alias: tuple[str, ...]) -> _GroupRun:
    """One (song, stem) in a worker process (``--jobs`` > 1): its own model and tracker."""
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    tracker, _ = resolve_tracker(config.tracker, config.beat_this_checkpoint)
    return _run_group(config, jobs, alias, _load_model(config), tracker)


def _groups(runs: Sequence[Job]) -> list[list[Job]]:
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in runs:
        groups.setdefault((job.song.id, job.stem), []).append(job)
    return list(groups.values())


def run_sweep(config: SweepConfig, *, generator: Generator | None = None,
              progress: bool = True, command: str | None = None) -> SweepRun:
    """Run every job of ``config`` and write the result files into ``config.out``.

    ``generator`` overrides ``config.model`` (tests pass one directly; only with ``jobs``
    1). Each finished (song, stem) is appended to ``cells.jsonl``; with ``resume`` (the
    default) a sweep run again with the same settings skips what that file already holds.
    Files: those of :meth:`SweepResults.write` plus ``table.md`` (the headline table) and
    ``run.json`` (settings, skipped songs, timing); with ``save_audio`` the generated stems
    under ``audio/``.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    load_before = os.getloadavg()
    if generator is not None and config.jobs > 1:
        raise SweepError("a generator object runs in this process only: use jobs=1, or give "
                         "the model as a name or directory")
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    generator = generator or _load_model(config)
    info = generator.info
    _check_geometry(generator, config)
    songs = open_dataset(config.data, split=config.split)
    if config.song_ids:
        wanted = set(config.song_ids)
        missing = sorted(wanted - {s.id for s in songs})
        if missing:
            raise SweepError(f"songs not in {config.data} (split {config.split}): "
                             f"{', '.join(missing)}")
        songs = [s for s in songs if s.id in wanted]
    if not songs:
        raise SweepError(f"no songs in {config.data} (split {config.split})")
    rates = {s.sample_rate for s in songs}
    span_rule = (config.span_start if config.span_start is not None
                 else max(_window_seconds(generator, r) for r in rates))
    if config.seconds is not None and config.seconds <= span_rule:
        raise SweepError(f"seconds ({config.seconds:g}) must be more than the span start "
                         f"({span_rule:.2f} s: one model window unless --span-start)")
    tracker, tracker_note = resolve_tracker(config.tracker, config.beat_this_checkpoint)
    jobs, skipped = _jobs(config, songs, span_rule)
    total = len(jobs)
    places = list(range(total))  # each job's place in the whole (unsharded) sweep
    if config.shard is not None:
        picked = shard_jobs(jobs, *config.shard)
        places = [place for place, _ in picked]
        jobs = [job for _, job in picked]
    digest = model_digest(generator)
    finished = load_checkpoint(config, info.name, digest)

    # A model without the beat-grid input gives the same output with the host's grid, a
    # tracked one or none: no_grid runs, the other conditions are recorded from it.
    alias = tuple(c for c in config.conditions if c != "no_grid") \
        if not info.uses_beat_grid and "no_grid" in config.conditions else ()
    runs = [j for j in jobs if j.condition == "no_grid"] if alias else jobs

    def done(job: Job) -> bool:
        """Finished before, against the same other-song reference (adding songs to a sweep
        can change which unscored song is the reference of the others)."""
        cell = finished.get(job.label)
        return cell is not None and cell.other == (job.other.id if job.other else None)

    runs = [j for j in runs if not done(j)
            or any(not done(replace(j, condition=c)) for c in alias)]
    beat_grid_note = None
    gridded = [c for c in config.conditions if c != "no_grid"]
    if gridded and not info.uses_beat_grid:
        beat_grid_note = (f"{info.name} has no beat-grid input: {' and '.join(gridded)} "
                          f"results equal no_grid" + (" (reused, not run twice)" if alias
                                                      else ""))

    meta = {
        "model": info.name, "model_spec": config.model, "data": str(config.data),
        "split": config.split or "all", "mode": "real time" if config.realtime else "fast",
        "tracker": tracker.name, "span_start_seconds": round(span_rule, 4),
    }
    if config.seconds is not None:
        meta["excerpt_seconds"] = config.seconds
    if tracker_note:
        meta["tracker_note"] = tracker_note
    if beat_grid_note:
        meta["beat_grid_note"] = beat_grid_note
    if config.realtime:
        meta["latency"] = config.latency.describe()
    if config.up or config.down:
        meta["link"] = _describe_link(config.up, config.down)

    resumed = sum(1 for j in jobs if done(j))
    totals: dict[str, float] = defaultdict(float)
    saved: list[str] = []
    pictures: list[str] = []
    checkpoint = config.out / CHECKPOINT
    groups = _groups(runs)
    bar = tqdm(total=len(jobs), initial=resumed, desc="sweep", unit="song-setting",
               disable=not progress)

    def collect(group: _GroupRun) -> None:
        _append_checkpoint(checkpoint, group.cells)  # later lines win when read back
        finished.update((c.label, c) for c in group.cells)
        for key, value in group.stats.items():
            totals[key] += value
        saved.extend(group.audio)
        pictures.extend(group.pictures)

    interrupted = False
    try:
        if config.jobs == 1 or len(groups) <= 1:
            for group in groups:
                bar.set_postfix_str(f"{group[0].song.id} {group[0].stem}")
                collect(_run_group(config, group, alias, generator, tracker,
                                   on_cell=bar.update))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            # spawn: each worker starts its own torch (forking a process that has run torch
            # can hang on its thread pool).
            with ProcessPoolExecutor(min(config.jobs, len(groups)),
                                     mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = [pool.submit(_worker_group, config, group, alias)
                           for group in groups]
                for future in as_completed(futures):
                    group_run = future.result()
                    collect(group_run)
                    bar.update(len(group_run.cells))
    except KeyboardInterrupt:
        # Ctrl-C: what finished is in cells.jsonl already; write the result files of those
        # song-settings (marked interrupted) so the run so far can be read, then stop.
        interrupted = True
        if not any(done(j) for j in jobs):
            raise
    finally:
        bar.close()

    planned = len(jobs)
    if interrupted:
        places = [p for p, j in zip(places, jobs, strict=True) if done(j)]
        jobs = [j for j in jobs if done(j)]
        meta["interrupted"] = f"{len(jobs)} of {planned} song-settings"
    t = time.perf_counter()
    # A shard draws its spectrograms but not the plots of its partial aggregate: the merge
    # draws those of the whole sweep.
    results, paths = write_results(config.out, meta, [finished[j.label] for j in jobs],
                                   plots=config.plots and config.shard is None,
                                   command=command)
    write_seconds = time.perf_counter() - t
    wall = time.perf_counter() - started
    simulated = len(runs)
    run_info = {
        "command": command,
        "config": _jsonable(asdict(config)),
        "model": {"name": info.name, "digest": digest, "sample_rate": info.sample_rate,
                  "window_frames": info.window_frames, "hop_length": info.hop_length,
                  "uses_beat_grid": info.uses_beat_grid, "default_steps": info.default_steps},
        "songs": {stem: sorted({j.song.id for j in jobs if j.stem == stem})
                  for stem in config.stems},
        "skipped": skipped,
        "references": {stem: {j.song.id: (j.other.id if j.other else None) for j in jobs
                              if j.stem == stem} for stem in config.stems},
        "beat_grid_note": beat_grid_note,
        "song_settings": len(jobs),
        "interrupted": interrupted,
        "song_settings_resumed": resumed,
        "song_settings_simulated": simulated,
        "timing": {
            "wall_seconds": round(wall, 3),
            **{k: round(totals[k], 3) for k in ("references_seconds", "simulate_seconds",
                                                 "evaluate_seconds")},
            "write_seconds": round(write_seconds, 3),
            "seconds_per_song_setting": round(wall / max(1, len(jobs) - resumed), 3),
            "seconds_per_simulated_song_setting": round(wall / max(1, simulated), 3),
            "model_calls": int(totals["model_calls"]),
            "model_wall_seconds": round(totals["model_wall_seconds"], 3),
            "model_steps": int(totals["model_steps"]),
            "steps_per_model_call": round(totals["batched_steps"]
                                          / max(1, totals["batches"]), 3),
            "simulated_seconds": round(totals["simulated_seconds"], 3),
            "batch": config.batch_size,
            "jobs": config.jobs,
            "torch_threads": config.threads or _torch_threads(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
        },
    }
    if saved:
        run_info["audio"] = saved
    if pictures:
        run_info["spectrograms"] = sorted(pictures)
    if config.shard is not None:
        # What `eval merge` needs: which song-settings of the whole sweep this shard holds
        # (by place, in the sweep's order) and the results' meta (an empty shard has none).
        run_info["shard"] = {"index": config.shard[0], "count": config.shard[1],
                             "song_settings_total": total,
                             "cells": [[p, j.label] for p, j in zip(places, jobs, strict=True)],
                             "meta": meta}
    paths["run_json"] = write_json(run_info, config.out / "run.json")
    paths["checkpoint"] = checkpoint
    return SweepRun(results=results, paths=paths, info=run_info)


def write_results(out: Path, meta: dict[str, Any], cells: Sequence[Cell], *, plots: bool,
                  command: str | None) -> tuple[SweepResults, dict[str, Path]]:
    """The result files of ``cells`` (in the sweep's order) in ``out``: those of
    :meth:`SweepResults.write` and ``table.md``; none for no cells (an empty shard). The
    sweep and ``eval merge`` both write through here, so their files are alike."""
    results = SweepResults(meta=meta)
    for cell in cells:
        results.add(cell.record, cell.embeddings)
    if not cells:
        return results, {}
    paths = results.write(out, plots=plots)
    paths["table_md"] = write_table(results.aggregate(), out / "table.md", command)
    return results, paths


def _score(job: Job, runs: dict[str, StreamClient], ref: _Reference, tracker: BeatTracker,
           config: SweepConfig) -> tuple[SongRecord, dict[str, np.ndarray]]:
    core = runs["own"]
    generated = core.writers[job.stem].buffer
    swapped = runs["swap"].writers[job.stem].buffer if "swap" in runs else None
    reseeded = runs["reseed"].writers[job.stem].buffer if "reseed" in runs else None
    rate = ref.rate
    evaluation = evaluate_stem(
        generated, ref.truth_analysis, ref.context_analysis, rate, span=job.span,
        gt_beats=job.song.beats, other_song_stem=ref.other_analysis,
        other_generated=swapped, tracker=tracker, skip_seconds=config.skip_seconds)
    embeddings = {"generated": embed(crop(generated, rate, *job.span), rate), **ref.embeddings}
    sensitivity = None
    if swapped is not None:
        embeddings["other_generated"] = embed(crop(swapped, rate, *job.span), rate)
        lo = job.span[0] + config.skip_seconds
        sensitivity = conditioning_sensitivity(generated, swapped, reseeded, rate,
                                               (lo, job.span[1]))
    geometry, _ = core.geometry()
    r = core.setting("r")
    assert r is not None  # the welcome acknowledged every setting
    record = SongRecord(song=job.song.id, stem=job.stem, r=float(r[0]),
                        w=job.w, hop_seconds=geometry.hop_seconds, evaluation=evaluation,
                        condition=job.condition, counts=job_counts(core, job.stem),
                        seed=job.seed(config.seed), sensitivity=sensitivity)
    return record, embeddings


def _describe_link(up: Impairment | None, down: Impairment | None) -> str:
    def one(imp: Impairment | None) -> str:
        if imp is None:
            return "perfect"
        return (f"loss {imp.loss:g}, dup {imp.duplicate:g}, reorder {imp.reorder:g} "
                f"(+{imp.reorder_delay * 1e3:g} ms), delay {imp.delay * 1e3:g} ms, "
                f"jitter {imp.jitter * 1e3:g} ms")
    return f"up: {one(up)}; down: {one(down)}"


def _torch_threads() -> int | None:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return None
    return torch.get_num_threads()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


# -- the headline table --------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _mean(c: dict[str, Any], entry: str, metric: str) -> float | None:
    return c["metrics"].get(entry, {}).get(metric, {}).get("mean")


def _listen(c: dict[str, Any], metric: str, key: str = "listening") -> str:
    return _fmt(c.get(key, {}).get(metric), 2)


#: The compact table for a model card or README: (header, cell of one aggregate condition).
#: Beat F1 against the true beats leads, with its listening control; the reference paper's
#: context-tracked figure follows, labelled as such.
TABLE_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("stem", lambda c: c["stem"]),
    ("beat grid", lambda c: {"beat_grid": "on", "no_grid": "off"}.get(c["condition"],
                                                                       c["condition"])),
    ("r", lambda c: f"{c['r']:g}"),
    ("w", lambda c: str(c["w"])),
    ("look-ahead (s)", lambda c: f"{c['lookahead_seconds']:+.2f}"),
    ("songs", lambda c: str(c["n_songs"])),
    ("beat F1 true: generated", lambda c: _fmt(_mean(c, "generated", "beat_f1_annotated"))),
    ("generated for other song", lambda c: _fmt(_mean(c, "other_generated",
                                                      "beat_f1_annotated"))),
    ("**listening**", lambda c: "**" + _listen(c, "beat_f1_annotated") + "**"),
    ("ground truth (GT listening)", lambda c: _fmt(_mean(c, "ground_truth",
                                                         "beat_f1_annotated"))
     + f" ({_listen(c, 'beat_f1_annotated', 'listening_ceiling')})"),
    ("**gen / GT**", lambda c: "**" + _fmt(c["ratio_to_ground_truth"].get(
        "beat_f1_annotated"), 2) + "**"),
    ("sensitivity", lambda c: _fmt(c.get("sensitivity", {}).get("ratio_of_means"), 2)),
    ("beat F1 ctx (paper): gen / GT", lambda c: _fmt(_mean(c, "generated", "beat_f1_context"))
     + " / " + _fmt(_mean(c, "ground_truth", "beat_f1_context"))),
    ("onset F1 vs GT stem (listening)", lambda c: _fmt(_mean(c, "generated", "onset_f1_stem"))
     + f" ({_listen(c, 'onset_f1_stem')})"),
    ("chroma vs GT stem (listening)", lambda c: _fmt(_mean(c, "generated", "chroma_stem"))
     + f" ({_listen(c, 'chroma_stem')})"),
    ("FD (other song)", lambda c: _fmt(c["frechet"].get("generated"), 1)
     + f" ({_fmt(c['frechet'].get('other_song'), 1)})"),
    ("misses / steps", lambda c: f"{c['counts'].get('misses', '–')} / "
                                 f"{c['counts'].get('steps', '–')}"),
)


def headline_table(agg: dict[str, Any]) -> str:
    """One row per (stem, condition, r, w): beat F1 against the true beats for the generated
    stem, its listening control and references, then the other headline metrics."""
    lines = ["| " + " | ".join(h for h, _ in TABLE_COLUMNS) + " |",
             "|" + "---|" * len(TABLE_COLUMNS)]
    for c in agg["conditions"]:
        lines.append("| " + " | ".join(fn(c) for _, fn in TABLE_COLUMNS) + " |")
    return "\n".join(lines)


def write_table(agg: dict[str, Any], path: Path, command: str | None = None) -> Path:
    """``table.md``: the headline table, how to read it, and the command that made it."""
    meta = agg.get("meta", {})
    end = (f"{meta['excerpt_seconds']:g} s (excerpts)" if meta.get("excerpt_seconds")
           else "each song's end")
    lines = [headline_table(agg), "",
             f"Model `{meta.get('model', '?')}`, {meta.get('mode', '?')} mode, "
             f"{meta.get('data', '?')} ({meta.get('split', '?')} split), scored from "
             f"{meta.get('span_start_seconds', '?')} s to {end}; beat tracker "
             f"`{meta.get('tracker', '?')}`, mir_eval ±70 ms, means over songs, each song "
             f"with its own seed. Beat F1 true: beats tracked in the stem vs the song's true "
             f"beats (annotations). Generated for other song: what the model made of another "
             f"song's input (same seed and settings), scored against this song. listening = "
             f"generated / generated for other song: 1 means the part ignores what it hears "
             f"(GT listening: the real stem over another song's real stem, the ceiling). "
             f"gen / GT: generated / ground-truth stem (target at w = 1: ≥ 0.85). "
             f"sensitivity: log-mel change when the input is swapped for another song's, over "
             f"the change when only the seed changes (0: deaf). beat F1 ctx (paper): against "
             f"beats tracked in the context, the reference paper's protocol (which reached "
             f"about 0.35 of its ground truth at w = 1); a tracker run on a mix without drums "
             f"can lock onto off-beats. FD: Fréchet distance to the ground-truth stems "
             f"(docs/EVAL.md), the other song's stem in brackets."]
    if meta.get("beat_grid_note"):
        lines.append(f"Note: {meta['beat_grid_note']}.")
    if command:
        lines += ["", f"Made with: `{command}`"]
    path.write_text("\n".join(lines) + "\n")
    return path
