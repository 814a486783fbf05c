"""``sideman eval merge``: the shards of one sweep (``eval sweep --shard I/N``) joined into the
files one unsharded run writes.

Each shard's ``run.json`` says which song-settings of the whole sweep it holds (by place, in
the sweep's order) and the results' ``meta``; its ``cells.jsonl`` holds their records and
Fréchet windows. The merge checks that the shards belong to one sweep (same settings, same
model digest, every shard 0 ... N-1 exactly once, none interrupted), puts the cells back in
the sweep's order and writes through :func:`~sideman.eval.sweep.write_results`, the sweep's
own writer: ``songs.json``, ``aggregate.json``, the CSVs, ``summary.md``, ``table.md`` and the
plots come out byte for byte as one run's. ``run.json`` records the shards and their timing;
``cells.jsonl`` holds every cell in the sweep's order (a checkpoint: an unsharded sweep with
the same settings and ``--out`` continues from it); ``plots/spectrograms/`` and ``audio/``
are copied from the shards.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .report import write_json
from .sweep import CHECKPOINT, Cell, SweepError, read_cells, write_results

#: ``run.json`` config keys shards of one sweep may differ in: where and how they ran.
FREE_KEYS = frozenset({"out", "shard", "jobs", "threads", "resume"})
#: Folders of a shard's output copied as they are (their file names hold the song).
COPIED = ("plots/spectrograms", "audio")


@dataclass
class Shard:
    """One shard's output directory, read."""

    path: Path
    info: dict[str, Any]  #: its run.json
    settings: dict[str, Any]  #: its cells.jsonl header's settings (with the model digest)
    cells: dict[str, Cell]

    @property
    def index(self) -> int:
        return int(self.info["shard"]["index"])

    @property
    def count(self) -> int:
        return int(self.info["shard"]["count"])

    @property
    def name(self) -> str:
        return f"{self.path} (shard {self.index}/{self.count})"


def read_shard(path: Path) -> Shard:
    """A shard directory's run.json and checkpoint; refuses what is not a finished shard."""
    run_json = path / "run.json"
    checkpoint = path / CHECKPOINT
    if not run_json.is_file() or not checkpoint.is_file():
        missing = run_json if not run_json.is_file() else checkpoint
        raise SweepError(f"{path}: no {missing.name}, not a sweep's output (or the shard has "
                         f"not finished: run its command again)")
    try:
        info = json.loads(run_json.read_text())
        lines = checkpoint.read_text().splitlines()
        header = json.loads(lines[0]) if lines else {}
    except (OSError, ValueError) as exc:
        raise SweepError(f"{path}: unreadable run.json or {CHECKPOINT} ({exc})") from None
    if "shard" not in info:
        raise SweepError(f"{path} was not made with --shard I/N: merge the outputs of "
                         f"`sideman eval sweep --shard I/N`")
    if info.get("interrupted"):
        raise SweepError(f"{path} (shard {info['shard']['index']}/{info['shard']['count']}) "
                         f"was interrupted: run its command again to finish it")
    if header.get("sweep_checkpoint") != 1:
        raise SweepError(f"{path / CHECKPOINT} is not a sweep checkpoint")
    shard = Shard(path, info, header["settings"], read_cells(checkpoint, lines))
    lacking = [label for _, label in info["shard"]["cells"] if label not in shard.cells]
    if lacking:
        raise SweepError(f"{shard.name}: {CHECKPOINT} lacks {len(lacking)} of its "
                         f"song-settings (first {lacking[0]}): run its command again")
    return shard


def _differences(a: dict[str, Any], b: dict[str, Any], free: frozenset[str]) -> list[str]:
    return [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in sorted((set(a) | set(b)) - free)
            if a.get(k) != b.get(k)]


