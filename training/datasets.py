"""One song-record API for training and evaluation, over synthetic songs or Slakh2100.

:func:`open_dataset` detects the layout and returns :class:`Song` records;
:func:`load_audio` reads a stem (or the mix) as mono float32, optionally a time range and
resampled; :func:`mix_without` is the context for generating a stem: the sum of the others.

Stems are always the reference paper's four: ``bass``, ``drums``, ``guitar``, ``piano``.

* **Synthetic** (``sideman data synth``): ``DIR/index.json`` plus ``TrackNNNNN`` folders
  with ``mix.wav``, ``stems/<stem>.wav``, ``metadata.json`` (ground-truth beats, downbeats,
  tempo, meter, chords, sections).
* **Slakh2100** (``slakh2100_flac_redux``): ``ROOT/{train,validation,test}/TrackNNNNN/``
  with ``metadata.yaml``, ``stems/SNN.flac``, ``all_src.mid``. Every source whose
  ``inst_class`` is Bass, Drums (or ``is_drum``), Guitar or Piano is summed into its stem;
  sources of any other class (strings, organ, synth, brass, ...) are left out of the stems
  *and* of the mix, as in the paper, so a song's mix is the sum of its four stems (Slakh's
  own ``mix.flac``, which contains the other classes too, is not used). Sources with
  ``audio_rendered: false`` or whose file is absent are skipped and listed in
  ``Song.info["skipped"]``. Slakh has no beat annotations: beats and downbeats come from
  ``all_src.mid`` through ``pretty_midi`` (``get_beats``/``get_downbeats``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)

#: The four stems, in the model's label order.
STEMS: tuple[str, ...] = ("bass", "drums", "guitar", "piano")
#: Split names used by every loader ("validation" in Slakh becomes "valid").
SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: Other names of a split: Slakh2100's own folder name for ``valid``.
SPLIT_ALIASES: dict[str, str] = {"validation": "valid"}
#: Slakh ``inst_class`` → stem. Any class not listed is left out (see the module docstring).
SLAKH_CLASSES: dict[str, str] = {"Bass": "bass", "Drums": "drums", "Guitar": "guitar",
                                 "Piano": "piano"}
_SLAKH_SPLITS: dict[str, str] = {"train": "train", "validation": "valid", "valid": "valid",
                                 "test": "test", "omitted": "omitted"}
_AUDIO_SUFFIXES: tuple[str, ...] = (".flac", ".wav")


class DatasetError(ValueError):
    """A data set that cannot be read: the message names the path and what was expected."""


@dataclass(frozen=True, eq=False)
class Song:
    """One multi-stem song, whatever data set it comes from.

    Attributes:
        id: the track folder name (``Track00042``).
        root: the track folder.
        source: ``"synth"`` or ``"slakh"``.
        sample_rate: native sample rate of the audio files (Hz).
        duration: length in seconds.
        stems: files summed into each of the four stems (empty tuple: the stem is silent).
        mix: the mix file, or ``None`` when the mix is the sum of the stems (Slakh).
        beats, downbeats: ground-truth times in seconds (``None`` if unknown).
        tempo: median tempo in beats per minute (``None`` if unknown).
        meter: time signature such as ``"4/4"`` (``None`` if unknown).
        chords: ``(start, end, label)`` in MIREX syntax (``None`` if unknown).
        split: ``"train"``, ``"valid"``, ``"test"`` (or Slakh's ``"omitted"``), or ``None``.
        info: the song's full metadata (synthetic ``metadata.json``; for Slakh the parsed
            ``metadata.yaml`` plus ``skipped``/``left_out`` source lists).
    """

    id: str
    root: Path
    source: str
    sample_rate: int
    duration: float
    stems: dict[str, tuple[Path, ...]]
    mix: Path | None
    beats: np.ndarray | None = None
    downbeats: np.ndarray | None = None
    tempo: float | None = None
    meter: str | None = None
    chords: list[tuple[float, float, str]] | None = None
    split: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def num_samples(self) -> int:
        return round(self.duration * self.sample_rate)


# =========================================================================================
# Audio access
# =========================================================================================
def _check_range(song: Song, start: float | None, end: float | None) -> tuple[int, int]:
    s = 0.0 if start is None else float(start)
    e = song.duration if end is None else float(end)
    if not (np.isfinite(s) and np.isfinite(e)) or e < s:
        raise ValueError(f"need start <= end (seconds), got start={start}, end={end}")
    return round(s * song.sample_rate), round(e * song.sample_rate)


def _read_range(path: Path, s0: int, s1: int, sample_rate: int) -> np.ndarray:
    """Mono float32 of samples ``[s0, s1)`` of a file, zeros outside the file."""
    out = np.zeros(s1 - s0, dtype=np.float32)
    with sf.SoundFile(path) as f:
        if f.samplerate != sample_rate:
            raise DatasetError(f"{path} is {f.samplerate} Hz but its song is {sample_rate} Hz")
        lo, hi = max(s0, 0), min(s1, f.frames)
        if hi > lo:
            f.seek(lo)
            data = f.read(hi - lo, dtype="float32", always_2d=True)
            out[lo - s0: lo - s0 + len(data)] = data.mean(axis=1)
    return out


def load_audio(song: Song, stem: str, sr: int | None = None, start: float | None = None,
               end: float | None = None) -> np.ndarray:
    """Mono float32 audio of one stem, or of ``"mix"``, over ``[start, end)`` seconds.

    ``start``/``end`` default to the whole song; times outside it read as zeros (so context
    windows before the start need no special case). ``sr`` resamples (soxr) to that rate;
    the result then has ``round(n * sr / song.sample_rate)`` samples for ``n`` native ones.
    """
    if stem != "mix" and stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; use one of {', '.join(STEMS)} or 'mix'")
    s0, s1 = _check_range(song, start, end)
    if stem == "mix" and song.mix is not None:
        audio = _read_range(song.mix, s0, s1, song.sample_rate)
    else:
        files = [p for s in STEMS for p in song.stems[s]] if stem == "mix" else song.stems[stem]
        audio = np.zeros(s1 - s0, dtype=np.float32)
        for path in files:
            audio += _read_range(path, s0, s1, song.sample_rate)
    return _to_rate(audio, song.sample_rate, sr)


def mix_without(song: Song, stem: str, sr: int | None = None, start: float | None = None,
                end: float | None = None) -> np.ndarray:
    """The context for generating ``stem``: the sum of the other three stems."""
    if stem not in STEMS:
        raise ValueError(f"unknown stem {stem!r}; use one of {', '.join(STEMS)}")
    s0, s1 = _check_range(song, start, end)
    audio = np.zeros(s1 - s0, dtype=np.float32)
    for other in STEMS:
        if other != stem:
            for path in song.stems[other]:
                audio += _read_range(path, s0, s1, song.sample_rate)
    return _to_rate(audio, song.sample_rate, sr)


def _to_rate(audio: np.ndarray, rate: int, sr: int | None) -> np.ndarray:
    if sr is None or sr == rate:
        return audio
    if sr <= 0:
        raise ValueError(f"sr must be a positive sample rate, got {sr}")
    import soxr

    n = round(len(audio) * sr / rate)
    out = np.zeros(n, dtype=np.float32)
    if len(audio):
        res = soxr.resample(audio, rate, sr, quality="HQ")
        out[: min(n, len(res))] = res[:n]
    return out


# =========================================================================================
# Opening data sets
# =========================================================================================
def open_dataset(path: str | Path, split: str | None = None, *,
                 annotations: bool = True) -> list[Song]:
    """All songs of the data set at ``path`` (synthetic or Slakh2100), sorted by id.

    ``split`` keeps one split (``train``, ``valid``, ``test``). For Slakh, ``path`` may be
    the data set root (with ``train/``, ``validation/``, ``test/``), one split folder, or
    one track folder; ``annotations=False`` skips parsing the MIDI for beats (faster).
    """
    root = Path(path)
    split = SPLIT_ALIASES.get(split, split) if split is not None else None
    if split is not None and split not in (*SPLITS, "omitted"):
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)} "
                         f"(validation = valid)")
    if not root.is_dir():
        raise DatasetError(f"{root} is not a directory")
    if (root / "index.json").is_file():
        songs = _open_synth(root)
    else:
        tracks = _find_slakh_tracks(root)
        if not tracks:
            raise DatasetError(
                f"no data set found at {root}: expected index.json (from `sideman data "
                "synth`) or Slakh2100 track folders (TrackNNNNN/metadata.yaml, directly or "
                "under train/, validation/, test/)")
        songs = [load_slakh_track(t, s, annotations=annotations) for t, s in tracks
                 if split is None or s == split]
    if split is not None:
        songs = [s for s in songs if s.split == split]
    return sorted(songs, key=lambda s: s.id)


def _open_synth(root: Path) -> list[Song]:
    index = json.loads((root / "index.json").read_text())
    if index.get("format") != "sideman-synth":
        raise DatasetError(f"{root / 'index.json'} is not a sideman-synth index "
                           f"(format={index.get('format')!r})")
    return [load_synth_song(root / entry["id"]) for entry in index["songs"]]


def load_synth_song(track: Path) -> Song:
    """One synthetic song from its folder (``metadata.json`` + WAV files)."""
    meta_path = track / "metadata.json"
    if not meta_path.is_file():
        raise DatasetError(f"{meta_path} is missing")
    meta = json.loads(meta_path.read_text())
    files = meta["files"]
    stems: dict[str, tuple[Path, ...]] = {s: (track / files["stems"][s],) for s in STEMS}
    for paths in stems.values():
        if not paths[0].is_file():
            raise DatasetError(f"{paths[0]} is missing (every synthetic song has 4 stems)")
    return Song(
        id=meta["id"], root=track, source="synth", sample_rate=int(meta["sample_rate"]),
        duration=float(meta["duration"]), stems=stems, mix=track / files["mix"],
        beats=np.asarray(meta["beats"], dtype=np.float64),
        downbeats=np.asarray(meta["downbeats"], dtype=np.float64),
        tempo=float(meta["tempo"]), meter=meta["meter"],
        chords=[(float(a), float(b), str(c)) for a, b, c in meta["chords"]],
        split=meta.get("split"), info=meta,
    )


def _find_slakh_tracks(root: Path) -> list[tuple[Path, str | None]]:
    if (root / "metadata.yaml").is_file():
        return [(root, _SLAKH_SPLITS.get(root.parent.name))]
    found = [(t.parent, _SLAKH_SPLITS.get(root.name)) for t in root.glob("Track*/metadata.yaml")]
    for folder, name in _SLAKH_SPLITS.items():
        if folder != "valid":
            found += [(t.parent, name) for t in (root / folder).glob("Track*/metadata.yaml")]
    return sorted(found)


def _audio_file(folder: Path, stem_id: str) -> Path | None:
    for suffix in _AUDIO_SUFFIXES:
        path = folder / f"{stem_id}{suffix}"
        if path.is_file():
            return path
    return None


def load_slakh_track(track: Path, split: str | None = None, *,
                     annotations: bool = True) -> Song:
    """One Slakh2100 track grouped into the four stems (see the module docstring)."""
    import yaml

    meta_path = track / "metadata.yaml"
    try:
        meta = yaml.safe_load(meta_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DatasetError(f"cannot read {meta_path}: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("stems"), dict):
        raise DatasetError(f"{meta_path} has no 'stems' mapping")
    audio_dir = track / str(meta.get("audio_dir") or "stems")
    grouped: dict[str, list[Path]] = {s: [] for s in STEMS}
    skipped: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = []
    for stem_id in sorted(meta["stems"]):
        entry = meta["stems"][stem_id] or {}
        cls = str(entry.get("inst_class", ""))
        group = "drums" if entry.get("is_drum") else SLAKH_CLASSES.get(cls)
        desc = {"id": stem_id, "inst_class": cls, "program_num": entry.get("program_num")}
        if group is None:
            left_out.append(desc)
            continue
        path = _audio_file(audio_dir, stem_id)
        if not entry.get("audio_rendered", True):
            skipped.append({**desc, "reason": "audio_rendered is false"})
        elif path is None:
            skipped.append({**desc, "reason": f"no {stem_id}.flac/.wav in {audio_dir}"})
        else:
            grouped[group].append(path)
    all_files = [p for s in STEMS for p in grouped[s]]
    probe = all_files[0] if all_files else _audio_file(track, "mix")
    if probe is None:
        raise DatasetError(f"{track} has no rendered bass/drums/guitar/piano stem and no mix")
    infos = [sf.info(str(p)) for p in (all_files or [probe])]
    rates = {i.samplerate for i in infos}
    if len(rates) != 1:
        raise DatasetError(f"{track}: stems have different sample rates {sorted(rates)}")
    rate = rates.pop()
    duration = max(i.frames for i in infos) / rate
    beats = downbeats = None
    tempo = None
    meter = None
    midi = track / "all_src.mid"
    if annotations and midi.is_file():
        beats, downbeats, tempo, meter = _midi_beats(midi, duration)
    info = dict(meta)
    info.update(skipped=skipped, left_out=left_out, midi=str(midi) if midi.is_file() else None)
    return Song(id=track.name, root=track, source="slakh", sample_rate=rate, duration=duration,
                stems={s: tuple(grouped[s]) for s in STEMS}, mix=None, beats=beats,
                downbeats=downbeats, tempo=tempo, meter=meter, chords=None, split=split,
                info=info)


def _midi_beats(path: Path, duration: float
                ) -> tuple[np.ndarray, np.ndarray, float | None, str | None]:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(path))
    beats = pm.get_beats()
    downbeats = pm.get_downbeats()
    beats, downbeats = beats[beats < duration], downbeats[downbeats < duration]
    tempo = float(np.median(60.0 / np.diff(beats))) if len(beats) > 1 else None
    ts = pm.time_signature_changes
    meter = f"{ts[0].numerator}/{ts[0].denominator}" if ts else None
    return beats, downbeats, tempo, meter


def stem_is_silent(song: Song, stem: str, start: float | None = None,
                   end: float | None = None, threshold_db: float = -60.0) -> bool:
    """Whether a stem's RMS over ``[start, end)`` is below ``threshold_db`` dBFS."""
    audio = load_audio(song, stem, start=start, end=end)
    if not len(audio):
        return True
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return rms <= 10 ** (threshold_db / 20)


