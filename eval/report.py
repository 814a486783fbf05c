"""Sweep results: per-song records, aggregates over songs, and their JSON / CSV / markdown files.

A sweep produces one :class:`SongRecord` per (song, stem, condition, r, w): the
:func:`~sideman.eval.metrics.evaluate_stem` result plus the run's counts. :class:`SweepResults`
collects them (and the Fréchet embeddings, pooled per condition, never per song), computes
the aggregate and writes:

* ``songs.json``     ``{"schema": 1, "meta": {...}, "records": [record, ...]}``
* ``aggregate.json`` ``{"schema": 1, "meta": {...}, "conditions": [condition, ...]}``
* ``songs.csv``      one row per record (stable columns, see :func:`song_csv_columns`)
* ``aggregate.csv``  one row per (condition, entry, metric) (long format)
* ``summary.md``     a markdown table of the headline numbers

Every key is documented in docs/EVAL.md. The layout is versioned by ``"schema"``
(:data:`SCHEMA_VERSION`); readers refuse other versions.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .metrics import ENTRIES, LISTENING_PAIRS, METRICS, MetricError, frechet_distance

#: Version of every file written here; bump it when a key changes meaning or disappears.
#: 2: the listening control (``other_generated``, ``listening``), per-song seeds and the
#: conditioning sensitivity.
SCHEMA_VERSION = 2
#: Entries whose Fréchet distance to the ground-truth pool is reported.
FRECHET_ENTRIES: tuple[str, ...] = ("generated", "other_generated", "silence", "other_song")
#: The conditioning-sensitivity numbers of a record (``metrics.conditioning_sensitivity``).
SENSITIVITY_KEYS: tuple[str, ...] = ("context_change_db", "seed_change_db", "sensitivity")
#: Columns of aggregate.csv, in order.
AGGREGATE_CSV_COLUMNS: tuple[str, ...] = (
    "schema", "stem", "condition", "r", "w", "hop_seconds", "lookahead_seconds", "n_songs",
    "entry", "metric", "mean", "std", "n", "ratio_to_ground_truth", "listening",
)
#: Fixed leading columns of songs.csv (counts, metrics and events follow).
SONG_CSV_LEADING: tuple[str, ...] = (
    "schema", "song", "stem", "condition", "r", "w", "hop_seconds", "lookahead_seconds",
    "span_start", "span_end", "tracker", "skip_seconds", "seed",
)
#: The numeric counts a sweep is expected to report per record (others are allowed).
EXPECTED_COUNTS: tuple[str, ...] = ("steps", "misses", "lost_samples")


class ConditionKey(NamedTuple):
    """What a sweep varies: the stem, a free-form condition label, the hop ratio and w."""

    stem: str
    condition: str
    r: float
    w: int


@dataclass
class SongRecord:
    """One song's result for one (stem, condition, r, w).

    Attributes:
        song: song identifier (e.g. Slakh track id).
        stem: the generated stem (bass, drums, guitar, piano).
        r: hop ratio H/T as used (after rounding to whole latent frames).
        w: look-ahead in hops (-1 retrospective, 0 immediate, 1 live look-ahead, ...).
        hop_seconds: the hop H in seconds.
        evaluation: the dict returned by ``metrics.evaluate_stem``.
        condition: label of other settings (e.g. ``"beat_grid"`` / ``"no_grid"``).
        counts: numbers from the run: ``steps``, ``misses``, ``lost_samples``, others.
        seed: the seed the song was generated with (``None``: not recorded).
        sensitivity: ``metrics.conditioning_sensitivity``'s result (``None``: not run).
    """

    song: str
    stem: str
    r: float
    w: int
    hop_seconds: float
    evaluation: dict[str, Any]
    condition: str = "default"
    counts: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    sensitivity: dict[str, float | None] | None = None

    def __post_init__(self) -> None:
        if not self.song or not self.stem or not self.condition:
            raise MetricError("song, stem and condition must be non-empty strings")
        if not (0.0 < float(self.r) <= 1.0):
            raise MetricError(f"r must be in (0, 1], got {self.r!r}")
        if not isinstance(self.w, (int, np.integer)) or self.w < -1:
            raise MetricError(f"w must be an int >= -1, got {self.w!r}")
        if not (math.isfinite(self.hop_seconds) and self.hop_seconds > 0):
            raise MetricError(f"hop_seconds must be > 0, got {self.hop_seconds!r}")
        for key in ("span", "tracker", "metrics", "events"):
            if key not in self.evaluation:
                raise MetricError(f"evaluation lacks {key!r}: pass metrics.evaluate_stem's result")
        for name, value in self.counts.items():
            if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(
                    value, bool):
                raise MetricError(f"count {name!r} must be a number, got {value!r}")
        if self.sensitivity is not None and set(self.sensitivity) != set(SENSITIVITY_KEYS):
            raise MetricError(f"sensitivity must have the keys {SENSITIVITY_KEYS}, got "
                              f"{sorted(self.sensitivity)}")
        self.r = float(self.r)
        self.w = int(self.w)
        self.hop_seconds = float(self.hop_seconds)
        self.seed = None if self.seed is None else int(self.seed)

    def listening(self) -> dict[str, float | None]:
        """Per metric, generated / other_generated for this song (``None`` where either is
        undefined or the control scores 0)."""
        scores = self.evaluation["metrics"]
        gen, cross = scores.get("generated", {}), scores.get("other_generated")
        if cross is None:
            return {m: None for m in METRICS}
        return {m: _ratio(_maybe_float(gen.get(m)), _maybe_float(cross.get(m)))
                for m in METRICS}

    @property
    def lookahead_seconds(self) -> float:
        """How far past the capture point the generated region starts: ``w · hop_seconds``."""
        return self.w * self.hop_seconds

    @property
    def key(self) -> ConditionKey:
        return ConditionKey(self.stem, self.condition, self.r, self.w)

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "schema": SCHEMA_VERSION,
            "song": self.song,
            "stem": self.stem,
            "condition": self.condition,
            "r": self.r,
            "w": self.w,
            "hop_seconds": self.hop_seconds,
            "lookahead_seconds": self.lookahead_seconds,
            "span": [float(v) for v in ev["span"]],
            "tracker": ev["tracker"],
            "skip_seconds": float(ev.get("skip_seconds", 0.0)),
            "seed": self.seed,
            "counts": {k: _number(v) for k, v in sorted(self.counts.items())},
            "metrics": {entry: {m: _maybe_float(values.get(m)) for m in METRICS}
                        for entry, values in ev["metrics"].items()},
            "events": ev["events"],
            "sensitivity": (None if self.sensitivity is None else
                            {k: _maybe_float(self.sensitivity[k]) for k in SENSITIVITY_KEYS}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SongRecord:
        _check_schema(data, "song record")
        return cls(
            song=data["song"], stem=data["stem"], r=data["r"], w=data["w"],
            hop_seconds=data["hop_seconds"], condition=data["condition"],
            counts=dict(data["counts"]), seed=data["seed"], sensitivity=data["sensitivity"],
            evaluation={"span": data["span"], "tracker": data["tracker"],
                        "skip_seconds": data["skip_seconds"], "metrics": data["metrics"],
                        "events": data["events"]},
        )


def _check_schema(data: Mapping[str, Any], what: str) -> None:
    if data.get("schema") != SCHEMA_VERSION:
        raise MetricError(f"{what} has schema {data.get('schema')!r}; this sideman reads "
                          f"schema {SCHEMA_VERSION}")


def _number(value: Any) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _maybe_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``, ``None`` when either is undefined or ``den`` is 0."""
    return num / den if num is not None and den else None


