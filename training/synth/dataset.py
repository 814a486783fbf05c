"""Write a synthetic multi-stem data set in a Slakh-like layout.

::

    DIR/index.json                      songs and generation parameters
    DIR/TrackNNNNN/mix.wav              mono 16-bit PCM, the exact sum of the stems
    DIR/TrackNNNNN/stems/{bass,drums,guitar,piano}.wav
    DIR/TrackNNNNN/song.mid             all parts (conductor track + one track per stem)
    DIR/TrackNNNNN/metadata.json        ground truth: beats, downbeats, tempo, meter, chords...

Song ``i`` depends only on ``(seed, i)`` and the options, never on how many songs are made
or on which process renders it, so the files are bit-identical across runs and ``--jobs``.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .compose import CHANNELS, PPQ, Composition, compose_song
from .render import (
    RENDER_LATENCY,
    RENDER_RATE,
    SOUNDFONT_NAME,
    mix_down,
    render_midi,
    resample,
    soundfont_path,
)
from .styles import DRUM_KITS, PROGRAM_NAMES, STEMS
from .theory import NOTE_NAMES

log = logging.getLogger(__name__)

FORMAT = "sideman-synth"
FORMAT_VERSION = 1
SPLITS: tuple[str, ...] = ("train", "valid", "test")
_RNG_MIX = 5
_RNG_SPLIT = 6
_RNG_SOUNDFONT = 7
_GOLDEN = 0.6180339887498949


@dataclass(frozen=True)
class SynthOptions:
    """Generation parameters; together with the song index they fix every output byte."""

    seed: int
    songs: int
    seconds: float = 30.0
    sample_rate: int = 44100
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    style: str | None = None
    #: General MIDI soundfont files (.sf2), one chosen per song by (seed, index); empty:
    #: pretty_midi's TimGM6mb. Songs rendered with the default stay bit-identical. The bundled
    #: one may be named by its file name alone (``TimGM6mb.sf2``), as the recipes do.
    soundfonts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.songs < 1:
            raise ValueError(f"songs must be >= 1, got {self.songs}")
        if not (math.isfinite(self.seconds) and 1.0 <= self.seconds <= 3600.0):
            raise ValueError(f"seconds must be in [1, 3600], got {self.seconds}")
        if not 8000 <= self.sample_rate <= 192000:
            raise ValueError(f"sample_rate must be in [8000, 192000] Hz, got {self.sample_rate}")
        object.__setattr__(self, "soundfonts", tuple(_bundled_or_given(p)
                                                     for p in self.soundfonts))
        for path in self.soundfonts:
            if not Path(path).is_file():
                raise ValueError(f"soundfont {path} is not a file; give .sf2 files (Debian's "
                                 f"fluid-soundfont-gm and musescore-general-soundfont-lossless "
                                 f"install some under /usr/share/sounds/sf2)")
            why = _not_sf2(Path(path))
            if why:
                raise ValueError(f"soundfont {path} {why}; give SoundFont 2 (.sf2) files "
                                 f"(Debian's musescore-general-soundfont-lossless is the .sf2 "
                                 f"of MuseScore's)")
        f = self.split_fractions
        if len(f) != 3 or any(x < 0 for x in f) or abs(sum(f) - 1.0) > 1e-6:
            raise ValueError(f"split fractions must be 3 numbers >= 0 summing to 1 "
                             f"(train, valid, test), got {f}")


def _bundled_or_given(path: str) -> str:
    """``path``, or pretty_midi's TimGM6mb when ``path`` is its bare file name and no such file
    is here (a recipe cannot know where the package is installed)."""
    if path == SOUNDFONT_NAME and not Path(path).is_file():
        return str(soundfont_path())
    return path


def _not_sf2(path: Path) -> str | None:
    """Why ``path`` is not a SoundFont 2 file the renderer reads (None when it is): a RIFF
    ``sfbk`` whose ``ifil`` version is 2 (SoundFont 3 holds Ogg-compressed samples, which
    the renderer refuses deep inside a worker)."""
    with path.open("rb") as f:
        head = f.read(36)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return "is not a SoundFont (no RIFF sfbk header)"
    major = int.from_bytes(head[32:34], "little")
    if head[24:28] == b"ifil" and major != 2:
        return f"is SoundFont {major}, which the renderer cannot read"
    return None


@lru_cache(maxsize=4)
def _soundfont_bytes(path: Path) -> bytes:
    """A soundfont's bytes, read once per process (MuseScore's is 490 MB: reading it for every
    song doubled the time per song)."""
    return path.read_bytes()


def dump_json(obj: dict[str, Any], nested: Sequence[str] = ()) -> str:
    """JSON with one top-level key per line (lists inline), or one item per line for
    the keys in ``nested``: readable, compact and byte-stable."""
    lines = []
    for key, value in obj.items():
        if key in nested and isinstance(value, list):
            items = ",\n  ".join(json.dumps(v) for v in value)
            lines.append(f" {json.dumps(key)}: [\n  {items}\n ]")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def song_id(index: int) -> str:
    return f"Track{index:05d}"


def soundfont_of(options: SynthOptions, index: int) -> Path:
    """The soundfont song ``index`` is rendered with: pretty_midi's TimGM6mb without
    ``options.soundfonts``, else one of them chosen by (seed, index) alone."""
    if not options.soundfonts:
        return soundfont_path()
    pick = int(np.random.default_rng([options.seed, index, _RNG_SOUNDFONT]).integers(
        len(options.soundfonts)))
    return Path(options.soundfonts[pick])


def split_of(seed: int, index: int, fractions: Sequence[float]) -> str:
    """Deterministic split of song ``index``: a golden-ratio sequence with a seed offset.

    Every prefix of songs gets close to the requested fractions (better than random
    draws), and a song's split never depends on how many songs are generated.
    """
    offset = float(np.random.default_rng([seed, _RNG_SPLIT]).random())
    u = (offset + index * _GOLDEN) % 1.0
    train, valid = fractions[0], fractions[0] + fractions[1]
    return "train" if u < train else "valid" if u < valid else "test"


def _r(x: float, nd: int = 6) -> float:
    return round(float(x), nd)


def _merge(segments: list[tuple[float, float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for start, end in segments:
        if out and abs(out[-1][1] - start) < 1e-9:
            out[-1][1] = end
        else:
            out.append([start, end])
    return [[_r(a), _r(b)] for a, b in out]


def song_metadata(comp: Composition, options: SynthOptions, split: str,
                  soundfont: str = SOUNDFONT_NAME) -> dict[str, Any]:
    """Ground truth and provenance of one song (everything but the mix levels)."""
    plan = comp.plan
    beats = plan.beat_times()
    bpms = 60.0 / np.diff(beats) if len(beats) > 1 else np.array([plan.bpm])
    seg = plan.section_segments()
    sections = []
    for si, (sec, (start, end)) in enumerate(zip(plan.sections, seg, strict=True)):
        sections.append({
            "name": sec.name, "start": _r(start), "end": _r(end), "start_bar": sec.start_bar,
            "bars": sec.bars, "energy": _r(sec.energy, 3), "active": list(sec.active),
            "drum_fill": sec.fill,
            "patterns": {s: plan.patterns[s][si] for s in STEMS if s in sec.active},
        })
    silent = {s: _merge([seg[i] for i, sec in enumerate(plan.sections) if s not in sec.active])
              for s in STEMS}
    return {
        "format": FORMAT, "version": FORMAT_VERSION,
        "id": song_id(plan.index), "index": plan.index, "seed": options.seed, "split": split,
        "sample_rate": options.sample_rate, "duration": _r(plan.seconds),
        "num_samples": round(plan.seconds * options.sample_rate),
        "style": plan.style.name,
        "meter": plan.meter.name, "beats_per_bar": plan.beats_per_bar,
        "swing": _r(plan.swing, 4),
        "tempo": _r(float(np.median(bpms)), 4),
        "tempo_curve": plan.tempo_curve,
        "beat_bpm": [_r(b, 4) for b in bpms] if plan.tempo_curve != "constant" else None,
        "key": NOTE_NAMES[plan.tonic], "mode": plan.mode,
        "programs": dict(plan.programs),
        "program_names": {s: (f"{DRUM_KITS[p]} Kit" if s == "drums" else PROGRAM_NAMES[p])
                          for s, p in plan.programs.items()},
        "midi_channels": {s: CHANNELS[s] + 1 for s in STEMS},
        "sections": sections,
        "silent": silent,
        "silent_stems": comp.silent_stems(),
        "note_counts": {s: len(comp.parts[s]) for s in STEMS},
        "beats": [_r(b) for b in beats],
        "downbeats": [_r(b) for b in plan.downbeat_times()],
        "chords": [[_r(a), _r(b), label] for a, b, label in plan.chord_segments()],
        "midi": {"file": "song.mid", "ticks_per_quarter": PPQ,
                 "tempo_us_per_quarter_by_bar": list(plan.bar_tempi)},
        "render": {"soundfont": soundfont, "renderer": "midirenderer",
                   "render_rate": RENDER_RATE, "latency_compensation_samples": RENDER_LATENCY},
        "files": {"mix": "mix.wav", "midi": "song.mid",
                  "stems": {s: f"stems/{s}.wav" for s in STEMS}},
    }


def render_song(out_dir: Path, options: SynthOptions, index: int,
                soundfont: bytes | None = None) -> dict[str, Any]:
    """Compose, render and write song ``index``; returns its ``index.json`` entry.

    ``soundfont``: the bytes of :func:`soundfont_of` when the caller has read them."""
    sf2_file = soundfont_of(options, index)
    sf2 = soundfont if soundfont is not None else _soundfont_bytes(sf2_file)
    comp = compose_song(options.seed, index, options.seconds, options.style)
    plan = comp.plan
    sr = options.sample_rate
    n_out = round(plan.seconds * sr)
    n_render = round(plan.seconds * RENDER_RATE)
    stems: dict[str, np.ndarray] = {}
    for stem in STEMS:
        if comp.parts[stem]:
            audio = render_midi(comp.midi_bytes([stem]), sf2, n_render)
            stems[stem] = resample(audio, RENDER_RATE, sr, n_out)
        else:
            stems[stem] = np.zeros(n_out, dtype=np.float32)
    # A short fade at the very end so the cut song does not end with a click.
    fade = min(n_out, int(0.01 * sr))
    ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)
    for stem in STEMS:
        stems[stem][n_out - fade:] *= ramp
    mixed = mix_down(stems, sr, np.random.default_rng([options.seed, index, _RNG_MIX]))

    split = split_of(options.seed, index, options.split_fractions)
    meta = song_metadata(comp, options, split, sf2_file.name)
    meta["gains"] = {s: _r(g, 8) for s, g in mixed.gains.items()}
    meta["levels_dbfs"] = {s: (None if v is None else _r(v, 2))
                           for s, v in mixed.levels_db.items()}
    meta["peak_dbfs"] = None if mixed.peak_db is None else _r(mixed.peak_db, 2)

    song_dir = out_dir / song_id(index)
    (song_dir / "stems").mkdir(parents=True, exist_ok=True)
    for stem in STEMS:
        sf.write(song_dir / "stems" / f"{stem}.wav", mixed.stems[stem], sr, subtype="PCM_16")
    sf.write(song_dir / "mix.wav", mixed.mix, sr, subtype="PCM_16")
    (song_dir / "song.mid").write_bytes(comp.midi_bytes())
    (song_dir / "metadata.json").write_text(dump_json(meta))
    return {"id": song_id(index), "index": index, "split": split, "style": plan.style.name,
            "meter": plan.meter.name, "tempo": meta["tempo"], "swing": meta["swing"],
            "key": f"{meta['key']} {plan.mode}", "duration": meta["duration"],
            "silent_stems": meta["silent_stems"], "soundfont": sf2_file.name}


def _render_task(args: tuple[str, SynthOptions, int]) -> dict[str, Any]:
    out_dir, options, index = args
    return render_song(Path(out_dir), options, index)


def synthesize(out_dir: Path, options: SynthOptions, jobs: int = 1, *,
               overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Write ``options.songs`` songs and ``index.json`` into ``out_dir``; returns the index.

    ``jobs`` worker processes render songs in parallel; the output does not depend on it.
    A song depends only on the options and its index, so a set made with the same options
    and fewer songs is extended: only the new songs are rendered, and what else is there
    (the latent cache ``data cache`` puts in ``latents/``) is kept. Any other non-empty
    ``out_dir`` is refused unless ``overwrite``: then a synthetic set (with ``index.json``)
    is removed, with everything in its folder, and made again.
    """
    from tqdm import tqdm

    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    out_dir = Path(out_dir)
    existing: list[dict[str, Any]] = []
    if out_dir.exists() and any(out_dir.iterdir()):
        index_path = out_dir / "index.json"
        if not index_path.is_file():
            if not overwrite:
                raise FileExistsError(f"{out_dir} is not empty; choose another directory or "
                                      "pass overwrite (--overwrite) to replace it")
            raise FileExistsError(f"{out_dir} is not a synthetic data set (no index.json); "
                                  "refusing to delete it")
        old = json.loads(index_path.read_text())
        why = _cannot_extend(old, options)
        if why is None and not overwrite:
            existing = [e for e in old["songs"] if (out_dir / e["id"]).is_dir()]
        elif not overwrite:
            raise FileExistsError(f"{out_dir} holds a synthetic set that cannot be extended "
                                  f"to this one ({why}); choose another directory or pass "
                                  "overwrite (--overwrite) to replace it")
        else:
            shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    have = {e["index"] for e in existing}
    tasks = [(str(out_dir), options, i) for i in range(options.songs) if i not in have]
    entries: list[dict[str, Any]] = list(existing)
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(tasks), desc="synth", unit="song", disable=not progress)
    try:
        if jobs == 1 or len(tasks) <= 1:
            for task in tasks:
                entries.append(_render_task(task))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
                futures = [pool.submit(_render_task, t) for t in tasks]
                for fut in as_completed(futures):
                    entries.append(fut.result())
                    bar.update()
    finally:
        bar.close()
    entries.sort(key=lambda e: e["index"])
    params = _params(options)
    index = {
        "format": FORMAT, "version": FORMAT_VERSION,
        "params": params,
        "stems": list(STEMS),
        "splits": {s: sum(e["split"] == s for e in entries) for s in SPLITS},
        "songs": entries,
    }
    (out_dir / "index.json").write_text(dump_json(index, nested=("songs",)))
    log.info("wrote %d songs to %s (%d there before)", len(tasks), out_dir, len(existing))
    return index


def _params(options: SynthOptions) -> dict[str, Any]:
    params = asdict(options)
    params["split_fractions"] = list(options.split_fractions)
    params["soundfonts"] = [Path(p).name for p in options.soundfonts]
    return params


def _cannot_extend(index: dict[str, Any], options: SynthOptions) -> str | None:
    """Why the set of ``index`` is not the start of the set ``options`` make (None: it is)."""
    if index.get("format") != FORMAT or index.get("version") != FORMAT_VERSION:
        return f"format {index.get('format')} version {index.get('version')}"
    old, new = dict(index.get("params", {})), _params(options)
    if old.get("songs", 0) > new["songs"]:
        return f"it has {old['songs']} songs, more than {new['songs']}"
    differ = [f"{key} {old.get(key)!r} there, {value!r} here" for key, value in new.items()
              if key != "songs" and old.get(key) != value]
    return "; ".join(differ) or None


