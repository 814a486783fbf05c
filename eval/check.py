"""``sideman train check``: listening proxies for a trained model, in the streaming regime.

For each held-out song (valid split by default; never test) and each condition (hop ratio r,
look-ahead w, with or without the client's transport), the model's
:class:`~sideman.models.pipeline.StreamingPipeline` is driven step by step exactly as a live
client would: step ``k`` sees the mix without the target stem up to ``n_k = k·H`` and
generates ``[n_k + w·H, n_k + (w + 1)·H)``; the transport (when on) is the song's local tempo
and last beat at ``n_k`` (:func:`~sideman.training.beats.transport_at`). The regions are laid
end to end into a stem track on the song's timeline and scored with
:func:`~sideman.eval.metrics.evaluate_stem` next to the references it brings (the
ground-truth stem, silence, the same stem of another song): beat F1 against the annotated
(true) beats first, beat F1 against beats tracked in the context (the reference paper's
protocol), onset F1 and chroma agreement against the ground-truth stem.

Each song is generated with its own seed (:func:`~sideman.models.base.song_seed`), and twice
more: with the same seed over the next song's input (and grid), scored against this song
(the listening control ``other_generated``: ``listening`` = generated / other_generated, 1 for
a model that ignores what it hears), and over its own input with another seed, so
:func:`~sideman.eval.metrics.conditioning_sensitivity` can set the change the input makes
against the change the seed makes.

This is a quick in-process check to choose checkpoints; the evaluation's sweep
(``sideman eval sweep``) drives the live session code over the test split.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sideman.training.beats import transport_at
from sideman.training.cache import beats_per_bar_of
from sideman.training.datasets import Song, load_audio, mix_without, open_dataset

log = logging.getLogger(__name__)

#: The numbers the summary table shows, per entry.
TABLE_METRICS = ("beat_f1_annotated", "beat_f1_context", "onset_f1_stem", "chroma_stem")
#: The entries of the summary table, in order.
TABLE_ENTRIES = ("generated", "other_generated", "ground_truth", "other_song", "silence")


@dataclass(frozen=True)
class CheckOptions:
    model: Path
    data: Path
    out: Path
    split: str = "valid"
    songs: int = 8
    stems: tuple[str, ...] = ("drums",)
    ratios: tuple[float, ...] = (0.125, 0.25)
    lookahead: int = 1
    beat_grid: tuple[bool, ...] = (True, False)
    num_steps: int | None = None
    seconds: float | None = None
    wavs: int = 2
    seed: int = 0
    progress: bool = True
    codec_weights: Path | None = None

    def __post_init__(self) -> None:
        if self.split == "test":
            raise ValueError("the test split is kept for the evaluation; check on valid")
        if self.songs < 1:
            raise ValueError(f"--songs must be >= 1, got {self.songs}")


def window_of(audio: np.ndarray, start: int, end: int, known_end: int) -> np.ndarray:
    """Samples ``[start, end)`` of ``audio``: zero before 0, after the song and from
    ``known_end`` on (the future a live client has not captured yet)."""
    out = np.zeros(end - start, dtype=np.float32)
    lo, hi = max(start, 0), min(end, known_end, len(audio))
    if hi > lo:
        out[lo - start:hi - start] = audio[lo:hi]
    return out


def stream_stem(pipe: Any, context: np.ndarray, stem: str, *, r: float, w: int,
                song: Song | None, num_steps: int, seed: int = 0
                ) -> tuple[np.ndarray, dict[str, float]]:
    """Generate ``stem`` over a whole song the live way; returns (track, mean step timings).

    ``context``: the mix without the stem on the model clock; ``song``: for the transport
    (``None``: no transport). The track has ``len(context)`` samples; what no step generated
    (the first ``(w + 1)`` hops) is zero.
    """
    from sideman.models.base import StepRequest

    g = pipe.geometry_for(r, w)
    sr, hop = g.sample_rate, g.hop_samples
    n = len(context)
    track = np.zeros(n, dtype=np.float32)
    stream = pipe.new_stream()
    bpb = beats_per_bar_of(song) if song is not None else None
    timings: dict[str, list[float]] = {}
    k = 0
    while True:
        start, end = g.region(k)
        if start >= n:
            break
        if end > 0:
            w0, w1 = g.window(k)
            transport = None
            if song is not None and song.beats is not None:
                transport = transport_at(song.beats, song.downbeats if song.downbeats
                                         is not None else np.zeros(0),
                                         g.step_position(k) / sr, sample_rate=sr,
                                         beats_per_bar=bpb)
            request = StepRequest(stream=stream, step=k, geometry=g,
                                  mixture=window_of(context, w0, w1, g.step_position(k)),
                                  stems=(stem,), num_steps=num_steps, seed=seed,
                                  transport=transport)
            result = pipe.generate([request])[0]
            audio = result.audio[stem]
            lo, hi = max(start, 0), min(end, n)
            track[lo:hi] = audio[lo - start:hi - start]
            for key, value in result.timings.items():
                timings.setdefault(key, []).append(value)
        k += 1
        assert hop > 0
    return track, {k: float(np.mean(v)) for k, v in timings.items()}


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def run_check(options: CheckOptions) -> dict[str, Any]:
    """Stream the songs through the model and score them; writes JSON, markdown, WAVs."""
    import soundfile as sf
    from tqdm import tqdm

    from sideman.models.base import song_seed
    from sideman.models.pipeline import load_pipeline

    from .metrics import conditioning_sensitivity, evaluate_stem, fit_length

    pipe = load_pipeline(str(options.model), codec_weights=options.codec_weights)
    sr = pipe.config.sample_rate
    steps = options.num_steps or pipe.config.default_steps
    songs = open_dataset(options.data, split=options.split)[: options.songs]
    if not songs:
        raise ValueError(f"no {options.split} songs in {options.data}")
    options.out.mkdir(parents=True, exist_ok=True)
    conditions = [(r, grid) for r in options.ratios for grid in options.beat_grid]
    results: list[dict[str, Any]] = []
    total = len(songs) * len(options.stems) * len(conditions)
    bar = tqdm(total=total, desc="check", unit="run", disable=not options.progress)
    started = time.perf_counter()
    for si, song in enumerate(songs):
        end = song.duration if options.seconds is None else min(song.duration, options.seconds)
        other = songs[(si + 1) % len(songs)]
        seed = song_seed(options.seed, song.id)
        for stem in options.stems:
            truth = load_audio(song, stem, sr=sr, end=end)
            context = mix_without(song, stem, sr=sr, end=end)
            other_stem = other_context = None
            if other is not song:
                other_stem = load_audio(other, stem, sr=sr, end=end)
                other_context = fit_length(mix_without(other, stem, sr=sr, end=end),
                                           len(context))
            for r, grid in conditions:
                run = functools.partial(stream_stem, pipe, stem=stem, r=r,
                                        w=options.lookahead, num_steps=steps)
                track, timings = run(context, song=song if grid else None, seed=seed)
                g = pipe.geometry_for(r, options.lookahead)
                span = (max(0, g.region(0)[0]) / sr, len(track) / sr)
                swapped = sensitivity = None
                if other_context is not None:
                    swapped, _ = run(other_context, song=other if grid else None, seed=seed)
                    reseeded, _ = run(context, song=song if grid else None,
                                      seed=song_seed(options.seed, song.id, reseed=True))
                    sensitivity = conditioning_sensitivity(track, swapped, reseeded, sr, span)
                scores = evaluate_stem(track, truth, context, sr, span=span,
                                       gt_beats=song.beats, other_song_stem=other_stem,
                                       other_generated=swapped)
                results.append({"song": song.id, "stem": stem, "r": r, "w": options.lookahead,
                                "beat_grid": grid, "seed": seed, "timings": timings,
                                "sensitivity": sensitivity, **scores})
                if si < options.wavs:
                    tag = f"{song.id}-{stem}-r{r:g}-w{options.lookahead}-" \
                          f"{'grid' if grid else 'nogrid'}"
                    sf.write(options.out / f"{tag}-generated.wav", track, sr)
                    if swapped is not None:
                        sf.write(options.out / f"{tag}-generated-for-{other.id}-input.wav",
                                 swapped, sr)
                    sf.write(options.out / f"{tag}-with-context.wav",
                             np.clip(track + context, -1, 1), sr)
                    if r == conditions[0][0] and grid == conditions[0][1]:
                        sf.write(options.out / f"{song.id}-{stem}-ground-truth.wav", truth, sr)
                        sf.write(options.out / f"{song.id}-{stem}-context.wav", context, sr)
                bar.update()
    bar.close()
    summary = summarize(results)
    table = markdown_table(summary, str(options.model), steps)
    report = {"model": str(options.model), "data": str(options.data), "split": options.split,
              "songs": [s.id for s in songs], "num_steps": steps,
              "seconds": time.perf_counter() - started, "summary": summary, "runs": results,
              "table": table}
    (options.out / "check.json").write_text(json.dumps(report, indent=1) + "\n")
    (options.out / "check.md").write_text(table + "\n")
    return report


def summarize(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (stem, r, w, beat grid): mean of each metric per entry, generated / truth and the
    listening figures (annotated beat F1 of generated / other_generated, and of the ground
    truth / another song's real stem: the ceiling), and the mean conditioning sensitivity
    (mean input change / mean seed change)."""
    keys = sorted({(x["stem"], x["r"], x["w"], x["beat_grid"]) for x in results},
                  key=lambda k: (k[0], k[1], k[2], not k[3]))
    out = []
    for stem, r, w, grid in keys:
        runs = [x for x in results if (x["stem"], x["r"], x["w"], x["beat_grid"])
                == (stem, r, w, grid)]
        entries = sorted({e for x in runs for e in x["metrics"]})
        means = {e: {m: _mean([x["metrics"][e].get(m) for x in runs if e in x["metrics"]])
                     for m in TABLE_METRICS} for e in entries}
        def ratio(a: str, b: str, means: dict = means) -> float | None:
            x = means.get(a, {}).get("beat_f1_annotated")
            y = means.get(b, {}).get("beat_f1_annotated")
            return None if x is None or not y else x / y

        changes = {k: _mean([(x["sensitivity"] or {}).get(k) for x in runs])
                   for k in ("context_change_db", "seed_change_db")}
        out.append({"stem": stem, "r": r, "w": w, "beat_grid": grid, "songs": len(runs),
                    "means": means,
                    "beat_f1_ratio": ratio("generated", "ground_truth"),
                    "listening": ratio("generated", "other_generated"),
                    "listening_ceiling": ratio("ground_truth", "other_song"),
                    "sensitivity": (None if changes["context_change_db"] is None
                                    or not changes["seed_change_db"] else
                                    changes["context_change_db"] / changes["seed_change_db"]),
                    **changes,
                    "step_ms": {k: 1000 * float(np.mean([x["timings"].get(k, 0.0)
                                                         for x in runs]))
                                for k in ("encode", "sample", "decode")}})
    return out


