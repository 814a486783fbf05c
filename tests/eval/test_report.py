"""Result schema, aggregates and the JSON / CSV / markdown / PNG writers."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from sideman.eval import metrics as M
from sideman.eval import plots
from sideman.eval import report as R


def evaluation(generated: dict[str, float | None], truth: float = 0.8, other: float = 0.2,
               span: tuple[float, float] = (6.0, 30.0),
               cross: dict[str, float | None] | None = None) -> dict:
    """An evaluate_stem-shaped dict with chosen values (every unlisted metric: 0.5);
    ``cross``: the listening control's values (``None``: no control entry)."""
    def entry(values: dict[str, float | None], default: float | None) -> dict:
        return {m: values.get(m, default) for m in M.METRICS}

    metrics = {"generated": entry(generated, 0.5), "ground_truth": entry({}, truth),
               "silence": entry({}, 0.0), "other_song": entry({}, other)}
    if cross is not None:
        metrics["other_generated"] = entry(cross, 0.5)
    return {
        "span": list(span), "tracker": "dsp", "skip_seconds": 0.0, "metrics": metrics,
        "events": {"beats": {"generated": 40, "ground_truth": 41, "silence": 0,
                             "other_song": 30, "context": 41, "annotated": None}},
    }


def record(song: str, w: int, beat: float | None, *, r: float = 0.25, stem: str = "drums",
           condition: str = "default", hop: float = 1.486, misses: int = 0,
           cross: dict[str, float | None] | None = None,
           sensitivity: dict[str, float | None] | None = None,
           seed: int | None = None) -> R.SongRecord:
    return R.SongRecord(song=song, stem=stem, r=r, w=w, hop_seconds=hop,
                        evaluation=evaluation({"beat_f1_context": beat}, cross=cross),
                        condition=condition,
                        counts={"steps": 20, "misses": misses, "lost_samples": 0},
                        seed=seed, sensitivity=sensitivity)


def sample_records() -> list[R.SongRecord]:
    return [
        record("s1", -1, 0.8), record("s2", -1, 0.7),
        record("s1", 1, 0.6, misses=2), record("s2", 1, None), record("s3", 1, 0.7),
        record("s1", 1, 0.5, r=0.125, hop=0.743),
        record("s1", 0, 0.75, stem="bass", condition="beat_grid"),
    ]


def test_song_record_round_trips_and_checks_its_fields() -> None:
    rec = record("song 1", 1, 0.6, cross={"beat_f1_context": 0.3}, seed=12345,
                 sensitivity={"context_change_db": 2.0, "seed_change_db": 4.0,
                              "sensitivity": 0.5})
    data = rec.to_dict()
    assert data["schema"] == R.SCHEMA_VERSION == 2
    assert data["lookahead_seconds"] == pytest.approx(1.486)
    assert set(data) == {"schema", "song", "stem", "condition", "r", "w", "hop_seconds",
                         "lookahead_seconds", "span", "tracker", "skip_seconds", "seed",
                         "counts", "metrics", "events", "sensitivity"}
    assert data["seed"] == 12345 and data["sensitivity"]["sensitivity"] == 0.5
    assert R.SongRecord.from_dict(json.loads(json.dumps(data))).to_dict() == data
    assert rec.listening()["beat_f1_context"] == pytest.approx(2.0)
    assert rec.listening()["onset_f1_stem"] == pytest.approx(1.0)  # 0.5 / 0.5
    assert record("s", 1, 0.6).listening()["beat_f1_context"] is None  # no control run
    with pytest.raises(R.MetricError, match="schema"):
        R.SongRecord.from_dict({**data, "schema": 1})
    with pytest.raises(R.MetricError, match="sensitivity must have"):
        record("s", 1, 0.5, sensitivity={"sensitivity": 1.0})
    with pytest.raises(R.MetricError, match="w must be"):
        record("s", -2, 0.5)
    with pytest.raises(R.MetricError, match="r must be"):
        record("s", 0, 0.5, r=1.5)
    with pytest.raises(R.MetricError, match="evaluate_stem"):
        R.SongRecord("s", "drums", 0.25, 1, 1.0, evaluation={"metrics": {}})
    with pytest.raises(R.MetricError, match="must be a number"):
        R.SongRecord("s", "drums", 0.25, 1, 1.0, evaluation({}),
                     counts={"misses": "two"})


