"""``sideman eval compare A B``: two sweeps side by side (two models, or one model before and
after training), with the differences and whether each exceeds the song-to-song spread.

For every (stem, condition, r, w) both sweeps have and each headline metric
(:data:`HEADLINE`), the row holds A's and B's figure as ``table.md`` shows it (means over
songs; listening and gen / GT as ratios of means; the pooled Fréchet distance), the
difference B − A, and a spread test on the per-song values of the same quantity:

* **paired** where at least two songs are in both sweeps: d = B − A per song, t = mean(d) /
  (std(d) / √n);
* **unpaired** otherwise: t = (mean B − mean A) / (pooled std · √(1/n_A + 1/n_B));
* none for the Fréchet distance, which is pooled over songs (no per-song value).

A difference **exceeds the spread** when |t| > :data:`T_THRESHOLD` (about a 95 % two-sided
interval). A difference that is the same for every song has no spread and exceeds it unless
it is 0. Identical sweeps give 0 everywhere and flag nothing.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import MetricError
from .report import SongRecord, _ratio, read_aggregate_json, read_song_json

#: |t| above this: the difference exceeds the song-to-song spread.
T_THRESHOLD = 2.0


class CompareError(ValueError):
    """Two sweeps that cannot be compared (the message says why)."""


def _metric(entry: str, name: str) -> Callable[[SongRecord], float | None]:
    def value(record: SongRecord) -> float | None:
        v = record.evaluation["metrics"].get(entry, {}).get(name)
        return None if v is None else float(v)
    return value


def _gen_over_gt(record: SongRecord) -> float | None:
    metrics = record.evaluation["metrics"]
    return _ratio(metrics.get("generated", {}).get("beat_f1_annotated"),
                  metrics.get("ground_truth", {}).get("beat_f1_annotated"))


def _mean_of(entry: str, name: str) -> Callable[[Mapping[str, Any]], float | None]:
    return lambda c: c["metrics"].get(entry, {}).get(name, {}).get("mean")


#: (key, label, per-song value or None (pooled), the aggregate's figure), in table order.
HEADLINE: tuple[tuple[str, str, Callable[[SongRecord], float | None] | None,
                      Callable[[Mapping[str, Any]], float | None]], ...] = (
    ("beat_f1_true", "beat F1 vs true beats", _metric("generated", "beat_f1_annotated"),
     _mean_of("generated", "beat_f1_annotated")),
    ("listening", "listening (beat F1 true)", lambda r: r.listening()["beat_f1_annotated"],
     lambda c: c["listening"].get("beat_f1_annotated")),
    ("gen_gt", "gen / GT (beat F1 true)", _gen_over_gt,
     lambda c: c["ratio_to_ground_truth"].get("beat_f1_annotated")),
    ("onset_f1", "onset F1 vs GT stem", _metric("generated", "onset_f1_stem"),
     _mean_of("generated", "onset_f1_stem")),
    ("chroma", "chroma vs GT stem", _metric("generated", "chroma_stem"),
     _mean_of("generated", "chroma_stem")),
    ("frechet", "Fréchet distance", None, lambda c: c["frechet"].get("generated")),
)

Key = tuple[str, str, float, int]


@dataclass
class Difference:
    """One row: a headline metric of one (stem, condition, r, w) in A and B."""

    stem: str
    condition: str
    r: float
    w: int
    metric: str
    a: float | None
    b: float | None
    se: float | None  #: standard error of the difference (``None``: no per-song spread)
    t: float | None
    n: int  #: songs in the test: paired songs, or both sweeps' songs unpaired
    test: str  #: ``paired``, ``unpaired``, ``pooled`` (no per-song values) or ``too few``

    @property
    def diff(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def exceeds(self) -> bool:
        return self.t is not None and abs(self.t) > T_THRESHOLD


def _t(mean: float, se: float) -> float:
    if se > 0:
        return mean / se
    return 0.0 if abs(mean) < 1e-12 else math.copysign(math.inf, mean)


def spread_test(a: Mapping[str, float], b: Mapping[str, float]
                ) -> tuple[float | None, float | None, int, str]:
    """(standard error, t, songs, which test) of B − A from per-song values by song id:
    paired over the songs in both when there are two or more, else unpaired with the pooled
    standard deviation."""
    common = sorted(set(a) & set(b))
    if len(common) >= 2:
        d = np.array([b[s] - a[s] for s in common], np.float64)
        se = float(d.std(ddof=1) / math.sqrt(d.size))
        return se, _t(float(d.mean()), se), int(d.size), "paired"
    va, vb = np.array(list(a.values()), np.float64), np.array(list(b.values()), np.float64)
    if va.size and vb.size and va.size + vb.size > 2:
        ss = (float(((va - va.mean()) ** 2).sum()) + float(((vb - vb.mean()) ** 2).sum()))
        pooled = math.sqrt(ss / (va.size + vb.size - 2))
        se = pooled * math.sqrt(1 / va.size + 1 / vb.size)
        return se, _t(float(vb.mean() - va.mean()), se), int(va.size + vb.size), "unpaired"
    return None, None, len(common), "too few"


@dataclass
class Sweep:
    """One sweep's records and aggregate, read from its output directory."""

    path: Path
    records: list[SongRecord]
    meta: dict[str, Any]
    conditions: dict[Key, dict[str, Any]]