def markdown_table(summary: Sequence[dict[str, Any]], model: str, steps: int) -> str:
    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    lines = [f"Listening proxies of `{model}` ({steps} sampler steps); means over songs, each "
             f"with its own seed. Beat F1 (true): against the annotated beats; beat F1 "
             f"(context): against beats tracked in the mix without the stem (the reference "
             f"paper's protocol). other_generated: the stem made for the next song's input "
             f"(same seed), scored against this song.", "",
             "| stem | r | w | beat grid | entry | beat F1 (true) | beat F1 (context) "
             "| onset F1 (vs GT stem) | chroma (vs GT stem) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in summary:
        for entry in TABLE_ENTRIES:
            if entry not in row["means"]:
                continue
            m = row["means"][entry]
            lines.append(f"| {row['stem']} | {row['r']:g} | {row['w']} | "
                         f"{'on' if row['beat_grid'] else 'off'} | {entry} | "
                         + " | ".join(f(m[k]) for k in TABLE_METRICS) + " |")
        lines.append(f"| | | | | **generated / GT beat F1 (true)** | "
                     f"**{f(row['beat_f1_ratio'])}** | | | |")
        lines.append(f"| | | | | **listening** (generated / other_generated; ceiling GT / "
                     f"other song {f(row['listening_ceiling'])}) | **{f(row['listening'])}** "
                     f"| | | |")
        lines.append(f"| | | | | sensitivity (input change / seed change, "
                     f"{f(row['context_change_db'])} / {f(row['seed_change_db'])} dB) | "
                     f"{f(row['sensitivity'])} | | | |")
    return "\n".join(lines)