def test_aggregate_means_ratios_counts_and_undefined_values() -> None:
    agg = R.aggregate_records(sample_records(), meta={"tracker": "dsp"})
    assert agg["schema"] == 2 and agg["meta"] == {"tracker": "dsp"}
    keys = [(c["stem"], c["condition"], c["r"], c["w"]) for c in agg["conditions"]]
    assert keys == [("bass", "beat_grid", 0.25, 0), ("drums", "default", 0.125, 1),
                    ("drums", "default", 0.25, -1), ("drums", "default", 0.25, 1)]
    live = agg["conditions"][3]
    assert live["n_songs"] == 3 and live["songs"] == ["s1", "s2", "s3"]
    assert live["lookahead_seconds"] == pytest.approx(1.486)
    beat = live["metrics"]["generated"]["beat_f1_context"]
    assert beat["n"] == 2  # s2's undefined value is left out, not counted as 0
    assert beat["mean"] == pytest.approx(0.65)
    assert beat["std"] == pytest.approx(np.std([0.6, 0.7], ddof=1))
    assert live["metrics"]["ground_truth"]["beat_f1_context"]["mean"] == pytest.approx(0.8)
    assert live["ratio_to_ground_truth"]["beat_f1_context"] == pytest.approx(0.65 / 0.8)
    assert live["metrics"]["silence"]["onset_f1_stem"] == {"mean": 0.0, "std": 0.0, "n": 3}
    assert live["counts"] == {"lost_samples": 0, "misses": 2, "steps": 60}
    single = agg["conditions"][1]
    assert single["metrics"]["generated"]["beat_f1_context"]["std"] is None  # one song
    assert single["frechet"] == {"generated": None, "other_generated": None, "silence": None,
                                 "other_song": None}
    # No listening control in these records: no ratio, and no sensitivity either.
    assert set(live["listening"].values()) == {None}
    assert live["listening_ceiling"]["beat_f1_context"] == pytest.approx(0.8 / 0.2)
    assert live["sensitivity"]["sensitivity"]["n"] == 0
    assert live["sensitivity"]["ratio_of_means"] is None


def test_listening_is_own_over_cross_mean_and_the_sensitivity_is_pooled() -> None:
    """listening = mean(generated) / mean(generated for the other song), per metric (a ratio
    of means: one song whose control scores 0 does not make it infinite)."""
    def sens(context: float, seed: float) -> dict[str, float | None]:
        return {"context_change_db": context, "seed_change_db": seed,
                "sensitivity": context / seed}

    records = [record("a", 1, 0.9, cross={"beat_f1_context": 0.3}, sensitivity=sens(6, 3)),
               record("b", 1, 0.7, cross={"beat_f1_context": 0.0}, sensitivity=sens(2, 4)),
               record("c", 1, 0.5, cross={"beat_f1_context": 0.3}, sensitivity=sens(1, 2))]
    c = R.aggregate_records(records)["conditions"][0]
    assert c["metrics"]["other_generated"]["beat_f1_context"]["mean"] == pytest.approx(0.2)
    assert c["listening"]["beat_f1_context"] == pytest.approx(0.7 / 0.2)
    assert c["listening"]["chroma_stem"] == pytest.approx(1.0)  # 0.5 everywhere
    assert c["listening_ceiling"]["beat_f1_context"] == pytest.approx(4.0)
    assert c["sensitivity"]["context_change_db"]["mean"] == pytest.approx(3.0)
    assert c["sensitivity"]["ratio_of_means"] == pytest.approx(1.0)
    assert c["sensitivity"]["sensitivity"]["mean"] == pytest.approx((2 + 0.5 + 0.5) / 3)
    # a deaf model: its control scores what it scores itself
    deaf = [record(s, 1, v, cross={"beat_f1_context": v}) for s, v in (("a", .4), ("b", .6))]
    assert R.aggregate_records(deaf)["conditions"][0]["listening"]["beat_f1_context"] == 1.0


