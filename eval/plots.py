"""Plots of each metric against look-ahead depth in seconds, from an aggregate (report.py).

x = ``w · hop_seconds``: negative is retrospective (the region was already played), 0 is
immediate, positive is look-ahead (the live regime is one hop ahead). One panel per stem;
one line per (r, condition) of the generated stem's mean (± std over songs); horizontal
lines for the references (ground-truth stem, silence, the same stem from another song),
averaged over that stem's conditions; thin dotted lines with crosses for the listening
control (the stem generated for another song's input, scored against this song). One PNG
per metric plus ``all_metrics.png``, and ``listening.png``: generated / generated for another
song per metric against look-ahead, with 1 (a model that ignores its input) and the ceiling
(the real stem over another song's real stem) drawn in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .metrics import METRICS

#: Every plottable metric: the per-song metrics plus the pooled Fréchet distance.
PLOT_METRICS: tuple[str, ...] = (*METRICS, "frechet")
#: The metrics of the combined figure (those with data): the headline ones.
COMBINED_METRICS: tuple[str, ...] = (
    "beat_f1_annotated", "beat_f1_context", "onset_f1_stem", "chroma_stem", "chroma_context",
    "frechet")
#: Axis titles.
LABELS: dict[str, str] = {
    "beat_f1_context": "beat F1 vs context beats",
    "beat_f1_annotated": "beat F1 vs annotated beats",
    "onset_f1_stem": "onset F1 vs ground-truth stem",
    "onset_f1_context": "onset F1 vs context",
    "chroma_stem": "chroma cosine vs ground-truth stem",
    "chroma_context": "chroma cosine vs context",
    "chroma_profile_stem": "key profile cosine vs ground-truth stem",
    "chroma_profile_context": "key profile cosine vs context",
    "frechet": "Fréchet distance to ground-truth stems",
}
#: Metrics of ``listening.png``.
LISTENING_METRICS: tuple[str, ...] = ("beat_f1_annotated", "onset_f1_stem", "chroma_stem")
#: Reference lines: entry -> (label, colour, line style).
REFERENCE_STYLE: dict[str, tuple[str, str, str]] = {
    "ground_truth": ("ground-truth stem", "black", "--"),
    "other_song": ("other song's stem", "tab:purple", ":"),
    "silence": ("silence", "tab:gray", "-."),
}
#: The reference paper's beat F1 vs context (Beat This, Slakh2100, r = 0.25 of a ~6 s window,
#: so hop ≈ 1.486 s): (look-ahead seconds, value); ground-truth stem 0.641. For orientation
#: only: another tracker, data set and model.
PAPER_HOP_SECONDS = 0.25 * 64 * 4096 / 44100
PAPER_BEAT_F1_CONTEXT: tuple[tuple[float, float], ...] = (
    (-PAPER_HOP_SECONDS, 0.621), (0.0, 0.319), (PAPER_HOP_SECONDS, 0.223))
PAPER_BEAT_F1_GROUND_TRUTH = 0.641


def _value(condition: Mapping[str, Any], entry: str, metric: str) -> tuple[float | None,
                                                                           float | None]:
    if metric == "frechet":
        return condition["frechet"].get(entry), None
    s = condition["metrics"].get(entry, {}).get(metric)
    return (s["mean"], s["std"]) if s else (None, None)


def has_data(agg: Mapping[str, Any], metric: str) -> bool:
    """Whether any condition has a generated value for ``metric``."""
    return any(_value(c, "generated", metric)[0] is not None for c in agg["conditions"])


def _stems(agg: Mapping[str, Any]) -> list[str]:
    return sorted({c["stem"] for c in agg["conditions"]})


def _shade_zones(ax: Axes, xs: Sequence[float]) -> None:
    margin = 0.08 * max(1.0, max(xs) - min(xs))
    left, right = min(min(xs), -0.5) - margin, max(max(xs), 0.5) + margin
    ax.set_xlim(left, right)
    ax.axvspan(left, 0, color="tab:blue", alpha=0.07, lw=0)
    ax.axvspan(0, right, color="tab:orange", alpha=0.07, lw=0)
    ax.axvline(0, color="tab:red", lw=1, alpha=0.6)
    for x, text, align in ((left, " retrospective", "left"), (right, "look-ahead ", "right")):
        ax.text(x, 0.99, text, transform=ax.get_xaxis_transform(), ha=align, va="top",
                fontsize=7, color="0.35")
    ax.text(0, 0.99, "immediate ", transform=ax.get_xaxis_transform(), ha="right", va="top",
            rotation=90, fontsize=7, color="tab:red", alpha=0.8)


#: Line styles of the condition labels, in sorted label order.
CONDITION_STYLES: tuple[str, ...] = ("-", "--", ":", "-.")


class _LineStyles:
    """One colour per r and one line style per condition label, the same in every panel."""

    def __init__(self, agg: Mapping[str, Any]) -> None:
        self.rs = sorted({c["r"] for c in agg["conditions"]})
        self.conditions = sorted({c["condition"] for c in agg["conditions"]})

    def __call__(self, r: float, condition: str) -> dict[str, Any]:
        colour = f"C{self.rs.index(r) % 10}"
        style = CONDITION_STYLES[self.conditions.index(condition) % len(CONDITION_STYLES)]
        label = f"r = {r:g}" + (f", {condition}" if len(self.conditions) > 1 else "")
        return {"color": colour, "ls": style, "label": label}


def _draw_panel(ax: Axes, conditions: Sequence[Mapping[str, Any]], metric: str,
                styles: _LineStyles, paper: bool) -> None:
    lines: dict[tuple[float, str], list[tuple[float, float, float]]] = defaultdict(list)
    xs: list[float] = []
    plotted: list[float] = []
    for c in conditions:
        mean, std = _value(c, "generated", metric)
        xs.append(c["lookahead_seconds"])
        if mean is not None:
            plotted.append(mean)
            lines[(c["r"], c["condition"])].append(
                (c["lookahead_seconds"], mean, np.nan if std is None else std))
    for (r, cond), points in sorted(lines.items()):
        pts = np.array(sorted(points))
        ax.errorbar(pts[:, 0], pts[:, 1], yerr=pts[:, 2], marker="o", ms=4, capsize=3,
                    lw=1.5, **styles(r, cond))
    first = True
    for (r, cond), _points in sorted(lines.items()):
        control = sorted((c["lookahead_seconds"], v) for c in conditions
                         if (c["r"], c["condition"]) == (r, cond)
                         and (v := _value(c, "other_generated", metric)[0]) is not None)
        if control:
            style = styles(r, cond)
            ax.plot(*zip(*control, strict=True), marker="x", ms=5, lw=0.9, ls=":",
                    color=style["color"], alpha=0.8,
                    label="generated for another song's input" if first else None)
            first = False
    for entry, (label, colour, dashes) in REFERENCE_STYLE.items():
        values = [v for c in conditions if (v := _value(c, entry, metric)[0]) is not None]
        if values:
            plotted.append(float(np.mean(values)))
            ax.axhline(float(np.mean(values)), color=colour, ls=dashes, lw=1.2, label=label)
    if paper and metric == "beat_f1_context":
        px, py = zip(*PAPER_BEAT_F1_CONTEXT, strict=True)
        ax.plot(px, py, "x--", color="tab:brown", ms=6, lw=0.8,
                label="paper (Beat This, Slakh)")
        ax.axhline(PAPER_BEAT_F1_GROUND_TRUTH, color="tab:brown", ls=(0, (1, 3)), lw=0.8,
                   label="paper ground truth")
        xs = [*xs, *px]
    _shade_zones(ax, xs or [1.0])
    if metric != "frechet":
        ax.set_ylim(-0.03, 1.15)  # headroom for the zone labels above 1.0
    elif plotted and min(plotted) > 0:
        ax.set_yscale("log")  # silence sits orders of magnitude above the generated stem
        ax.set_ylim(min(plotted) / 1.5, max(plotted) * 4)  # headroom for the zone labels
    ax.grid(alpha=0.3)


def _legend_right(fig: Figure, axes: np.ndarray) -> None:
    """One legend for every panel (each label once) at the figure's right edge."""
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="center right", fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 2.0 / fig.get_figwidth(), 1))