def _key(stem: str, condition: str, r: float, w: int) -> Key:
    return (stem, condition, round(float(r), 6), int(w))  # r as rounded to latent frames


def read_sweep(path: Path) -> Sweep:
    """A sweep's songs.json and aggregate.json (``path``: its --out directory)."""
    for name in ("songs.json", "aggregate.json"):
        if not (path / name).is_file():
            raise CompareError(f"{path}: no {name}, not a sweep's output directory (the "
                               f"--out of `sideman eval sweep` or `eval merge`)")
    try:
        records, meta = read_song_json(path / "songs.json")
        agg = read_aggregate_json(path / "aggregate.json")
    except (OSError, ValueError, KeyError, MetricError) as exc:
        raise CompareError(f"{path}: unreadable results ({exc})") from None
    conditions = {_key(c["stem"], c["condition"], c["r"], c["w"]): c
                  for c in agg["conditions"]}
    return Sweep(path, records, meta, conditions)


def compare(a: Sweep, b: Sweep) -> list[Difference]:
    """The rows of every (stem, condition, r, w) both sweeps have, in the sweeps' order."""
    keys = [k for k in a.conditions if k in b.conditions]
    if not keys:
        raise CompareError(f"{a.path} and {b.path} share no (stem, condition, r, w): "
                           f"A has {_settings(a.conditions)}; B has {_settings(b.conditions)}")

    def per_song(sweep: Sweep, key: Key, value: Callable[[SongRecord], float | None]
                 ) -> dict[str, float]:
        found = {}
        for record in sweep.records:
            if _key(record.stem, record.condition, record.r, record.w) == key:
                v = value(record)
                if v is not None and math.isfinite(v):
                    found[record.song] = v
        return found

    rows = []
    for key in keys:
        for metric, _, song_value, figure in HEADLINE:
            if song_value is None:
                se, t, n, test = None, None, 0, "pooled"
            else:
                se, t, n, test = spread_test(per_song(a, key, song_value),
                                             per_song(b, key, song_value))
            rows.append(Difference(*key, metric=metric, a=figure(a.conditions[key]),
                                   b=figure(b.conditions[key]), se=se, t=t, n=n, test=test))
    return rows


def _settings(conditions: Mapping[Key, Any]) -> str:
    return ", ".join(f"{s} {c} r{r:g} w{w}" for s, c, r, w in conditions) or "none"


# -- writing -------------------------------------------------------------------------------
LABELS = {key: label for key, label, _, _ in HEADLINE}
CSV_COLUMNS: tuple[str, ...] = ("stem", "condition", "r", "w", "metric", "a", "b", "diff",
                                "se", "t", "n", "test", "exceeds_spread")


