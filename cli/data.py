"""``sideman data ...`` and ``sideman train ...`` commands.

``register`` adds a ``data`` group (``synth``, ``info``, ``check``, ``cache``) and a ``train``
group (``ldm``, ``cd``, ``check``). Options are parsed here, once, into the option
dataclasses of :mod:`sideman.training.stage`, ``.loop``, ``.ldm`` and ``.cd``
(:mod:`.train` registers ``data cache`` and ``train``).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from .main import CommandError, data_path

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    from .train import register_cache, register_train

    register_cache(_register_data(subparsers))
    register_train(subparsers)


def _register_data(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    data = subparsers.add_parser("data", help="make and inspect multi-stem training data",
                                 description="Synthetic songs and Slakh2100: make, inspect, "
                                             "check.")
    group = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    synth = group.add_parser(
        "synth", help="compose and render synthetic multi-stem songs",
        description="Compose songs procedurally and render bass, drums, guitar and piano "
                    "stems with the General MIDI soundfont that ships with pretty_midi. "
                    "Same seed and options give bit-identical files.")
    synth.add_argument("--out", type=Path, required=True, help="output directory")
    synth.add_argument("--songs", type=int, required=True, help="number of songs")
    synth.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    synth.add_argument("--seconds", type=float, default=30.0,
                       help="length of each song in seconds (default 30)")
    synth.add_argument("--sample-rate", type=int, default=44100,
                       help="sample rate of the WAV files (default 44100)")
    synth.add_argument("--jobs", type=int, default=1,
                       help="worker processes (output does not depend on it; default 1)")
    synth.add_argument("--split-fractions", default="0.8,0.1,0.1",
                       help="train,valid,test fractions (default 0.8,0.1,0.1)")
    synth.add_argument("--style", default=None,
                       help="only this style (default: all styles, weighted)")
    synth.add_argument("--soundfont", action="append", dest="soundfonts", default=None,
                       metavar="SF2",
                       help="render with this General MIDI soundfont (repeat for several: "
                            "each song takes one, chosen by seed and index; default "
                            "pretty_midi's TimGM6mb; .sf2 only). Debian's fluid-soundfont-gm "
                            "and musescore-general-soundfont-lossless install more; keep one "
                            "out of training to test on timbres the model never heard")
    synth.add_argument("--overwrite", action="store_true",
                       help="replace the synthetic data set in --out, with everything in its "
                            "folder (without it, a set made with the same options and fewer "
                            "songs is extended: only the new songs are rendered)")
    synth.add_argument("--no-progress", action="store_true", help="no progress bar")
    synth.set_defaults(func=_cmd_synth)

    info = group.add_parser("info", help="summarise a data set (synthetic or Slakh2100)",
                            description="Songs, hours, tempo range, meters, silent stems; "
                                        "optionally a plot of one song.")
    info.add_argument("path", type=Path, nargs="?", default=None, metavar="PATH",
                      help="data set directory (or --data PATH)")
    info.add_argument("--data", type=Path, default=None, help="the same as PATH")
    info.add_argument("--split", default=None,
                      help="only this split (train, valid, test; validation = valid)")
    info.add_argument("--plot", type=Path, default=None,
                      help="write a PNG of one song's stems with beat lines")
    info.add_argument("--song", default=None, help="song id for --plot (default: first)")
    info.add_argument("--json", type=Path, default=None, help="also write the summary here")
    info.set_defaults(func=_cmd_info)

    check = group.add_parser(
        "check", help="beat F1 of tracked beats vs ground truth, onset offsets, levels",
        description="For each song: librosa beat tracking on the drums stem and the mix, "
                    "scored against the ground-truth beats with mir_eval (F1 at ±70 ms, "
                    "and AMLt, which forgives double/half-tempo tracking); for "
                    "synthetic songs the drum onset offset against song.mid.")
    check.add_argument("path", type=Path, nargs="?", default=None, metavar="PATH",
                       help="data set directory (or --data PATH)")
    check.add_argument("--data", type=Path, default=None, help="the same as PATH")
    check.add_argument("--split", default=None,
                       help="only this split (train, valid, test; validation = valid)")
    check.add_argument("--limit", type=int, default=None, help="check at most N songs")
    check.add_argument("--json", type=Path, default=None, help="write per-song results here")
    check.set_defaults(func=_cmd_check)
    return group


def _parse_fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise ValueError(f"--split-fractions needs three numbers like 0.8,0.1,0.1, got {text!r}")
    return parts


def _songs_in(path: Path) -> int:
    """Songs of the synthetic set at ``path`` (0: none there)."""
    try:
        return len(json.loads((path / "index.json").read_text())["songs"])
    except (OSError, ValueError, KeyError):
        return 0


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _cmd_synth(args: argparse.Namespace) -> int:
    from sideman.training.synth.dataset import SynthOptions, synthesize
    from sideman.training.synth.styles import STYLES

    if args.style is not None and args.style not in STYLES:
        raise CommandError(f"unknown --style {args.style!r}; known: {', '.join(STYLES)}") from None
    try:
        options = SynthOptions(seed=args.seed, songs=args.songs, seconds=args.seconds,
                               sample_rate=args.sample_rate,
                               split_fractions=_parse_fractions(args.split_fractions),
                               style=args.style,
                               soundfonts=tuple(str(p) for p in args.soundfonts or ()))
        started = time.perf_counter()
        before = _songs_in(args.out) if not args.overwrite else 0
        index = synthesize(args.out, options, jobs=args.jobs, overwrite=args.overwrite,
                           progress=not args.no_progress)
    except (ValueError, FileExistsError) as exc:
        raise CommandError(f"{exc}") from None
    wall = time.perf_counter() - started
    size = _dir_size(args.out)
    n = len(index["songs"])
    made = n - before
    added = f"{made} new, {before} there before; " if before else ""
    print(f"{n} songs ({n * options.seconds / 60:.1f} min of audio) in {args.out}: "
          f"{added}{wall:.1f} s wall, {wall / max(made, 1):.2f} s per song with {args.jobs} "
          f"job(s), {size / n / 1e6:.1f} MB per song; splits {index['splits']}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sideman.training.datacheck import plot_song
    from sideman.training.datasets import DatasetError, open_dataset, summarize

    args.path = data_path(args)
    try:
        songs = open_dataset(args.path, split=args.split)
    except (DatasetError, ValueError) as exc:
        raise CommandError(f"{exc}") from None
    if not songs:
        raise CommandError(f"no songs in {args.path}"
                           + (f" for split {args.split}" if args.split else ""), code=1)
    summary = summarize(songs)
    summary["size_mb"] = _dir_size(args.path) / 1e6
    table = Table(title=f"{args.path} ({songs[0].source})", show_header=False)
    table.add_column("what")
    table.add_column("value")

    def fmt(stats: dict | None, unit: str) -> str:
        if not stats:
            return "unknown"
        return (f"{stats['min']:.1f} – {stats['max']:.1f} {unit} "
                f"(median {stats['median']:.1f})")

    table.add_row("songs", f"{summary['songs']}  {summary['splits']}")
    table.add_row("audio", f"{summary['hours']:.2f} h, {fmt(summary['duration'], 's')}")
    table.add_row("size on disk", f"{summary['size_mb']:.1f} MB "
                                  f"({summary['size_mb'] / len(songs):.1f} MB per song)")
    table.add_row("tempo", fmt(summary["tempo"], "bpm"))
    table.add_row("meters", ", ".join(f"{k}: {v}" for k, v in sorted(summary["meters"].items())))
    table.add_row("swing", f"{summary['swing']} songs")
    if summary["styles"]:
        table.add_row("styles", ", ".join(f"{k}: {v}" for k, v in
                                          sorted(summary["styles"].items())))
    for stem, s in summary["silent"].items():
        table.add_row(f"{stem} silent", f"{s['songs_without']} songs without it; "
                                        f"{100 * s['silent_time_fraction']:.0f} % of the time")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")
    if args.plot:
        song = songs[0] if args.song is None else next((s for s in songs if s.id == args.song),
                                                       None)
        if song is None:
            raise CommandError(f"no song {args.song!r} in {args.path}") from None
        print(f"plot: {plot_song(song, args.plot)}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table
    from tqdm import tqdm

    from sideman.training.datacheck import check_song
    from sideman.training.datasets import DatasetError, open_dataset

    args.path = data_path(args)
    try:
        songs = open_dataset(args.path, split=args.split)
    except (DatasetError, ValueError) as exc:
        raise CommandError(f"{exc}") from None
    songs = songs[: args.limit] if args.limit else songs
    results = [check_song(s) for s in tqdm(songs, desc="check", unit="song")]
    table = Table(title=f"beat F1 (±70 ms) of librosa beats vs ground truth: {args.path}")
    for col in ("song", "style", "meter", "bpm", "F1 drums", "F1 mix", "AMLt drums",
                "AMLt mix", "drum onset ms"):
        table.add_column(col, no_wrap=col in ("song", "style"))

    def f(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"

    for r in results:
        off = r.get("drum_onset_offset_ms")
        table.add_row(r["id"], str(r.get("style") or ""), str(r["meter"]),
                      "–" if r["tempo"] is None else f"{r['tempo']:.1f}",
                      f(r.get("beat_f1_drums")), f(r.get("beat_f1_mix")),
                      f(r.get("beat_amlt_drums")), f(r.get("beat_amlt_mix")),
                      "–" if not off else f"{off['median']:+.2f}")
    Console().print(table)
    summary: dict = {}
    summary["songs"] = len(results)
    for key in ("beat_f1_drums", "beat_f1_mix", "beat_amlt_drums", "beat_amlt_mix"):
        vals = [r[key] for r in results if r.get(key) is not None]
        summary[key] = float(np.mean(vals)) if vals else None
        by_meter: dict[str, list[float]] = {}
        for r in results:
            if r.get(key) is not None:
                by_meter.setdefault(str(r["meter"]), []).append(r[key])
        summary[f"{key}_by_meter"] = {m: float(np.mean(v)) for m, v in sorted(by_meter.items())}
    offsets = [r["drum_onset_offset_ms"]["median"] for r in results
               if r.get("drum_onset_offset_ms")]
    summary["drum_onset_offset_ms_median"] = float(np.median(offsets)) if offsets else None
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "songs": results}, indent=1) + "\n")
    return 0