def _figure(agg: Mapping[str, Any], metrics: Sequence[str], paper: bool) -> Figure:
    stems = _stems(agg)
    # A bare Figure renders with the Agg canvas on savefig: no pyplot, no global backend.
    fig = Figure(figsize=(4.2 * len(stems) + 2.0, 3.2 * len(metrics)))
    axes = fig.subplots(len(metrics), len(stems), squeeze=False)
    by_stem = {s: [c for c in agg["conditions"] if c["stem"] == s] for s in stems}
    styles = _LineStyles(agg)
    for i, metric in enumerate(metrics):
        for j, stem in enumerate(stems):
            ax = axes[i][j]
            _draw_panel(ax, by_stem[stem], metric, styles, paper)
            if i == 0:
                ax.set_title(stem)
            if j == 0:
                ax.set_ylabel(LABELS.get(metric, metric), fontsize=9)
            if i == len(metrics) - 1:
                ax.set_xlabel("look-ahead w·H (s)")
    _legend_right(fig, axes)
    return fig


def plot_metric(agg: Mapping[str, Any], metric: str, path: str | Path, *,
                paper: bool = True) -> Path:
    """One PNG of ``metric`` against look-ahead seconds, one panel per stem."""
    if metric not in PLOT_METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(PLOT_METRICS)}")
    if not agg["conditions"]:
        raise ValueError("the aggregate has no conditions to plot")
    path = Path(path)
    fig = _figure(agg, [metric], paper)
    fig.savefig(path, dpi=110)
    return path