def _summary(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """mean, sample std (ddof=1; None below 2 values) and n over the defined values."""
    defined = np.array([v for v in values if v is not None], dtype=np.float64)
    n = int(defined.size)
    return {
        "mean": float(defined.mean()) if n else None,
        "std": float(defined.std(ddof=1)) if n >= 2 else None,
        "n": n,
    }


def _mean_ratios(metrics: Mapping[str, Mapping[str, Mapping[str, Any]]], entry: str,
                 control: str) -> dict[str, float | None]:
    """Per metric, the mean of ``entry`` over the mean of ``control`` (``None`` if either is
    missing or undefined, or the control's mean is 0)."""
    def mean(e: str, m: str) -> float | None:
        return metrics.get(e, {}).get(m, {}).get("mean")

    return {m: _ratio(mean(entry, m), mean(control, m)) for m in METRICS}


def _standardised_frechet(pools: Mapping[str, list[np.ndarray]]) -> tuple[dict, dict]:
    """FD of each entry's pool to the ground-truth pool, after scaling every feature by the
    ground-truth pool's mean and standard deviation (so no feature dominates by its units)."""
    stacked = {k: np.concatenate(v, axis=0) for k, v in pools.items() if v}
    windows = {k: int(v.shape[0]) for k, v in stacked.items()}
    truth = stacked.get("ground_truth")
    distances: dict[str, float | None] = {k: None for k in FRECHET_ENTRIES}
    if truth is None or truth.shape[0] < 2:
        return distances, windows
    mean = truth.mean(axis=0)
    std = truth.std(axis=0)
    scale = np.where(std > 1e-8, std, 1.0)
    ref = (truth - mean) / scale
    for entry in FRECHET_ENTRIES:
        emb = stacked.get(entry)
        if emb is not None and emb.shape[0] >= 2:
            distances[entry] = frechet_distance((emb - mean) / scale, ref)
    return distances, windows


def aggregate_records(
    records: Sequence[SongRecord],
    embeddings: Mapping[ConditionKey, Mapping[str, list[np.ndarray]]] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The aggregate over songs of each (stem, condition, r, w); see docs/EVAL.md for keys.

    ``embeddings[key][entry]`` holds the per-song ``metrics.embed_entries`` arrays of that
    condition; they are pooled and one Fréchet distance per entry is computed.
    """
    groups: dict[ConditionKey, list[SongRecord]] = defaultdict(list)
    for record in records:
        groups[record.key].append(record)
    conditions = []
    for key in sorted(groups, key=lambda k: (k.stem, k.condition, k.r, k.w)):
        members = groups[key]
        hops = {round(m.hop_seconds, 9) for m in members}
        if len(hops) != 1:
            raise MetricError(f"records of {key} disagree on hop_seconds: {sorted(hops)}")
        songs = [m.song for m in members]
        if len(set(songs)) != len(songs):
            raise MetricError(f"duplicate songs in {key}: each song once per condition")
        hop = members[0].hop_seconds
        metrics: dict[str, dict[str, Any]] = {}
        for entry in ENTRIES:
            present = [m.evaluation["metrics"][entry] for m in members
                       if entry in m.evaluation["metrics"]]
            if present:
                metrics[entry] = {metric: _summary(_maybe_float(p.get(metric)) for p in present)
                                  for metric in METRICS}
        ratios = _mean_ratios(metrics, "generated", "ground_truth")
        listening = {entry: _mean_ratios(metrics, entry, control)
                     for entry, control in LISTENING_PAIRS.items()}
        sensitivity = {k: _summary(_maybe_float(m.sensitivity[k]) for m in members
                                   if m.sensitivity is not None) for k in SENSITIVITY_KEYS}
        sensitivity["ratio_of_means"] = _ratio(  # type: ignore[assignment]
            sensitivity["context_change_db"]["mean"], sensitivity["seed_change_db"]["mean"])
        counts: dict[str, int | float] = {}
        for name in sorted({c for m in members for c in m.counts}):
            counts[name] = _number(sum(m.counts.get(name, 0) for m in members))
        frechet, windows = _standardised_frechet((embeddings or {}).get(key, {}))
        conditions.append({
            "stem": key.stem,
            "condition": key.condition,
            "r": key.r,
            "w": key.w,
            "hop_seconds": hop,
            "lookahead_seconds": key.w * hop,
            "n_songs": len(members),
            "songs": sorted(songs),
            "counts": counts,
            "metrics": metrics,
            "ratio_to_ground_truth": ratios,
            "listening": listening["generated"],
            "listening_ceiling": listening["ground_truth"],
            "sensitivity": sensitivity,
            "frechet": frechet,
            "frechet_windows": windows,
        })
    return {"schema": SCHEMA_VERSION, "meta": dict(meta or {}), "conditions": conditions}


class SweepResults:
    """Collects song records and pooled embeddings during a sweep; writes every output file.

    Usage (the sweep driver)::

        results = SweepResults(meta={"model": "default", "tracker": tracker.name, ...})
        ev = evaluate_stem(gen, gt, ctx, sr, span=span, other_song_stem=other, tracker=tracker)
        emb = embed_entries(gen, gt, sr, span=span, other_song_stem=other)
        results.add(SongRecord(song, stem, r, w, hop_s, ev, condition, counts), emb)
        results.write(out_dir)
    """

    def __init__(self, meta: Mapping[str, Any] | None = None) -> None:
        self.meta: dict[str, Any] = dict(meta or {})
        self.records: list[SongRecord] = []
        self.embeddings: dict[ConditionKey, dict[str, list[np.ndarray]]] = {}

    def add(self, record: SongRecord,
            embeddings: Mapping[str, np.ndarray] | None = None) -> None:
        if any(r.key == record.key and r.song == record.song for r in self.records):
            raise MetricError(f"song {record.song!r} already recorded for {record.key}")
        self.records.append(record)
        if embeddings:
            pools = self.embeddings.setdefault(record.key, defaultdict(list))
            for entry, emb in embeddings.items():
                if entry not in ENTRIES:
                    raise MetricError(f"unknown embedding entry {entry!r}; use {ENTRIES}")
                pools[entry].append(np.asarray(emb, dtype=np.float64))

    def aggregate(self) -> dict[str, Any]:
        return aggregate_records(self.records, self.embeddings, self.meta)

    def write(self, out_dir: str | Path, *, plots: bool = True) -> dict[str, Path]:
        """Write every output file into ``out_dir``; returns ``{name: path}``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        agg = self.aggregate()
        paths = {
            "songs_json": write_song_json(self.records, out / "songs.json", self.meta),
            "aggregate_json": write_json(agg, out / "aggregate.json"),
            "songs_csv": write_song_csv(self.records, out / "songs.csv"),
            "aggregate_csv": write_aggregate_csv(agg, out / "aggregate.csv"),
            "summary_md": write_markdown(agg, out / "summary.md"),
        }
        if plots:
            from .plots import plot_all  # matplotlib only when plots are asked for

            for path in plot_all(agg, out / "plots"):
                paths[f"plot_{path.stem}"] = path
        return paths


# -- writers / readers ---------------------------------------------------------------------

def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Strict JSON (no NaN: undefined values are ``null``), keys in a stable order."""
    path = Path(path)
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return path


def write_song_json(records: Sequence[SongRecord], path: str | Path,
                    meta: Mapping[str, Any] | None = None) -> Path:
    return write_json({"schema": SCHEMA_VERSION, "meta": dict(meta or {}),
                       "records": [r.to_dict() for r in records]}, path)


def read_song_json(path: str | Path) -> tuple[list[SongRecord], dict[str, Any]]:
    """Records and meta from ``songs.json``."""
    data = json.loads(Path(path).read_text())
    _check_schema(data, str(path))
    return [SongRecord.from_dict(r) for r in data["records"]], data["meta"]


def read_aggregate_json(path: str | Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text())
    _check_schema(data, str(path))
    return data


def song_csv_columns(records: Sequence[SongRecord]) -> list[str]:
    """songs.csv columns: leading keys, ``counts.*`` (union, sorted), ``<entry>.<metric>`` for
    every entry and metric, ``listening.<metric>`` (this song's generated / other_generated),
    ``sensitivity.*``, ``events.<kind>.<source>`` (union, sorted)."""
    count_names = sorted({c for r in records for c in r.counts})
    event_names = sorted({f"events.{kind}.{source}" for r in records
                          for kind, sources in r.evaluation["events"].items()
                          for source in sources})
    return [*SONG_CSV_LEADING, *(f"counts.{c}" for c in count_names),
            *(f"{e}.{m}" for e in ENTRIES for m in METRICS),
            *(f"listening.{m}" for m in METRICS), *(f"sensitivity.{k}" for k in SENSITIVITY_KEYS),
            *event_names]


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_song_csv(records: Sequence[SongRecord], path: str | Path) -> Path:
    path = Path(path)
    columns = song_csv_columns(records)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for record in records:
            d = record.to_dict()
            row: dict[str, Any] = {k: d[k] for k in SONG_CSV_LEADING
                                   if k not in ("span_start", "span_end")}
            row["span_start"], row["span_end"] = d["span"]
            row.update({f"counts.{k}": v for k, v in d["counts"].items()})
            for entry, values in d["metrics"].items():
                row.update({f"{entry}.{m}": _cell(v) for m, v in values.items()})
            row.update({f"listening.{m}": _cell(v) for m, v in record.listening().items()})
            row.update({f"sensitivity.{k}": _cell(v)
                        for k, v in (d["sensitivity"] or {}).items()})
            for kind, sources in d["events"].items():
                row.update({f"events.{kind}.{s}": _cell(v) for s, v in sources.items()})
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def aggregate_rows(agg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """aggregate.csv rows: one per (condition, entry, metric), plus ``metric="frechet"`` rows
    (``mean`` = the distance, ``n`` = pooled windows of that entry, ``std`` empty) and the
    generated entry's ``sensitivity.*`` rows. ``listening``: on generated rows generated /
    other_generated, on ground_truth rows ground_truth / other_song (the ceiling)."""
    rows = []
    listening = {"generated": "listening", "ground_truth": "listening_ceiling"}
    for c in agg["conditions"]:
        base = {"schema": SCHEMA_VERSION, **{k: c[k] for k in (
            "stem", "condition", "r", "w", "hop_seconds", "lookahead_seconds", "n_songs")}}
        for entry, metrics in c["metrics"].items():
            for metric, s in metrics.items():
                ratio = c["ratio_to_ground_truth"].get(metric) if entry == "generated" else None
                listen = c[listening[entry]].get(metric) if entry in listening else None
                rows.append({**base, "entry": entry, "metric": metric, "mean": _cell(s["mean"]),
                             "std": _cell(s["std"]), "n": s["n"],
                             "ratio_to_ground_truth": _cell(ratio), "listening": _cell(listen)})
        for entry, value in c["frechet"].items():
            rows.append({**base, "entry": entry, "metric": "frechet", "mean": _cell(value),
                         "std": "", "n": c["frechet_windows"].get(entry, 0),
                         "ratio_to_ground_truth": "", "listening": ""})
        for key in SENSITIVITY_KEYS:
            s = c["sensitivity"][key]
            rows.append({**base, "entry": "generated", "metric": f"sensitivity.{key}",
                         "mean": _cell(s["mean"]), "std": _cell(s["std"]), "n": s["n"],
                         "ratio_to_ground_truth": "", "listening": ""})
    return rows


def write_aggregate_csv(agg: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(AGGREGATE_CSV_COLUMNS))
        writer.writeheader()
        writer.writerows(aggregate_rows(agg))
    return path


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _mean(c: Mapping[str, Any], entry: str, metric: str) -> float | None:
    return c["metrics"].get(entry, {}).get(metric, {}).get("mean")


def _mean_std(c: Mapping[str, Any], entry: str, metric: str) -> str:
    s = c["metrics"].get(entry, {}).get(metric)
    if not s or s["mean"] is None:
        return "–"
    return _fmt(s["mean"]) + ("" if s["std"] is None else f" ± {s['std']:.3f}")


def _listening(c: Mapping[str, Any], metric: str, key: str = "listening") -> str:
    return _fmt(c.get(key, {}).get(metric), 2)


def _sensitivity(c: Mapping[str, Any]) -> str:
    return _fmt(c.get("sensitivity", {}).get("ratio_of_means"), 2)


#: Columns of the markdown summary: (header, function of one aggregate condition). Beat F1
#: against the true beats leads; beat F1 against beats tracked in the context (the reference
#: paper's protocol) follows, labelled as such.
MARKDOWN_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("stem", lambda c: c["stem"]),
    ("condition", lambda c: c["condition"]),
    ("r", lambda c: f"{c['r']:g}"),
    ("w", lambda c: str(c["w"])),
    ("look-ahead (s)", lambda c: f"{c['lookahead_seconds']:+.3f}"),
    ("songs", lambda c: str(c["n_songs"])),
    ("beat F1 true: generated", lambda c: _mean_std(c, "generated", "beat_f1_annotated")),
    ("generated for other song", lambda c: _fmt(_mean(c, "other_generated",
                                                      "beat_f1_annotated"))),
    ("**listening**", lambda c: "**" + _listening(c, "beat_f1_annotated") + "**"),
    ("ground truth", lambda c: _fmt(_mean(c, "ground_truth", "beat_f1_annotated"))),
    ("gen/GT", lambda c: _fmt(c["ratio_to_ground_truth"].get("beat_f1_annotated"), 2)),
    ("GT listening", lambda c: _listening(c, "beat_f1_annotated", "listening_ceiling")),
    ("sensitivity", _sensitivity),
    ("beat F1 ctx (paper): generated", lambda c: _fmt(_mean(c, "generated",
                                                            "beat_f1_context"))),
    ("ground truth ctx", lambda c: _fmt(_mean(c, "ground_truth", "beat_f1_context"))),
    ("onset F1 stem", lambda c: _fmt(_mean(c, "generated", "onset_f1_stem"))),
    ("onset listening", lambda c: _listening(c, "onset_f1_stem")),
    ("chroma stem", lambda c: _fmt(_mean(c, "generated", "chroma_stem"))),
    ("chroma listening", lambda c: _listening(c, "chroma_stem")),
    ("FD gen", lambda c: _fmt(c["frechet"].get("generated"), 1)),
    ("FD other song", lambda c: _fmt(c["frechet"].get("other_song"), 1)),
    ("steps", lambda c: str(c["counts"].get("steps", "–"))),
    ("misses", lambda c: str(c["counts"].get("misses", "–"))),
)


def markdown_table(agg: Mapping[str, Any]) -> str:
    """The summary table: one row per (stem, condition, r, w)."""
    lines = ["| " + " | ".join(h for h, _ in MARKDOWN_COLUMNS) + " |",
             "|" + "---|" * len(MARKDOWN_COLUMNS)]
    for c in agg["conditions"]:
        lines.append("| " + " | ".join(fn(c) for _, fn in MARKDOWN_COLUMNS) + " |")
    return "\n".join(lines)


def write_markdown(agg: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    meta = agg.get("meta", {})
    head = ["# Look-ahead sweep summary", ""]
    if meta:
        head += [", ".join(f"{k}: {v}" for k, v in meta.items()), ""]
    notes = [
        "",
        "Means over songs (± sample std). beat F1 true: beats tracked in the stem against the "
        "song's true beats (annotations), mir_eval ±70 ms. generated for other song: the "
        "stem the model made for another song's input (same seed and settings) scored "
        "against this song. listening: generated / generated for other song (1: the model "
        "ignores what it hears; GT listening, the ground-truth stem over another song's "
        "real stem, is the ceiling). sensitivity: log-mel change when the input is swapped "
        "for another song's, over the change when only the seed changes (0: deaf). gen/GT: "
        "generated / ground-truth stem (target at w = 1: ≥ 0.85). beat F1 ctx (paper): "
        "against beats tracked in the context (the mixture without the stem), the reference "
        "paper's protocol; a tracker on a mix without drums can lock onto off-beats. FD: "
        "Fréchet distance to the pooled ground-truth stems (standardised features, "
        "docs/EVAL.md). Silence scores 0 on every F1 and chroma metric by construction. "
        "–: undefined or not measured.",
        "",
    ]
    path.write_text("\n".join(head) + markdown_table(agg) + "\n" + "\n".join(notes))
    return path