def test_aggregate_refuses_inconsistent_groups() -> None:
    with pytest.raises(R.MetricError, match="hop_seconds"):
        R.aggregate_records([record("a", 1, 0.5), record("b", 1, 0.5, hop=1.0)])
    with pytest.raises(R.MetricError, match="duplicate songs"):
        R.aggregate_records([record("a", 1, 0.5), record("a", 1, 0.4)])
    results = R.SweepResults()
    results.add(record("a", 1, 0.5))
    with pytest.raises(R.MetricError, match="already recorded"):
        results.add(record("a", 1, 0.4))
    with pytest.raises(R.MetricError, match="unknown embedding entry"):
        results.add(record("b", 1, 0.4), {"mixture": np.zeros((3, 4))})


def test_frechet_is_pooled_per_condition() -> None:
    rng = np.random.default_rng(0)
    results = R.SweepResults()
    for i in range(4):
        truth = rng.standard_normal((30, 5))
        results.add(record(f"s{i}", 1, 0.5), {
            "generated": truth + 0.01 * rng.standard_normal((30, 5)),
            "ground_truth": truth,
            "silence": np.full((30, 5), -10.0),
            "other_song": rng.standard_normal((30, 5)) * 3 + 2,
        })
    condition = results.aggregate()["conditions"][0]
    assert condition["frechet_windows"] == {"generated": 120, "ground_truth": 120,
                                            "silence": 120, "other_song": 120}
    fd = condition["frechet"]
    assert fd["generated"] < 0.01
    assert fd["other_song"] > 10 * max(fd["generated"], 1e-6)
    assert fd["silence"] > fd["other_song"]