def plot_combined(agg: Mapping[str, Any], path: str | Path,
                  metrics: Sequence[str] | None = None, *, paper: bool = True) -> Path:
    """The headline metrics with data (or ``metrics``) in one figure: rows = metrics,
    columns = stems."""
    chosen = [m for m in (metrics or COMBINED_METRICS) if has_data(agg, m)]
    if not chosen:
        raise ValueError("no metric has data to plot")
    path = Path(path)
    fig = _figure(agg, chosen, paper)
    fig.savefig(path, dpi=90)
    return path


def has_listening(agg: Mapping[str, Any]) -> bool:
    """Whether any condition has a listening ratio (the sweep ran its control)."""
    return any(v is not None for c in agg["conditions"]
               for v in c.get("listening", {}).values())


def plot_listening(agg: Mapping[str, Any], path: str | Path) -> Path:
    """``listening.png``: generated / generated-for-another-song per metric (rows) and stem
    (columns) against look-ahead; 1 is a model that ignores its input, the dashed line the
    ceiling (the real stem over another song's real stem)."""
    if not has_listening(agg):
        raise ValueError("the aggregate has no listening control to plot")
    stems = _stems(agg)
    fig = Figure(figsize=(4.2 * len(stems) + 2.0, 3.0 * len(LISTENING_METRICS)))
    axes = fig.subplots(len(LISTENING_METRICS), len(stems), squeeze=False)
    styles = _LineStyles(agg)
    for i, metric in enumerate(LISTENING_METRICS):
        for j, stem in enumerate(stems):
            ax = axes[i][j]
            conds = [c for c in agg["conditions"] if c["stem"] == stem]
            lines: dict[tuple[float, str], list[tuple[float, float]]] = defaultdict(list)
            for c in conds:
                value = c.get("listening", {}).get(metric)
                if value is not None:
                    lines[(c["r"], c["condition"])].append((c["lookahead_seconds"], value))
            for (r, cond), points in sorted(lines.items()):
                ax.plot(*zip(*sorted(points), strict=True), marker="o", ms=4, lw=1.5,
                        **styles(r, cond))
            ceiling = [v for c in conds
                       if (v := c.get("listening_ceiling", {}).get(metric)) is not None]
            if ceiling:
                ax.axhline(float(np.mean(ceiling)), color="black", ls="--", lw=1.2,
                           label="ceiling: real stem / another song's")
            ax.axhline(1.0, color="tab:red", ls=":", lw=1.2, label="1: ignores its input")
            _shade_zones(ax, [c["lookahead_seconds"] for c in conds] or [1.0])
            ax.grid(alpha=0.3)
            if i == 0:
                ax.set_title(stem)
            if j == 0:
                ax.set_ylabel(f"listening: {LABELS.get(metric, metric)}", fontsize=8)
            if i == len(LISTENING_METRICS) - 1:
                ax.set_xlabel("look-ahead w·H (s)")
    _legend_right(fig, axes)
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def plot_all(agg: Mapping[str, Any], out_dir: str | Path, *, paper: bool = True) -> list[Path]:
    """``<metric>.png`` for every metric with data, ``all_metrics.png`` and, when the sweep
    ran its listening control, ``listening.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not agg["conditions"]:
        return []
    paths = [plot_metric(agg, m, out / f"{m}.png", paper=paper)
             for m in PLOT_METRICS if has_data(agg, m)]
    if paths:
        paths.append(plot_combined(agg, out / "all_metrics.png", paper=paper))
    if has_listening(agg):
        paths.append(plot_listening(agg, out / "listening.png"))
    return paths


#: Longest stretch a spectrogram figure shows (seconds): detail a person can read.
SPECTROGRAM_SECONDS = 10.0


def plot_spectrograms(panels: Sequence[tuple[str, np.ndarray]], sr: int, path: str | Path, *,
                      span: tuple[float, float] | None = None, title: str | None = None,
                      beats: np.ndarray | None = None) -> Path:
    """Log-mel spectrograms of signals on one song timeline, one row each, same colour scale
    (dB re full scale, 80 dB range below the loudest), over ``span`` (at most
    :data:`SPECTROGRAM_SECONDS` from its start); ``beats`` (seconds) drawn as ticks on top.

    For a person to see what the numbers mean: the generated stem under the real one, and
    under it what the model made of another song's input.
    """
    from .metrics import change_log_mel, frame_times

    if not panels:
        raise ValueError("no signals to draw")
    start, end = span if span is not None else (0.0, len(panels[0][1]) / sr)
    end = min(end, start + SPECTROGRAM_SECONDS)
    mels = [change_log_mel(audio, sr) for _, audio in panels]
    times = frame_times(mels[0].shape[1])
    keep = (times >= start) & (times < end)
    top = max(float(m[:, keep].max()) for m in mels)
    fig = Figure(figsize=(10, 1.7 * len(panels) + 0.6))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    image = None
    for ax, (label, _), mel in zip(axes, panels, mels, strict=True):
        image = ax.imshow(mel[:, keep], origin="lower", aspect="auto", cmap="magma",
                          vmin=top - 80, vmax=top,
                          extent=(start, end, 0, mel.shape[0]))
        ax.set_ylabel(label, fontsize=8)
        ax.set_yticks([])
        if beats is not None:
            inside = beats[(beats >= start) & (beats < end)]
            ax.plot(inside, np.full(inside.shape, mel.shape[0] - 1.5), "v", color="cyan",
                    ms=4, alpha=0.9)
    axes[-1].set_xlabel("song time (s)" + ("; ▼ true beats" if beats is not None else ""))
    if title:
        axes[0].set_title(title, fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="dB", shrink=0.8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path