def summarize(songs: Sequence[Song]) -> dict[str, Any]:
    """Numbers for ``sideman data info``: counts, durations, tempi, meters, silent stems."""
    durations = np.array([s.duration for s in songs], dtype=np.float64)
    tempi = np.array([s.tempo for s in songs if s.tempo is not None], dtype=np.float64)
    meters: dict[str, int] = {}
    splits: dict[str, int] = {}
    styles: dict[str, int] = {}
    for s in songs:
        meters[s.meter or "?"] = meters.get(s.meter or "?", 0) + 1
        splits[s.split or "?"] = splits.get(s.split or "?", 0) + 1
        if "style" in s.info:
            styles[s.info["style"]] = styles.get(s.info["style"], 0) + 1
    silent: dict[str, dict[str, float]] = {}
    for stem in STEMS:
        absent = sum(1 for s in songs if _absent(s, stem))
        silent_time = sum(_silent_seconds(s, stem) for s in songs)
        silent[stem] = {"songs_without": absent,
                        "silent_time_fraction": float(silent_time / durations.sum())
                        if len(songs) else 0.0}
    return {
        "songs": len(songs), "splits": splits,
        "hours": float(durations.sum() / 3600),
        "duration": _stats(durations), "tempo": _stats(tempi),
        "meters": meters, "swing": sum(1 for s in songs if s.info.get("swing", 0.5) != 0.5),
        "styles": styles, "silent": silent,
    }


def _absent(song: Song, stem: str) -> bool:
    if song.source == "synth":
        return stem in song.info.get("silent_stems", [])
    return not song.stems[stem]


def _silent_seconds(song: Song, stem: str) -> float:
    if song.source == "synth":
        return float(sum(b - a for a, b in song.info.get("silent", {}).get(stem, [])))
    return song.duration if not song.stems[stem] else 0.0


def _stats(x: np.ndarray) -> dict[str, float] | None:
    if not len(x):
        return None
    return {"min": float(x.min()), "median": float(np.median(x)), "mean": float(x.mean()),
            "max": float(x.max())}