def test_writers_round_trip(tmp_path) -> None:
    results = R.SweepResults(meta={"model": "test", "tracker": "dsp"})
    for rec in sample_records():
        results.add(rec)
    paths = results.write(tmp_path, plots=False)
    assert {p.name for p in paths.values()} == {"songs.json", "aggregate.json", "songs.csv",
                                                "aggregate.csv", "summary.md"}
    records, meta = R.read_song_json(tmp_path / "songs.json")
    assert meta == {"model": "test", "tracker": "dsp"}
    assert [r.to_dict() for r in records] == [r.to_dict() for r in results.records]
    assert R.read_aggregate_json(tmp_path / "aggregate.json") == json.loads(
        json.dumps(results.aggregate()))
    assert "NaN" not in (tmp_path / "songs.json").read_text()

    with (tmp_path / "songs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(sample_records())
    assert list(rows[0]) == R.song_csv_columns(results.records)
    assert list(rows[0])[: len(R.SONG_CSV_LEADING)] == list(R.SONG_CSV_LEADING)
    for entry in M.ENTRIES:
        for metric in M.METRICS:
            assert f"{entry}.{metric}" in rows[0]
    assert {"counts.steps", "counts.misses", "counts.lost_samples",
            "events.beats.context"} <= set(rows[0])
    s2_live = next(r for r in rows if r["song"] == "s2" and r["w"] == "1")
    assert s2_live["generated.beat_f1_context"] == ""  # undefined stays empty, not 0
    assert float(rows[0]["generated.beat_f1_context"]) == pytest.approx(0.8)

    with (tmp_path / "aggregate.csv").open() as f:
        agg_rows = list(csv.DictReader(f))
    assert list(agg_rows[0]) == list(R.AGGREGATE_CSV_COLUMNS)
    n_conditions = 4
    entries = len(M.ENTRIES) - 1  # no listening control in these records
    assert len(agg_rows) == n_conditions * (entries * len(M.METRICS) + len(R.FRECHET_ENTRIES)
                                            + len(R.SENSITIVITY_KEYS))
    live = [r for r in agg_rows if r["stem"] == "drums" and r["r"] == "0.25" and r["w"] == "1"]
    gen = next(r for r in live if r["entry"] == "generated" and r["metric"] == "beat_f1_context")
    assert float(gen["mean"]) == pytest.approx(0.65) and gen["n"] == "2"
    assert float(gen["ratio_to_ground_truth"]) == pytest.approx(0.8125)
    assert gen["listening"] == ""  # no control
    truth = next(r for r in live if r["entry"] == "ground_truth"
                 and r["metric"] == "beat_f1_context")
    assert float(truth["listening"]) == pytest.approx(4.0)  # the ceiling: 0.8 / 0.2

    table = (tmp_path / "summary.md").read_text().splitlines()
    rows_md = [line for line in table if line.startswith("| ") and "---" not in line]
    assert len(rows_md) == 1 + n_conditions  # header + one row per condition
    header = [c.strip() for c in rows_md[0].strip("|").split("|")]
    assert header == [h for h, _ in R.MARKDOWN_COLUMNS]
    live_md = next(r for r in rows_md if "| drums | default | 0.25 | 1 |" in r)
    cells = [c.strip() for c in live_md.strip("|").split("|")]
    assert cells[header.index("beat F1 ctx (paper): generated")] == "0.650"
    assert cells[header.index("beat F1 true: generated")] == "0.500 ± 0.000"
    assert cells[header.index("**listening**")] == "**–**"
    assert cells[header.index("gen/GT")] == f"{0.5 / 0.8:.2f}"  # against the true beats
    assert cells[header.index("misses")] == "2"


def test_reading_another_schema_fails(tmp_path) -> None:
    path = tmp_path / "aggregate.json"
    path.write_text(json.dumps({"schema": 99, "conditions": []}))
    with pytest.raises(R.MetricError, match="schema 99"):
        R.read_aggregate_json(path)


def test_plots_are_written_for_metrics_with_data(tmp_path) -> None:
    results = R.SweepResults()
    for rec in sample_records():
        rec.evaluation["metrics"]["generated"]["beat_f1_annotated"] = None
        results.add(rec)
    agg = results.aggregate()
    paths = plots.plot_all(agg, tmp_path)
    names = {p.name for p in paths}
    assert "beat_f1_context.png" in names and "all_metrics.png" in names
    assert "beat_f1_annotated.png" not in names  # no data, no empty plot
    assert "frechet.png" not in names  # no embeddings were pooled
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    with pytest.raises(ValueError, match="unknown metric"):
        plots.plot_metric(agg, "loudness", tmp_path / "x.png")
    assert plots.plot_all({"conditions": []}, tmp_path / "empty") == []


def test_end_to_end_from_audio(tmp_path) -> None:
    """evaluate_stem + embed_entries + SweepResults.write on two tiny constructed songs."""
    sr = 22050
    results = R.SweepResults(meta={"tracker": "dsp"})
    rng = np.random.default_rng(5)
    for song, bpm in (("a", 120.0), ("b", 100.0)):
        duration = 8.0
        beats = np.arange(0.25, duration - 0.05, 60.0 / bpm)
        truth = np.zeros(int(duration * sr), np.float32)
        for t in beats:
            i = round(t * sr)
            truth[i:i + 220] += rng.standard_normal(220).astype(np.float32) * 0.5
        for w, shift in ((-1, 0.0), (1, 0.2)):
            generated = np.roll(truth, round(shift * sr))
            ev = M.evaluate_stem(generated, truth, truth, sr, span=(2.0, 8.0), gt_beats=beats)
            emb = M.embed_entries(generated, truth, sr, span=(2.0, 8.0))
            results.add(R.SongRecord(song, "drums", 0.25, w, 1.486, ev,
                                     counts={"steps": 5, "misses": 0, "lost_samples": 0}), emb)
    paths = results.write(tmp_path)
    agg = R.read_aggregate_json(paths["aggregate_json"])
    by_w = {c["w"]: c for c in agg["conditions"]}
    assert by_w[-1]["metrics"]["generated"]["beat_f1_annotated"]["mean"] == 1.0
    assert by_w[1]["metrics"]["generated"]["beat_f1_annotated"]["mean"] == 0.0
    assert by_w[-1]["ratio_to_ground_truth"]["beat_f1_context"] == 1.0
    assert math.isclose(by_w[-1]["frechet"]["generated"], 0.0, abs_tol=1e-6)
    assert by_w[-1]["frechet"]["silence"] > 1.0
    assert (tmp_path / "plots" / "beat_f1_context.png").exists()