def _fmt(value: float | None, digits: int = 3, sign: bool = False) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def markdown(rows: list[Difference], a: Sweep, b: Sweep) -> str:
    grid = {"beat_grid": "on", "no_grid": "off"}
    lines = [f"# {a.meta.get('model', '?')} (A) vs {b.meta.get('model', '?')} (B)", "",
             f"A: `{a.path}` (model `{a.meta.get('model', '?')}`, {a.meta.get('data', '?')}); "
             f"B: `{b.path}` (model `{b.meta.get('model', '?')}`, {b.meta.get('data', '?')}).",
             "",
             "| stem | beat grid | r | w | metric | A | B | B − A | ± 2 se | t | songs | test "
             "| exceeds spread |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for d in rows:
        digits = 1 if d.metric == "frechet" else 3
        lines.append(
            f"| {d.stem} | {grid.get(d.condition, d.condition)} | {d.r:g} | {d.w} | "
            f"{LABELS[d.metric]} | {_fmt(d.a, digits)} | {_fmt(d.b, digits)} | "
            f"{_fmt(d.diff, digits, sign=True)} | "
            f"{_fmt(None if d.se is None else 2 * d.se, digits)} | {_fmt(d.t, 1, sign=True)} "
            f"| {d.n or '–'} | {d.test} | {'**yes**' if d.exceeds else 'no'} |")
    only = [f"only in {name}: {_settings({k: 0 for k in s.conditions if k not in o.conditions})}"
            for name, s, o in (("A", a, b), ("B", b, a))
            if any(k not in o.conditions for k in s.conditions)]
    lines += ["", "A and B: the figures of each sweep's table.md (means over songs; listening "
              "and gen / GT are ratios of means; the Fréchet distance is pooled over songs). "
              "The spread test uses the per-song values of the same quantity: paired "
              "differences over the songs both sweeps scored (t = mean / standard error), "
              "else unpaired with the pooled standard deviation; a difference exceeds the "
              f"song-to-song spread when |t| > {T_THRESHOLD:g}. The Fréchet distance has no "
              "per-song values: no test (pooled). docs/EVAL.md#comparing-two-sweeps-sideman-"
              "eval-compare", *(f"\n{line}" for line in only)]
    return "\n".join(lines) + "\n"


def write_csv(rows: list[Difference], path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for d in rows:
            writer.writerow([d.stem, d.condition, d.r, d.w, d.metric,
                             *("" if v is None else v for v in (d.a, d.b, d.diff, d.se, d.t)),
                             d.n, d.test, int(d.exceeds)])
    return path


def plot_differences(rows: list[Difference], path: Path) -> Path:
    """One panel per headline metric: B − A per (stem, condition, r, w) with ± 2 standard
    errors; red where the difference exceeds the song-to-song spread."""
    from matplotlib.figure import Figure  # a bare Figure: the Agg canvas, no pyplot

    metrics = [key for key, _, _, _ in HEADLINE]
    labels = list(dict.fromkeys(f"{d.stem} {d.condition} r{d.r:g} w{d.w}" for d in rows))
    fig = Figure(figsize=(4.2 * 3, 0.9 + 0.35 * len(labels) * 2), layout="constrained")
    axes = fig.subplots(2, 3, sharey=True).ravel()
    for ax, metric in zip(axes, metrics, strict=True):
        mine = [d for d in rows if d.metric == metric]
        ys = np.arange(len(mine))
        diffs = [d.diff if d.diff is not None else np.nan for d in mine]
        errors = [2 * d.se if d.se is not None else 0.0 for d in mine]
        colours = ["tab:red" if d.exceeds else "tab:gray" for d in mine]
        ax.barh(ys, diffs, xerr=errors, color=colours, capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(LABELS[metric], fontsize=9)
        ax.set_xlabel("B − A")
        ax.set_yticks(ys, labels, fontsize=8)  # shown on the left column only (sharey)
    axes[0].invert_yaxis()  # the table's order, top down (shared by every panel)
    fig.suptitle("B − A (± 2 standard errors over songs; red: exceeds the song-to-song "
                 "spread)", fontsize=10)
    fig.savefig(path, dpi=100)
    return path


def write(rows: list[Difference], a: Sweep, b: Sweep, out: Path) -> dict[str, Path]:
    """``compare.md``, ``compare.csv`` and ``compare.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.md").write_text(markdown(rows, a, b))
    return {"compare_md": out / "compare.md", "compare_csv": write_csv(rows, out / "compare.csv"),
            "compare_png": plot_differences(rows, out / "compare.png")}