def check_shards(shards: list[Shard]) -> list[Shard]:
    """The shards in index order, if they are every shard of one sweep exactly once."""
    first = shards[0]
    for shard in shards[1:]:
        differ = (_differences(first.info["config"], shard.info["config"], FREE_KEYS)
                  + _differences(first.settings, shard.settings, FREE_KEYS)
                  + _differences(first.info["shard"], shard.info["shard"],
                                 frozenset({"index", "cells"})))
        if differ:
            raise SweepError(f"{first.name} and {shard.name} are shards of different sweeps "
                             f"({'; '.join(dict.fromkeys(differ))}): merge the shards of "
                             f"one sweep")
    count = first.count
    by_index: dict[int, Shard] = {}
    for shard in shards:
        if shard.index in by_index:
            raise SweepError(f"{by_index[shard.index].path} and {shard.path} are both shard "
                             f"{shard.index}/{count}: give each shard once")
        by_index[shard.index] = shard
    missing = [f"{i}/{count}" for i in range(count) if i not in by_index]
    if missing:
        raise SweepError(f"shard {', '.join(missing)} missing: give all {count} shard "
                         f"directories (have {', '.join(s.name for s in shards)})")
    ordered = [by_index[i] for i in range(count)]
    places = sorted(place for s in ordered for place, _ in s.info["shard"]["cells"])
    total = first.info["shard"]["song_settings_total"]
    if places != list(range(total)):
        raise SweepError(f"the shards hold {len(places)} song-settings, not the sweep's "
                         f"{total} once each: run every shard with the same settings again")
    return ordered


def unsharded_command(command: str | None, out: Path) -> str | None:
    """A shard's recorded command as the one unsharded run: no ``--shard``, ``--out OUT``."""
    if not command:
        return command
    words = shlex.split(command)
    kept: list[str] = []
    skip = False
    for n, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word == "--shard":
            skip = True
            continue
        kept.append(str(out) if n and words[n - 1] == "--out" else word)
    return shlex.join(kept)


def merge_shards(dirs: list[Path], out: Path) -> dict[str, Any]:
    """Join the shard directories ``dirs`` into ``out``; returns the merged run.json."""
    started = time.perf_counter()
    if not dirs:
        raise SweepError("no shard directories given")
    if any(out.resolve() == d.resolve() for d in dirs):
        raise SweepError(f"--out {out} is one of the shards: write the merge elsewhere")
    shards = check_shards([read_shard(d) for d in dirs])
    first = shards[0]
    held = sorted((place, label, shard) for shard in shards
                  for place, label in shard.info["shard"]["cells"])
    cells = [shard.cells[label] for _, label, shard in held]
    config = {**first.info["config"], "shard": None, "out": str(out)}
    command = unsharded_command(first.info.get("command"), out)
    out.mkdir(parents=True, exist_ok=True)
    write_results(out, first.info["shard"]["meta"], cells, plots=config["plots"],
                  command=command)
    header = {"sweep_checkpoint": 1, "settings": {**first.settings, "shard": None}}
    (out / CHECKPOINT).write_text("\n".join([json.dumps(header),
                                             *(c.to_json() for c in cells)]) + "\n")
    copied: dict[str, list[str]] = {}
    for shard in shards:
        for folder in COPIED:
            source = shard.path / folder
            for path in sorted(source.rglob("*")) if source.is_dir() else ():
                if path.is_file():
                    target = out / folder / path.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                    copied.setdefault(folder, []).append(str(target))
    stems = config["stems"]
    references: dict[str, dict[str, str | None]] = {stem: {} for stem in stems}
    for cell in cells:
        references[cell.record.stem][cell.record.song] = cell.other
    timings = [s.info["timing"] for s in shards]
    info = {
        "command": command,
        "config": config,
        "model": first.info["model"],
        "songs": {stem: sorted(refs) for stem, refs in references.items()},
        "skipped": first.info["skipped"],
        "references": references,
        "beat_grid_note": first.info.get("beat_grid_note"),
        "song_settings": len(cells),
        "interrupted": False,
        "song_settings_resumed": sum(s.info["song_settings_resumed"] for s in shards),
        "song_settings_simulated": sum(s.info["song_settings_simulated"] for s in shards),
        "timing": {
            "merge_seconds": round(time.perf_counter() - started, 3),
            "shards_wall_seconds_sum": round(sum(t["wall_seconds"] for t in timings), 3),
            "shards_wall_seconds_max": max(t["wall_seconds"] for t in timings),
            **{key: round(sum(t[key] for t in timings), 3)
               for key in ("model_calls", "model_wall_seconds", "model_steps")},
        },
        "shards": [{"index": s.index, "count": s.count, "dir": str(s.path),
                    "command": s.info.get("command"),
                    "song_settings": len(s.info["shard"]["cells"]), "timing": s.info["timing"]}
                   for s in shards],
    }
    if "audio" in copied:
        info["audio"] = sorted(copied["audio"])
    if "plots/spectrograms" in copied:
        info["spectrograms"] = sorted(copied["plots/spectrograms"])
    write_json(info, out / "run.json")
    return info
