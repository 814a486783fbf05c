"""``sideman eval sweep|merge|compare|score``: argument parsing in one place, turned into a
:class:`~sideman.eval.sweep.SweepConfig` (sweep) or plain arguments of the eval functions.

Heavy imports (torch, librosa) happen inside the handler so ``sideman --help`` stays quick.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Any

from sideman.models.base import MAX_GUIDANCE

from .config_file import add_config_option
from .main import INTERRUPTED, CommandError, Flatten, list_of, split_name
from .options import BATCH_THREADS, grid_tracker_option, stop_option, threads_option

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser(
        "eval", help="offline evaluation: look-ahead sweeps, merging shards, comparing, "
                     "scoring files",
        description="Offline evaluation through the live protocol's own code.")
    actions = group.add_subparsers(dest="eval_command", metavar="ACTION")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
    _register_sweep(actions)
    _register_merge(actions)
    _register_compare(actions)
    _register_score(actions)


#: The conditions' names in the results, accepted for --beat-grid too.
BEAT_GRID_NAMES = {"beat_grid": "on", "no_grid": "off"}


def _ms(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 ms, got {text}")
    return value / 1000.0


_ms.inverse = lambda seconds: round(seconds * 1000.0, 6)  # type: ignore[attr-defined]  # OUT/config.toml


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1], got {text}")
    return value


def _shard(text: str) -> tuple[int, int]:
    """argparse type of ``--shard``: ``I/N``, shard I (from 0) of N."""
    index, _, count = text.partition("/")
    try:
        value = (int(index), int(count))
    except ValueError:
        value = (-1, 0)
    if not (value[1] >= 1 and 0 <= value[0] < value[1]):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard; allowed I/N with "
                                         f"0 <= I < N, e.g. 0/4 ... 3/4")
    return value


_shard.inverse = lambda shard: f"{shard[0]}/{shard[1]}"  # type: ignore[attr-defined]  # config.toml


def _register_sweep(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "sweep", help="sweep look-ahead depth over a data set and score the generated stems",
        description="For every song of --data, stem, r, w and beat-grid condition: stream the "
                    "mix without the stem through the live server's own code on a simulated "
                    "clock (sessions, scheduler, engine, chunker, the reference client), "
                    "generate the stem, and score it against the ground-truth stem, silence "
                    "and another song's stem. Writes songs.json, aggregate.json, songs.csv, "
                    "aggregate.csv, summary.md, table.md, run.json and plots/ into --out "
                    "(keys: docs/EVAL.md).",
        epilog="Example (a set made by `sideman data synth --out data/synth --songs 20`): "
               "sideman eval sweep --data data/synth --split test --songs 2 --seconds 20 "
               "--model default --r 0.25 0.125 --w -1 0 1 2 --stems drums --beat-grid both "
               "--out out/sweep")
    what = p.add_argument_group("what to sweep")
    what.add_argument("--data", type=Path, required=True,
                      help="data set: a synthetic set (index.json) or Slakh2100 (root, split "
                           "folder or track)")
    what.add_argument("--split", default="test", type=split_name,
                      choices=("train", "valid", "test", "all"),
                      help="which split of --data (default test; 'all': every song; "
                           "'validation' = valid)")
    what.add_argument("--songs", type=int, default=None, metavar="N",
                      help="the first N songs (by id) that have the stem after the span start "
                           "(default: all)")
    what.add_argument("--seconds", type=float, default=None, metavar="S",
                      help="stream and score only the first S seconds of each song (an "
                           "excerpt: faster sweeps; default: whole songs)")
    what.add_argument("--song", action="append", dest="song_ids", default=None, metavar="ID",
                      help="only this song (repeat for several)")
    what.add_argument("--model", default="default",
                      help="'default' (embedded model), 'clicktrack' (diagnostic impulses) or "
                           "a checkpoint directory (default: default)")
    what.add_argument("--stems", nargs="+", type=list_of(str, "stem"), action=Flatten,
                      default=["drums"], metavar="STEM",
                      help="stems to generate, each from the mix of the others (default drums; "
                           "spaces or commas between values, as for --r and --w)")
    what.add_argument("--r", nargs="+", type=list_of(float, "number"), action=Flatten,
                      default=[0.25], dest="rs", metavar="R",
                      help="hop ratios H/T, rounded to whole latent frames (default 0.25)")
    what.add_argument("--w", nargs="+", type=list_of(int, "integer"), action=Flatten,
                      default=[1], dest="ws", metavar="W",
                      help="look-ahead depths in hops (-1 retrospective, 0 immediate, 1 live, "
                           ">= 2 deeper); (w+2)*r <= 1 (default 1)")
    what.add_argument("--beat-grid", default="off",
                      choices=("on", "off", "both", "tracked", "all", "beat_grid", "no_grid"),
                      help="send /sideman/transport with the song's annotated tempo and beats "
                           "(on), not and with the server's beat tracking off (off), not and "
                           "the server tracks the beat in the input (tracked), on and off as "
                           "two conditions (both) or all three (a model without the beat-grid "
                           "input gives the same output: run once, noted); beat_grid and "
                           "no_grid, the conditions' names in the results, mean on and off "
                           "(default off)")
    client = p.add_argument_group("client settings (as `sideman client`)")
    client.add_argument("--steps", type=int, default=None,
                        help="sampling steps (default: the model's)")
    client.add_argument("--seed", type=int, default=0,
                        help="the sweep's seed; each song's own seed is derived from it and "
                             "the song id (recorded in songs.json; default 0)")
    client.add_argument("--variation", type=float, default=None,
                        help="noise temperature 0..2 (default: the server's, 1)")
    client.add_argument("--guidance", type=float, default=None,
                        help=f"mixture guidance 0..{MAX_GUIDANCE:g} (default: the server's, "
                             "1 = off)")
    client.add_argument("--grid-guidance", type=float, default=None,
                        help=f"beat-grid guidance 0..{MAX_GUIDANCE:g} (default: the model's; "
                             "1 = off)")
    grid_tracker_option(client, " (the tracked condition of --beat-grid)")
    stop_option(client)
    client.add_argument("--xfade", type=int, default=None, metavar="SAMPLES",
                        help="crossfade at the head of each region (default: the server's)")
    client.add_argument("--delay", type=int, default=0, metavar="SAMPLES",
                        help="client output delay (extends every deadline; real time; "
                             "default 0)")
    client.add_argument("--no-refine", action="store_true",
                        help="real time: never send a quick result to be refined later")
    sim = p.add_argument_group(
        "simulated live conditions (default: fast mode, realtime 0, full quality)")
    sim.add_argument("--realtime", action="store_true",
                     help="capture in real time on the simulated clock: deadlines, degrading, "
                          "refining, misses and the watchdog are the scheduler's own")
    sim.add_argument("--latency", type=_ms, default=0.0, metavar="MS",
                     help="simulated time of each model call (needs --realtime; default 0)")
    sim.add_argument("--latency-per-step", type=_ms, default=0.0, metavar="MS",
                     help="plus this per sampling step (needs --realtime; default 0)")
    sim.add_argument("--latency-jitter", type=_ms, default=0.0, metavar="MS",
                     help="draw each call's time from a seeded log-normal with this standard "
                          "deviation around the mean above (default 0)")
    sim.add_argument("--latency-measured", type=float, default=None, metavar="FACTOR",
                     help="instead: each call takes its measured wall time x FACTOR")
    sim.add_argument("--loss", type=_probability, default=0.0, metavar="P",
                     help="probability a datagram is lost (each direction; default 0)")
    sim.add_argument("--duplicate", type=_probability, default=0.0, metavar="P",
                     help="probability a datagram arrives twice (default 0)")
    sim.add_argument("--reorder", type=_probability, default=0.0, metavar="P",
                     help="probability a datagram is held back by --reorder-delay (default 0)")
    sim.add_argument("--reorder-delay", type=_ms, default=0.01, metavar="MS",
                     help="how long a reordered datagram is held back (default 10 ms)")
    sim.add_argument("--link-delay", type=_ms, default=0.0, metavar="MS",
                     help="fixed one-way network delay (default 0)")
    sim.add_argument("--jitter", type=_ms, default=0.0, metavar="MS",
                     help="extra one-way delay drawn uniformly from [0, MS] (default 0)")
    sim.add_argument("--link-seed", type=int, default=0,
                     help="seed of the link's decisions (per song-setting; default 0)")
    sim.add_argument("--block", type=int, default=1024, metavar="SAMPLES",
                     help="real time: samples per audio datagram, like a patch's block "
                          "(default 1024)")
    sim.add_argument("--batch", type=int, default=None, metavar="N",
                     help="song-settings run as concurrent sessions of one simulated server, "
                          "so their steps share model calls (default 16 in fast mode, 1 in "
                          "real time, where sessions also share the model's time)")
    score = p.add_argument_group("scoring and output")
    score.add_argument("--out", type=Path, required=True, help="output directory")
    score.add_argument("--tracker", default="auto", choices=("auto", "dsp", "beat_this"),
                       help="beat tracker (default auto: Beat This only with its package and "
                            "a local checkpoint; else the DSP tracker, noted)")
    score.add_argument("--beat-this-checkpoint", type=Path, default=None, metavar="PATH",
                       help="local Beat This checkpoint file (never downloaded)")
    score.add_argument("--span-start", type=float, default=None, metavar="S",
                       help="score each song from S seconds to its end (default: one model "
                            "window, when every (r, w) has generated with full context)")
    score.add_argument("--skip-seconds", type=float, default=0.0, metavar="S",
                       help="ignore the first S seconds of the span in every metric "
                            "(default 0)")
    score.add_argument("--no-sensitivity", action="store_true",
                       help="skip the conditioning sensitivity (a third run of each "
                            "song-setting with another seed); the listening control (the "
                            "other song's input, same seed) always runs")
    score.add_argument("--include-silent", action="store_true",
                       help="also score songs whose target stem is silent over the span")
    score.add_argument("--save-audio", action="store_true",
                       help="write each generated stem to OUT/audio/SONG/ (32-bit float WAV)")
    score.add_argument("--no-plots", action="store_true", help="skip plots/")
    score.add_argument("--spectrograms", type=int, default=2, metavar="N",
                       help="draw the spectrograms (heard mix, real stem, generated, generated "
                            "for another song's input, true beats) of the first N songs of "
                            "each stem, every setting, in plots/spectrograms/ (default 2)")
    score.add_argument("--no-progress", action="store_true", help="no progress bar")
    run = p.add_argument_group("compute")
    # SweepConfig.threads is the same (eval.sweep is too heavy to import for --help)
    threads_option(run, help=f"torch CPU threads (default {BATCH_THREADS}; 0: torch's default; "
                             "more than 1 helps only on idle cores)")
    run.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="worker processes, each running one song (and stem) at a time "
                          "with its own copy of the model and --threads threads (default 1)")
    run.add_argument("--fresh", action="store_true",
                     help="start again: ignore the song-settings already finished in "
                          "OUT/cells.jsonl (by default a sweep run again with the same "
                          "settings continues where it stopped)")
    run.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                     help="run only shard I (0 ... N-1) of N: every N-th (stem, song) with "
                          "all its settings and controls, for a cluster's job array; "
                          "`sideman eval merge` joins the N output directories into the "
                          "files one run writes (default: the whole sweep)")
    run.add_argument("--device", default="cpu",
                     help="torch device of the model (default cpu)")
    run.add_argument("--codec-weights", type=Path, default=None, metavar="PATH",
                     help="music2latent codec weights (default: the package's own location)")
    run.add_argument("--click-period", type=int, default=None, metavar="SAMPLES",
                     help="clicktrack: impulse every N client samples (default 4410)")
    add_config_option(p)
    p.set_defaults(func=_sweep)


def _register_merge(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "merge", help="join the shards of one sweep (eval sweep --shard I/N) into its results",
        description="Join the output directories of `sideman eval sweep --shard I/N` for "
                    "I = 0 ... N-1 into the files one unsharded run writes (songs.json, "
                    "aggregate.json, CSVs, summary.md, table.md and plots, byte for byte; "
                    "run.json records the shards). Refuses shards of different sweeps "
                    "(settings, model), a missing or repeated shard and an interrupted one.",
        epilog="Example: sideman eval merge out/shard-0 out/shard-1 out/shard-2 --out out/sweep")
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR",
                   help="the shards' output directories, each shard once, in any order")
    p.add_argument("--out", type=Path, required=True,
                   help="output directory of the merged results")
    p.set_defaults(func=_merge)


def _merge(args: argparse.Namespace) -> int:
    from sideman.eval.merge import merge_shards
    from sideman.eval.sweep import SweepError

    try:
        info = merge_shards(args.dirs, args.out)
    except SweepError as exc:
        raise CommandError(f"{exc}") from None
    print(f"wrote {args.out}/: {info['song_settings']} song-settings from "
          f"{len(info['shards'])} shards")
    table = args.out / "table.md"
    if table.is_file():
        print(table.read_text())
    return 0


def _register_compare(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "compare", help="two sweeps side by side: differences and whether they exceed the "
                        "song-to-song spread",
        description="For every (stem, condition, r, w) two sweeps share: beat F1 vs the true "
                    "beats, listening, gen / GT, onset F1 and chroma vs the stem, Fréchet "
                    "distance of A and B, B - A, and whether the difference exceeds the "
                    "song-to-song spread (paired over the songs both scored, |t| > 2). "
                    "Prints the table; with --out also writes compare.md, compare.csv and "
                    "compare.png (keys: docs/EVAL.md).",
        epilog="Example: sideman eval compare out/before out/after --out out/compare")
    p.add_argument("a", type=Path, metavar="A", help="a sweep's output directory (--out of "
                                                     "`eval sweep` or `eval merge`)")
    p.add_argument("b", type=Path, metavar="B", help="the other sweep's output directory")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="also write compare.md, compare.csv and compare.png here (default: "
                        "print the table only)")
    p.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from sideman.eval.compare import CompareError, compare, markdown, read_sweep, write

    try:
        a, b = read_sweep(args.a), read_sweep(args.b)
        rows = compare(a, b)
    except CompareError as exc:
        raise CommandError(f"{exc}") from None
    print(markdown(rows, a, b), end="")
    if args.out is not None:
        paths = write(rows, a, b, args.out)
        print(f"wrote {args.out}/: {', '.join(sorted(p.name for p in paths.values()))}")
    return 0


def _register_score(actions: argparse._SubParsersAction) -> None:
    p = actions.add_parser(
        "score", help="score one generated stem against its ground truth (sound files)",
        description="Print the metrics of one generated stem (JSON: beat alignment, onsets, "
                    "chroma, listening when --other-song is given; keys: docs/EVAL.md) "
                    "against its ground-truth stem and the context it was generated from. "
                    "A quick check of files, not the sweep.",
        epilog="Example: sideman eval score gen.wav drums.wav mix-without-drums.wav")
    p.add_argument("generated", type=Path, help="the generated stem (a sound file)")
    p.add_argument("ground_truth", type=Path, help="the real stem of the same span")
    p.add_argument("context", type=Path, nargs="?", default=None,
                   help="the mixture without the stem (default: the ground truth)")
    p.add_argument("--other-song", type=Path, default=None, metavar="FILE",
                   help="the same stem from another song, for the listening ratio (default: "
                        "none)")
    p.set_defaults(func=_score)


def _score(args: argparse.Namespace) -> int:
    import json

    from sideman.eval.metrics import evaluate_files

    for path in (args.generated, args.ground_truth, args.context, args.other_song):
        if path is not None and not path.is_file():
            raise CommandError(f"{path} is not a file")
    print(json.dumps(evaluate_files(args.generated, args.ground_truth, args.context,
                                    other_song=args.other_song), indent=2))
    return 0


def config_from_args(args: argparse.Namespace):
    """The :class:`~sideman.eval.sweep.SweepConfig` of parsed ``eval sweep`` arguments."""
    from sideman.eval.latency import Latency
    from sideman.eval.network import Impairment
    from sideman.eval.sweep import SweepConfig

    latency = Latency(per_call=args.latency, per_step=args.latency_per_step,
                      jitter=args.latency_jitter, measured=args.latency_measured)
    impaired = any((args.loss, args.duplicate, args.reorder, args.link_delay, args.jitter))
    link = Impairment(loss=args.loss, duplicate=args.duplicate, reorder=args.reorder,
                      reorder_delay=args.reorder_delay, jitter=args.jitter,
                      delay=args.link_delay) if impaired else None
    return SweepConfig(
        data=args.data, out=args.out, model=args.model,
        split=None if args.split == "all" else args.split, songs=args.songs,
        song_ids=tuple(args.song_ids or ()), stems=tuple(args.stems), rs=tuple(args.rs),
        ws=tuple(args.ws), beat_grid=BEAT_GRID_NAMES.get(args.beat_grid, args.beat_grid),
        steps=args.steps, seed=args.seed,
        variation=args.variation, guidance=args.guidance, grid_guidance=args.grid_guidance,
        grid_tracker=args.grid_tracker, stop=args.stop, xfade=args.xfade, delay=args.delay,
        refine=not args.no_refine, realtime=args.realtime, latency=latency, up=link,
        down=link, link_seed=args.link_seed, block=args.block, batch=args.batch,
        tracker=args.tracker, beat_this_checkpoint=args.beat_this_checkpoint,
        span_start=args.span_start, skip_seconds=args.skip_seconds,
        sensitivity=not args.no_sensitivity,
        include_silent=args.include_silent, save_audio=args.save_audio,
        plots=not args.no_plots, spectrograms=args.spectrograms, device=args.device,
        codec_weights=args.codec_weights,
        click_period=args.click_period,
        seconds=args.seconds, jobs=args.jobs, threads=args.threads, resume=not args.fresh,
        shard=args.shard)


def command_line(args: argparse.Namespace) -> str:
    """The run as one ``sideman eval sweep`` command: every option that differs from its
    default, so a results file says exactly how to make it again."""
    parser = argparse.ArgumentParser(add_help=False)
    sub = parser.add_subparsers()
    _register_sweep(sub)  # a throw-away parser for the defaults
    defaults = vars(sub.choices["sweep"].parse_args(["--data", "D", "--out", "O"]))
    value: Any
    words = ["sideman", "eval", "sweep"]
    for action in sub.choices["sweep"]._actions:
        if not action.option_strings or action.dest in ("help", "func"):
            continue
        value = getattr(args, action.dest, None)
        if action.dest not in ("data", "out") and value == defaults.get(action.dest):
            continue
        flag = action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            words.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                words += [flag, str(item)]
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        elif action.type is _ms:
            words += [flag, f"{value * 1000:g}"]
        elif action.type is _shard:
            words += [flag, f"{value[0]}/{value[1]}"]
        else:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def _sweep(args: argparse.Namespace) -> int:
    from sideman.eval.sweep import SweepError, run_sweep
    from sideman.models.base import GeneratorError
    from sideman.training.datasets import DatasetError

    try:
        config = config_from_args(args)
    except ValueError as exc:
        raise CommandError(f"{exc}") from None
    try:
        run = run_sweep(config, progress=not args.no_progress, command=command_line(args))
    except KeyboardInterrupt:
        print(f"sideman eval sweep: interrupted; the song-settings finished so far are kept in "
              f"{config.out / 'cells.jsonl'}: the same command continues from there",
              file=sys.stderr)
        return INTERRUPTED
    except (SweepError, DatasetError, GeneratorError, FileNotFoundError) as exc:
        raise CommandError(f"{exc}") from None
    if run.info["interrupted"]:
        print(f"sideman eval sweep: interrupted; wrote the results of the "
              f"{run.results.meta['interrupted']} finished to {config.out}/ (they are kept "
              f"in cells.jsonl: the same command continues from there)", file=sys.stderr)
        return INTERRUPTED
    timing = run.info["timing"]
    if "table_md" not in run.paths:  # a shard with no (stem, song) of its own
        print(f"wrote {config.out}/: shard {args.shard[0]}/{args.shard[1]} has no "
              f"song-settings ({run.info['shard']['song_settings_total']} in the sweep, "
              f"fewer (stem, song) units than shards); `sideman eval merge` takes it as is")
        return 0
    print(f"wrote {config.out}/: {', '.join(sorted(p.name for p in run.paths.values()))}; "
          f"{run.info['song_settings']} song-settings in {timing['wall_seconds']:.1f} s "
          f"({run.info['song_settings_resumed']} resumed; "
          f"{timing['seconds_per_song_setting']:.2f} s each run now, load average "
          f"{timing['load_average_after'][0]:.2f})")
    print((config.out / "table.md").read_text())
    return 0
