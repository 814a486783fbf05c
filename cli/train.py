"""``sideman data cache`` and ``sideman train ldm | cd | check | probe | beats``: parsing in one
place.

Handlers import torch lazily (``sideman --help`` stays quick) and turn the parsed options
into the option dataclasses the training modules take.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sideman.models.base import GeneratorError

from .config_file import add_config_option, add_preset
from .main import CommandError, Flatten, data_path, list_of, split_name
from .options import BATCH_THREADS, default, threads_option

#: What a training command's bad input raises (a value, a missing file, a folder that holds
#: no model): one line, not a traceback.
INPUT_ERRORS = (ValueError, FileNotFoundError, GeneratorError)

if TYPE_CHECKING:
    from sideman.training.loop import LoopOptions
    from sideman.training.stage import DataOptions

log = logging.getLogger(__name__)

#: What ``--smoke`` sets (a few steps, a tiny model), by option name: over a config file's
#: values, under the options typed beside it.
SMOKE_LOOP = {"steps": 4, "batch-size": 2, "warmup": 1, "checkpoint-every": 2,
              "valid-every": 2, "log-every": 1, "valid-windows": 4}
SMOKE_LDM = {"unet": "tiny", "window-frames": 64, "hops": "8,16"}
#: Each stage's optimisation defaults (shown by --help).
LDM_LOOP = {"steps": 20000, "batch_size": 16, "lr": 3e-4, "warmup": 500,
            "checkpoint_every": 500, "valid_every": 500, "log_every": 10, "ema_decay": 0.999}
BEATS_LOOP = {"steps": 6000, "batch_size": 32, "lr": 2e-3, "warmup": 100,
              "checkpoint_every": 500, "valid_every": 250, "log_every": 50, "ema_decay": 0.99}
BEAT_FRAMES = 256
CD_LOOP = {"steps": 5000, "batch_size": 16, "lr": 5e-5, "warmup": 100,
           "checkpoint_every": 250, "valid_every": 250, "log_every": 10, "ema_decay": 0.999}


def register_cache(data_group: argparse._SubParsersAction) -> None:
    cache = data_group.add_parser(
        "cache", help="encode every song once per codec (latent cache for training)",
        description="Per song and stem: the stem's latent and the latent of the mix without "
                    "it (encoded from the summed audio), which frames are audible, and the "
                    "beats. Stored under OUT/<codec>-<hash of its parameters>/; songs "
                    "already there are kept.")
    cache.add_argument("path", type=Path, nargs="?", default=None, metavar="PATH",
                       help="data set directory (or --data PATH)")
    cache.add_argument("--data", type=Path, default=None, help="the same as PATH")
    cache.add_argument("--codec", default="mel", help="codec name (default mel)")
    cache.add_argument("--codec-weights", type=Path, default=None, metavar="PATH",
                       help="music2latent codec weights (default: the package's own location)")
    cache.add_argument("--out", type=Path, default=None,
                       help="cache root (default DATA/latents)")
    threads_option(cache)
    cache.add_argument("--jobs", type=int, default=1,
                       help="worker processes encoding songs (the mel codec; the files do not "
                            "depend on it; default 1)")
    cache.add_argument("--no-progress", action="store_true", help="no progress bar")
    cache.set_defaults(func=_cmd_cache)


def _beat_grid(values: list[str]) -> tuple[bool, ...]:
    """--beat-grid on/off values (beat_grid/no_grid, the results' names, also accepted)."""
    names = {"on": True, "beat_grid": True, "off": False, "no_grid": False}
    unknown = [v for v in values if v.strip() not in names]
    if unknown:
        raise CommandError(f"--beat-grid {' '.join(unknown)}: allowed on, off (or beat_grid, "
                           f"no_grid)")
    return tuple(names[v.strip()] for v in values)


def _cmd_cache(args: argparse.Namespace) -> int:
    import torch

    from sideman.models.codecs import CodecError, build_codec
    from sideman.training.cache import CacheError, build_cache, open_cache
    from sideman.training.datasets import DatasetError

    args.data = data_path(args)
    torch.set_num_threads(args.threads)
    try:
        codec = build_codec(args.codec, weights=args.codec_weights)
        root = args.out if args.out is not None else args.data / "latents"
        path = build_cache(args.data, root, codec, progress=not args.no_progress,
                           jobs=args.jobs)
    except (CodecError, CacheError, DatasetError, ValueError) as exc:
        raise CommandError(f"{exc}") from None
    cache = open_cache(path, codec, splits=())
    stats = cache.index.get("stats_train", {})
    print(f"{path}: {len(cache.index['songs'])} songs; train latents RMS "
          f"{stats.get('rms', float('nan')):.4f} (sigma_data), mean "
          f"{stats.get('mean', float('nan')):.4f}")
    print(json.dumps(stats.get("per_stem", {}), indent=1))
    return 0


def _add_common(p: argparse.ArgumentParser, loop: dict[str, float]) -> None:
    """Options both diffusion stages take: data, windows, masks, optimisation, bookkeeping;
    ``loop`` holds the stage's optimisation defaults."""
    _add_window_data(p)
    _add_loop(p, loop)


def _add_window_data(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("data")
    d.add_argument("--data", type=Path, required=True, help="data set directory")
    d.add_argument("--cache", type=Path, default=None,
                   help="latent cache root (default DATA/latents; built if missing)")
    d.add_argument("--codec-weights", type=Path, default=None, metavar="PATH",
                   help="music2latent codec weights (default: the package's own location)")
    d.add_argument("--stem-weights", default="bass=0.2,drums=0.4,guitar=0.2,piano=0.2",
                   help="how often each stem is drawn (default drums 0.4, others 0.2)")
    d.add_argument("--keep-silent", type=float, default=0.15,
                   help="probability of keeping a window whose target is silent at the end "
                        "(default 0.15)")
    d.add_argument("--beat-dropout", type=float, default=0.5,
                   help="probability that an item's beat-grid planes are dropped (default 0.5)")
    d.add_argument("--mixture-dropout", type=float, default=0.0, metavar="P",
                   help="drop the mixture of a window with probability P (every frame "
                        "unknown), so mixture guidance (--guidance at inference) has a trained "
                        "'no mix' branch (default 0)")
    d.add_argument("--history-dropout", type=float, default=0.05, metavar="P",
                   help="with probability P show a window no history at all (the target's "
                        "earlier frames), so the model learns to take its part from the mix "
                        "and the grid (default 0.05)")
    d.add_argument("--history-corruption", type=float, default=0.0, metavar="P",
                   help="with probability P corrupt a window's known history (the target's "
                        "earlier frames) with noise, blur or dropped frames, as the model's own "
                        "output is at inference: against exposure bias (default 0)")
    d.add_argument("--history-noise", type=float, default=1.0, metavar="STD",
                   help="largest noise level of the history corruption, latent units "
                        "(default 1.0, about sigma_data)")
    d.add_argument("--history-shift", type=float, default=0.0, metavar="P",
                   help="with probability P move a window's known history by 1 to "
                        "--history-shift-frames frames either way: the model's own earlier "
                        "output need not sit on the beat, so it learns to take the timing from "
                        "the mix and the grid rather than continue its history (default 0)")
    d.add_argument("--history-shift-frames", type=int, default=24, metavar="N",
                   help="largest shift of --history-shift in latent frames (default 24: about "
                        "a beat at 120 bpm with the mel codec)")
    d.add_argument("--grid-error", type=float, default=0.0, metavar="P",
                   help="with probability P make a window's beat grid wrong as a live beat "
                        "tracker's can be (an octave error, or phase and tempo errors: below), "
                        "so the model learns that a grid is a hint and takes the beat from the "
                        "heard mix where they disagree (default 0: the grid is always the true "
                        "one)")
    d.add_argument("--grid-octave", type=float, default=0.5, metavar="SHARE",
                   help="share of --grid-error's wrong grids that have an octave error: half "
                        "the tempo (three in four) or double it, the errors the server's "
                        "tracker makes most (default 0.5)")
    d.add_argument("--grid-phase-error", type=float, default=0.1, metavar="BEATS",
                   help="standard deviation of --grid-error's phase error in beats, 0 to 1 "
                        "(default 0.1)")
    d.add_argument("--grid-tempo-error", type=float, default=0.02, metavar="FRAC",
                   help="standard deviation of --grid-error's relative tempo error, about the "
                        "misplaced beat, 0 to 0.25 (default 0.02: 2 %%)")
    d.add_argument("--focus-w", default="1",
                   help="look-aheads drawn extra often, comma-separated (default 1)")
    d.add_argument("--focus-prob", type=float, default=0.25,
                   help="share of items drawn from the focus look-aheads (default 0.25)")
    d.add_argument("--valid-windows", type=int, default=64,
                   help="fixed validation windows (default 64)")
    d.add_argument("--loader-workers", type=int, default=0, metavar="N",
                   help="processes that draw the next batches ahead while the model trains "
                        "(each batch is seeded by its step: the batches do not depend on N; "
                        "0: draw each batch inline before its step; default 0)")


def _add_loop(p: argparse.ArgumentParser, loop: dict[str, float]) -> None:
    """Optimisation and bookkeeping options (:class:`LoopOptions`) with the stage's
    defaults."""
    o = p.add_argument_group("optimisation")
    o.add_argument("--out", type=Path, required=True, help="run directory")
    o.add_argument("--steps", type=int, default=loop["steps"],
                   help=f"total optimizer steps (default {loop['steps']})")
    o.add_argument("--budget-minutes", type=float, default=None, metavar="M",
                   help="stop by wall clock: after a few timed steps the run fixes its length "
                        "(and its learning-rate schedule) to what fits in M minutes from the "
                        "command's start, the final checkpoint and export included; --steps "
                        "is then a cap (default: none, --steps decides)")
    o.add_argument("--batch-size", type=int, default=loop["batch_size"],
                   help=f"windows per step and process (default {loop['batch_size']})")
    o.add_argument("--lr", type=float, default=loop["lr"],
                   help=f"peak learning rate (default {loop['lr']:g})")
    o.add_argument("--warmup", type=int, default=loop["warmup"],
                   help=f"linear warmup steps (default {loop['warmup']})")
    o.add_argument("--lr-schedule", choices=("constant", "cosine"), default="cosine",
                   help="learning rate after the warmup (default cosine)")
    o.add_argument("--min-lr-ratio", type=float, default=0.1,
                   help="cosine ends at this fraction of --lr (default 0.1)")
    o.add_argument("--weight-decay", type=float, default=0.01,
                   help="AdamW weight decay (default 0.01)")
    o.add_argument("--grad-clip", type=float, default=1.0,
                   help="clip the gradient norm to this (default 1)")
    o.add_argument("--ema-decay", type=float, default=loop["ema_decay"],
                   help=f"EMA decay of the exported weights (default {loop['ema_decay']:g})")
    o.add_argument("--checkpoint-every", type=int, default=loop["checkpoint_every"],
                   metavar="STEPS", help=f"save a resumable state every N steps (default "
                                         f"{loop['checkpoint_every']})")
    o.add_argument("--valid-every", type=int, default=loop["valid_every"], metavar="STEPS",
                   help=f"validation loss every N steps (default {loop['valid_every']})")
    o.add_argument("--log-every", type=int, default=loop["log_every"], metavar="STEPS",
                   help=f"log the loss every N steps (default {loop['log_every']})")
    o.add_argument("--keep-checkpoints", type=int, default=2,
                   help="resumable states kept (exported models are all kept; default 2)")
    o.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    threads_option(o, help=f"torch threads per process (default {BATCH_THREADS}: on a shared "
                           "CPU more threads are slower)")
    o.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default="no",
                   help="accelerate's mixed precision (default no; bf16 or fp16 on a GPU)")
    o.add_argument("--resume", nargs="?", const=True, default=False, type=Path,
                   help="continue from the latest checkpoint in OUT (or from the one given)")
    o.add_argument("--tracker", choices=("auto", "tensorboard", "wandb", "none"),
                   default="auto",
                   help="experiment tracker (accelerate's): the log.jsonl scalars and a "
                        "sample spectrogram and audio at each validation; auto: TensorBoard "
                        "in OUT/tensorboard when installed (default auto)")
    o.add_argument("--no-samples", action="store_true",
                   help="at validation, do not generate and decode a sample window "
                        "(OUT/samples/; Music2Latent decodes slowly on a CPU)")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_option(p, not_recorded=("resume",))


def _add_smoke(p: argparse.ArgumentParser, preset: Mapping[str, object]) -> None:
    words = " ".join(f"--{k} {v}" for k, v in preset.items())
    p.add_argument("--smoke", action="store_true",
                   help=f"a few steps with a tiny model on whatever data is given (CI): sets "
                        f"{words}, over a --config file's values; options typed beside it "
                        f"win")
    add_preset(p, "smoke", preset)


def register_train(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train the latent diffusion teacher, distil it, check it; the beat tracker",
        description="Training runs on one CPU, one GPU, or several GPUs with "
                    "`accelerate launch -m sideman.cli train ...`.")
    group = train.add_subparsers(dest="train_command", metavar="STAGE")
    train.set_defaults(func=lambda args: (train.print_help(), 2)[1])

    ldm = group.add_parser(
        "ldm", help="train the EDM latent diffusion teacher",
        description="EDM denoiser on cached latents: every (hop, w) of the trained grid, "
                    "beat-grid dropout, EMA, resumable checkpoints, loss-curve PNG.")
    _add_common(ldm, LDM_LOOP)
    _add_smoke(ldm, {**SMOKE_LOOP, **SMOKE_LDM})
    m = ldm.add_argument_group("model")
    m.add_argument("--name", default="sideman-ldm", help="model name in config.json")
    m.add_argument("--codec", default="mel", help="codec (default mel)")
    m.add_argument("--window-frames", type=int, default=256, help="window T in frames "
                   "(default 256)")
    m.add_argument("--hops", default="32,64",
                   help="trained hops in frames, comma-separated (default 32,64)")
    m.add_argument("--unet", default="default",
                   help="default, wide, tiny or a JSON file of UNet2DModel arguments "
                        "(default: default)")
    m.add_argument("--no-beat-grid", action="store_true", help="model without beat planes")
    m.add_argument("--beat-phase", choices=("sincos", "cos"), default="sincos",
                   help="beat-grid planes the network reads: sin and cos of the beat and bar "
                        "phases (default; just before and just after a beat differ) or the "
                        "cosines only (as the embedded default was trained)")
    m.add_argument("--cond-width", type=int, default=0, metavar="N",
                   help="a conditioning pyramid of N channels that adds the mixture, masks, "
                        "history and beat planes at every U-Net level, not only at its input "
                        "(0: none, as the embedded default; default 0)")
    m.add_argument("--noise-scale", type=float, default=0.25, metavar="S",
                   help="c_noise = S·ln σ, what the U-Net's noise embedding reads (default "
                        "0.25, EDM's; a larger S spreads the σ range over more of its "
                        "frequencies)")
    m.add_argument("--no-history-planes", action="store_true",
                   help="never show the generated history clean: it reaches the network only "
                        "through the noisy input at the current noise level, so at high noise "
                        "the part must come from the mix and the beat grid")
    m.add_argument("--mixture-onset", action="store_true",
                   help="the network also reads the mix's onset strength per frame (its "
                        "spectral rise, summed over bands), broadcast like the beat planes: "
                        "the mix's timing without a beat grid; with --init a model without "
                        "it gains it, its new input weights starting at zero")
    m.add_argument("--onset-weight", type=float, default=0.0, metavar="A",
                   help="onset-weighted training loss: each frame weighs 1 + A·(the target's "
                        "spectral rise there / its mean over the window), so a hit in the "
                        "wrong frame costs more than the sustained floor (default 0: plain "
                        "EDM loss; validation always uses the plain loss)")
    m.add_argument("--rise-weight", type=float, default=0.0, metavar="A",
                   help="adds A times the squared error of the estimate's spectral rise per "
                        "frame (where its hits are) to the training loss, so when the hits "
                        "land is a large part of the loss, not a small one (default 0: none; "
                        "validation always uses the plain loss)")
    m.add_argument("--init", type=Path, default=None, metavar="MODEL",
                   help="warm start from this teacher's weights and config (architecture, "
                        "sigma_data, trained grid; --window-frames, --hops, --unet, "
                        "--no-beat-grid, --beat-phase, --cond-width, --noise-scale and "
                        "--no-history-planes are then ignored); e.g. "
                        "models/weights/default-teacher")
    m.add_argument("--p-mean", type=float, default=None,
                   help="EDM log-sigma mean (default -1.2 + ln(sigma_data / 0.5))")
    m.add_argument("--p-std", type=float, default=1.2, help="EDM log-sigma spread")
    ldm.set_defaults(func=_cmd_ldm)

    cd = group.add_parser(
        "cd", help="consistency distillation from a teacher",
        description="Consistency distillation (Song et al. 2023, Alg. 2): the student "
                    "starts from the teacher, one Heun step of the teacher between "
                    "adjacent Karras noise levels, an EMA target network, pseudo-Huber "
                    "distance on the frames to generate.")
    _add_common(cd, CD_LOOP)
    _add_smoke(cd, SMOKE_LOOP)
    c = cd.add_argument_group("distillation")
    c.add_argument("--teacher", type=Path, required=True,
                   help="teacher model directory (e.g. RUN/model from train ldm)")
    c.add_argument("--name", default=None, help="model name (default: teacher's + '-cd')")
    c.add_argument("--scales", type=int, default=18,
                   help="N: Karras noise levels of the discretisation (default 18)")
    c.add_argument("--target-decay", type=float, default=0.95,
                   help="EMA decay μ of the target network (default 0.95)")
    c.add_argument("--distance", choices=("huber", "l2"), default="huber",
                   help="consistency distance between the two estimates (default huber)")
    c.add_argument("--huber-c", type=float, default=None,
                   help="pseudo-Huber c (default 0.00054·sqrt(dimension))")
    c.add_argument("--sample-steps", type=int, default=2,
                   help="default sampling steps of the distilled model (default 2)")
    cd.set_defaults(func=_cmd_cd)

    check = group.add_parser(
        "check", help="listening proxies: stream valid songs through a model",
        description="Runs the streaming pipeline step by step over held-out songs and scores "
                    "the generated stem (beat F1 vs the true beats first, vs the context's "
                    "beats, onset F1 and chroma vs the ground-truth stem) next to the stem it "
                    "makes for the next song's input with the same seed (listening = own / "
                    "that), the ground truth, silence and another song's stem, and the "
                    "conditioning sensitivity; writes JSON, a markdown table and a few WAVs.")
    check.add_argument("--model", type=Path, required=True, help="model directory")
    check.add_argument("--data", type=Path, required=True, help="data set directory")
    check.add_argument("--split", default="valid", choices=("train", "valid"), type=split_name,
                       help="songs to use (default valid, alias validation; the test split is "
                            "for evaluation)")
    check.add_argument("--songs", type=int, default=8, help="number of songs (default 8)")
    check.add_argument("--stems", nargs="+", type=list_of(str, "stem"), action=Flatten,
                       default=["drums"], metavar="STEM",
                       help="stems (default drums; spaces or commas between values, as for "
                            "--r and --beat-grid)")
    check.add_argument("--r", nargs="+", type=list_of(float, "number"), action=Flatten,
                       default=[0.125, 0.25], metavar="R",
                       help="hop ratios (default 0.125 0.25)")
    check.add_argument("--w", type=int, default=1, help="look-ahead (default 1)")
    check.add_argument("--beat-grid", nargs="+", type=list_of(str, "on/off value"),
                       action=Flatten, default=["on", "off"], metavar="on|off",
                       help="with (on) and/or without (off) the transport (default on off)")
    check.add_argument("--num-steps", type=int, default=None,
                       help="sampler steps (default: the model's)")
    check.add_argument("--seconds", type=float, default=None,
                       help="only the first seconds of each song")
    check.add_argument("--out", type=Path, required=True, help="output directory")
    check.add_argument("--wavs", type=int, default=2, help="songs whose audio is saved")
    check.add_argument("--codec-weights", type=Path, default=None, metavar="PATH",
                       help="music2latent codec weights (default: the package's own location)")
    threads_option(check)
    check.add_argument("--seed", type=int, default=0,
                       help="seed; each song's is derived from it (default 0)")
    check.add_argument("--no-progress", action="store_true", help="no progress bar")
    check.set_defaults(func=_cmd_check_model)

    probe = group.add_parser(
        "probe", help="conditioning probe: does the denoiser's estimate follow its input?",
        description="Denoises validation windows at the live setting (w = 1) at several noise "
                    "levels with the window's own conditioning, then with another window's "
                    "mixture, with no mixture, no beat grid, no history, and other noise; "
                    "prints how far the estimate moves for each (RMS over the frames to "
                    "generate, in units of sigma_data). A model that ignores the mixture "
                    "moves 0 when it is swapped.")
    probe.add_argument("--model", required=True, help="model directory, or 'default'")
    probe.add_argument("--data", type=Path, required=True,
                       help="data set with train and valid songs (its latent cache is built "
                            "where missing)")
    probe.add_argument("--cache", type=Path, default=None,
                       help="latent cache root (default DATA/latents)")
    probe.add_argument("--windows", type=int, default=64,
                       help="validation windows (default 64)")
    probe.add_argument("--sigmas", default=None,
                       help="noise levels as multiples of sigma_data, comma-separated "
                            "(default 0.1,0.5,2,10,50)")
    probe.add_argument("--json", type=Path, default=None, help="also write the report here")
    probe.add_argument("--codec-weights", type=Path, default=None, metavar="PATH",
                       help="music2latent codec weights (default: the package's own location)")
    probe.add_argument("--no-history", action="store_true",
                       help="probe without the generated history (for models trained with "
                            "--history-dropout 1)")
    threads_option(probe)
    probe.add_argument("--no-progress", action="store_true", help="no progress bar")
    probe.set_defaults(func=_cmd_probe)

    beats = group.add_parser(
        "beats", help="train the learned beat tracker the server follows without a host grid",
        description="A small temporal convolution network over log-mel frames that marks "
                    "beats and downbeats, trained on random mixes of annotated songs' stems. "
                    "Validation reports librosa's beat tracker over its activation and over "
                    "the onset envelope (what the server used before) on valid songs mixed "
                    "without drums and without bass. Copy OUT/model to models/weights/beats "
                    "to ship it.")
    d = beats.add_argument_group("data")
    d.add_argument("--data", type=Path, required=True,
                   help="data set with beat annotations (sideman data synth)")
    d.add_argument("--frames", type=int, default=BEAT_FRAMES,
                   help=f"frames per training crop (default {BEAT_FRAMES}: the live window)")
    d.add_argument("--valid-songs", type=int, default=10,
                   help="validation songs (default 10)")
    _add_loop(beats, BEATS_LOOP)
    _add_smoke(beats, {k: v for k, v in SMOKE_LOOP.items() if k != "valid-windows"})
    beats.set_defaults(func=_cmd_beats)
    _register_recipe(group)


def _register_recipe(group: argparse._SubParsersAction) -> None:
    from sideman.training.recipe import GPU_BATCH, SHARES, SMOKE, RecipeOptions

    shares = ", ".join(f"{k} {round(100 * v)} %" for k, v in SHARES.items())
    recipe = group.add_parser(
        "recipe", help="one command: synthesize songs, cache latents, train the teacher and "
                       "distil it within a time budget",
        description=f"Songs, latent cache, EDM teacher and consistency distillation in one "
                    f"run that ends within --budget-minutes ({shares}; time a phase leaves "
                    f"goes to the next). Each training run times its first steps and fixes "
                    f"its length so its learning-rate schedule ends in time. Writes "
                    f"OUT/model (the student, float16, with MODEL_CARD.md and the loss "
                    f"curves), OUT/teacher, OUT/runs/, OUT/data/ and OUT/recipe.json.")
    r = recipe.add_argument_group("recipe")
    r.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    r.add_argument("--budget-minutes", type=float, required=True, metavar="M",
                   help="wall-clock minutes for everything, from the command's start")
    r.add_argument("--data", type=Path, default=None,
                   help="train on this data set (synthetic or Slakh2100) instead of "
                        "synthesizing songs; its latent cache is built where missing")
    r.add_argument("--songs", type=int, default=default(RecipeOptions, "songs"),
                   help="most songs to synthesize; the data share of the budget decides how "
                        "many are made (default %(default)s)")
    r.add_argument("--seconds", type=float, default=default(RecipeOptions, "seconds"),
                   help="length of each song (default %(default)s)")
    r.add_argument("--seed", type=int, default=default(RecipeOptions, "seed"),
                   help="data set and training seed (default %(default)s)")
    r.add_argument("--sample-rate", type=int, default=default(RecipeOptions, "sample_rate"),
                   help="rate the songs are rendered at (default %(default)s, the mel "
                        "codec's: no resampling)")
    r.add_argument("--soundfont", action="append", dest="soundfonts", default=None,
                   metavar="SF2", help="render with this General MIDI soundfont (repeat for "
                                       "several; default pretty_midi's TimGM6mb)")
    r.add_argument("--jobs", type=int, default=None,
                   help="worker processes for synthesis and the cache (default: one per core)")
    r.add_argument("--unet", default=default(RecipeOptions, "unet"),
                   help="default, wide, tiny or a JSON file of UNet2DModel arguments "
                        "(default %(default)s)")
    r.add_argument("--batch-size", type=int, default=None,
                   help=f"windows per step (default {GPU_BATCH} on a GPU, 16 on a CPU)")
    r.add_argument("--mixed-precision", choices=("no", "fp16", "bf16"), default=None,
                   help="default: bf16 on a GPU (fp16 without bf16), bf16 on a CPU that runs "
                        "it natively, else no")
    threads_option(r, default=None, help="torch threads (default: one per core)")
    r.add_argument("--loader-workers", type=int, default=None, metavar="N",
                   help="processes drawing the next batches ahead (default: cores - 2 on a "
                        "GPU, 0 on a CPU: draw inline)")
    r.add_argument("--tracker", choices=("auto", "tensorboard", "wandb", "none"),
                   default="auto", help="experiment tracker of both runs (default auto)")
    r.add_argument("--smoke", action="store_true",
                   help=f"tiny run for CI: {SMOKE.songs} songs of {SMOKE.seconds:g} s, the "
                        f"tiny U-Net, {SMOKE.teacher_steps} teacher and {SMOKE.cd_steps} "
                        f"distillation steps at most")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    recipe.set_defaults(func=_cmd_recipe)


def _loop_options(args: argparse.Namespace) -> LoopOptions:
    import time

    from sideman.training.loop import LoopOptions

    budget = args.budget_minutes
    if budget is not None and not (budget > 0 and budget < float("inf")):
        raise ValueError(f"--budget-minutes {budget:g} is out of range; allowed > 0")
    return LoopOptions(
        out=args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        warmup=args.warmup, schedule=args.lr_schedule, min_lr_ratio=args.min_lr_ratio,
        weight_decay=args.weight_decay, grad_clip=args.grad_clip, ema_decay=args.ema_decay,
        checkpoint_every=args.checkpoint_every, valid_every=args.valid_every,
        log_every=args.log_every, keep_checkpoints=args.keep_checkpoints, seed=args.seed,
        mixed_precision=args.mixed_precision, progress=not args.no_progress,
        tracker=args.tracker, samples=not args.no_samples,
        deadline=None if budget is None else time.time() + 60.0 * budget)


def _data_options(args: argparse.Namespace) -> DataOptions:
    from sideman.training.stage import DataOptions, parse_stem_weights

    return DataOptions(
        data=args.data, cache=args.cache, codec=getattr(args, "codec", None) or "mel",
        codec_weights=args.codec_weights,
        stem_weights=parse_stem_weights(args.stem_weights), keep_silent=args.keep_silent,
        p_drop_beat=args.beat_dropout, p_drop_mixture=args.mixture_dropout,
        p_no_history=args.history_dropout, p_corrupt_history=args.history_corruption,
        history_noise=args.history_noise, p_shift_history=args.history_shift,
        history_shift=args.history_shift_frames, p_wrong_grid=args.grid_error,
        grid_octave=args.grid_octave,
        grid_phase_error=args.grid_phase_error, grid_tempo_error=args.grid_tempo_error,
        focus_lookaheads=tuple(int(x) for x in args.focus_w.split(",") if x.strip()),
        focus_prob=args.focus_prob,
        valid_windows=args.valid_windows,
        progress=not args.no_progress, loader_workers=args.loader_workers)


def _cmd_ldm(args: argparse.Namespace) -> int:
    import torch

    from sideman.training.ldm import LdmOptions, train_ldm

    torch.set_num_threads(args.threads)
    try:
        options = LdmOptions(
            name=args.name, window_frames=args.window_frames,
            hop_frames=tuple(int(h) for h in args.hops.split(",") if h.strip()),
            unet=args.unet,
            uses_beat_grid=not args.no_beat_grid, beat_phase=args.beat_phase,
            cond_width=args.cond_width, noise_scale=args.noise_scale,
            history_planes=not args.no_history_planes, mixture_onset=args.mixture_onset,
            onset_weight=args.onset_weight, rise_weight=args.rise_weight,
            p_mean=args.p_mean, p_std=args.p_std,
            init=args.init)
        loop = _loop_options(args)
        model = train_ldm(options, _data_options(args), loop, resume=args.resume)
    except INPUT_ERRORS as exc:
        raise CommandError(f"{exc}") from None
    print(f"model: {model}  (loss curve: {args.out / 'loss.png'})")
    return 0


def _cmd_cd(args: argparse.Namespace) -> int:
    import torch

    from sideman.training.cd import CdOptions, train_cd

    torch.set_num_threads(args.threads)
    try:
        options = CdOptions(teacher=args.teacher, name=args.name, scales=args.scales,
                            target_decay=args.target_decay, distance=args.distance,
                            huber_c=args.huber_c, default_steps=args.sample_steps)
        loop = _loop_options(args)
        model = train_cd(options, _data_options(args), loop, resume=args.resume)
    except INPUT_ERRORS as exc:
        raise CommandError(f"{exc}") from None
    print(f"model: {model}  (loss curve: {args.out / 'loss.png'})")
    return 0


def _cmd_beats(args: argparse.Namespace) -> int:
    import torch

    from sideman.training.beat_tracker import BeatTrainOptions, train_beats

    torch.set_num_threads(args.threads)
    try:
        options = BeatTrainOptions(data=args.data, frames=args.frames,
                                   valid_songs=args.valid_songs, progress=not args.no_progress)
        model = train_beats(options, _loop_options(args), resume=args.resume)
    except INPUT_ERRORS as exc:
        raise CommandError(f"{exc}") from None
    print(f"beat tracker: {model}  (loss curve: {args.out / 'loss.png'})")
    return 0


def _cmd_check_model(args: argparse.Namespace) -> int:
    import torch

    from sideman.eval.check import CheckOptions, run_check

    torch.set_num_threads(args.threads)
    try:
        options = CheckOptions(
            model=args.model, data=args.data, split=args.split, songs=args.songs,
            stems=tuple(s.strip() for s in args.stems), ratios=tuple(args.r),
            lookahead=args.w, beat_grid=_beat_grid(args.beat_grid),
            num_steps=args.num_steps, seconds=args.seconds, out=args.out, wavs=args.wavs,
            seed=args.seed, progress=not args.no_progress, codec_weights=args.codec_weights)
        report = run_check(options)
    except INPUT_ERRORS as exc:
        raise CommandError(f"{exc}") from None
    print(report["table"])
    print(f"results: {args.out / 'check.json'}")
    return 0


def _cmd_probe(args: argparse.Namespace) -> int:
    import json

    import torch

    from sideman.training.probe import probe_table, run_probe

    torch.set_num_threads(args.threads)
    try:
        sigmas = None if args.sigmas is None else [float(x) for x in args.sigmas.split(",")]
        if args.windows < 2:
            raise ValueError(f"--windows must be >= 2 (mixtures are swapped between "
                             f"windows), got {args.windows}")
        report = run_probe(args.model, str(args.data), cache=args.cache, windows=args.windows,
                           sigmas=sigmas, codec_weights=args.codec_weights,
                           progress=not args.no_progress, history=not args.no_history)
    except INPUT_ERRORS as exc:
        raise CommandError(f"{exc}") from None
    print(probe_table(report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"report: {args.json}")
    return 0


def _cmd_recipe(args: argparse.Namespace) -> int:
    import shlex

    import torch

    from sideman.training.recipe import RecipeOptions, cores, run_recipe

    torch.set_num_threads(args.threads or cores())
    try:
        options = RecipeOptions(
            out=args.out, budget_minutes=args.budget_minutes, data=args.data,
            songs=args.songs, seconds=args.seconds, seed=args.seed,
            sample_rate=args.sample_rate, soundfonts=tuple(str(p) for p in args.soundfonts or ()),
            jobs=args.jobs, unet=args.unet, batch_size=args.batch_size,
            loader_workers=args.loader_workers,
            mixed_precision=args.mixed_precision, tracker=args.tracker, smoke=args.smoke,
            progress=not args.no_progress,
            command=shlex.join(["sideman", *getattr(args, "sideman_argv", ["train", "recipe"])]))
        record = run_recipe(options)
    except INPUT_ERRORS as exc:
        raise CommandError(f"{exc}") from None
    phases = record["phases"]
    print(f"model: {args.out / 'model'} (teacher: {args.out / 'teacher'}); "
          f"{phases['data']['songs']} songs, {phases['teacher']['steps']} teacher and "
          f"{phases['distillation']['steps']} distillation steps in {record['seconds']:.0f} s "
          f"of {60 * args.budget_minutes:.0f}; numbers: {args.out / 'recipe.json'}")
    return 0
