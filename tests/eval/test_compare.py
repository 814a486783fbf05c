"""``sideman eval compare A B``: the rows of two sweeps side by side, zero difference and no
flag for sweeps that agree, a constructed large difference flagged and a small one within the
song-to-song spread not; clear one-line errors.

Tiny: constructed click songs (conftest's ``click_songs``) and the click-track model, which
ignores its seed (so two seeds give the same numbers).
"""

from __future__ import annotations

import copy
import csv
import math
from dataclasses import replace
from pathlib import Path

import pytest

from sideman.cli.main import main
from sideman.eval.compare import HEADLINE, read_sweep, spread_test
from sideman.eval.compare import compare as compare_sweeps
from sideman.eval.report import SweepResults, read_song_json
from sideman.eval.sweep import SweepConfig, run_sweep
from sideman.server.testing import TinyClickTrack

SR = 22050


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory, click_songs) -> Path:
    """``a/`` and ``seed-1/``: the same sweep (3 songs, w -1 and 1) with seeds 0 and 1;
    ``shifted/`` and ``nudged/``: A's records with generated beat F1 moved per song, by
    about -0.5 and by ±0.1 around 0."""
    root = tmp_path_factory.mktemp("compare")
    data = click_songs(root / "clicks", 4, 3.0)
    config = SweepConfig(data=data, out=root / "a", model="clicktrack", rs=(0.25,),
                         ws=(-1, 1), songs=3, plots=False)
    for out, seed in (("a", 0), ("seed-1", 1)):
        run_sweep(replace(config, out=root / out, seed=seed),
                  generator=TinyClickTrack(period=SR // 2), progress=False)
    records, meta = read_song_json(root / "a" / "songs.json")
    for name, offsets in (("shifted", (-0.5, -0.45, -0.55)), ("nudged", (0.1, -0.1, 0.05))):
        results = SweepResults(meta={**meta, "model": name})
        for record in records:
            moved = copy.deepcopy(record)
            scores = moved.evaluation["metrics"]["generated"]
            scores["beat_f1_annotated"] += offsets[int(record.song[-1])]
            results.add(moved)
        results.write(root / name, plots=False)
    return root


def rows_of(root: Path, a: str, b: str) -> dict[tuple[int, str], object]:
    found = compare_sweeps(read_sweep(root / a), read_sweep(root / b))
    return {(d.w, d.metric): d for d in found}


def test_identical_sweeps_differ_by_zero_and_flag_nothing(sweeps: Path) -> None:
    rows = rows_of(sweeps, "a", "seed-1")
    assert len(rows) == 2 * len(HEADLINE)  # w -1 and 1, each headline metric
    for (_, metric), d in rows.items():
        if metric == "frechet":
            assert d.test == "pooled" and d.t is None
        else:
            assert d.test == "paired" and d.n == 3
        assert not d.exceeds
        assert d.diff is None or d.diff == 0.0, (metric, d)
    assert rows[(1, "beat_f1_true")].a == pytest.approx(1.0)


def test_a_large_difference_is_flagged_and_a_small_one_is_not(sweeps: Path) -> None:
    shifted = rows_of(sweeps, "a", "shifted")
    big = shifted[(1, "beat_f1_true")]
    assert big.diff == pytest.approx(-0.5) and big.t < -2 and big.exceeds
    assert shifted[(1, "gen_gt")].exceeds and shifted[(1, "listening")].exceeds
    for metric in ("onset_f1", "chroma"):  # untouched
        assert shifted[(1, metric)].diff == 0.0 and not shifted[(1, metric)].exceeds
    small = rows_of(sweeps, "a", "nudged")[(1, "beat_f1_true")]
    assert small.diff == pytest.approx(0.05 / 3) and abs(small.t) < 1 and not small.exceeds


def test_compare_command_writes_table_csv_and_plot(sweeps: Path, tmp_path: Path,
                                                   capsys) -> None:
    out = tmp_path / "cmp"
    assert main(["eval", "compare", str(sweeps / "a"), str(sweeps / "shifted"),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| drums | off | 0.25 | 1 | beat F1 vs true beats | 1.000 | 0.500 | -0.500 |" \
        in printed
    assert printed.count("**yes**") == 2 * 3  # both w: beat F1, listening, gen / GT
    with (out / "compare.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2 * len(HEADLINE)
    assert {(r["w"], r["metric"]) for r in table if r["exceeds_spread"] == "1"} == {
        (w, m) for w in ("-1", "1") for m in ("beat_f1_true", "listening", "gen_gt")}
    assert (out / "compare.md").read_text().startswith("# clicktrack (A) vs shifted (B)")
    assert (out / "compare.png").stat().st_size > 5000


def test_compare_errors_are_one_line(sweeps: Path, tmp_path: Path, capsys) -> None:
    def error(a: Path, b: Path) -> str:
        assert main(["eval", "compare", str(a), str(b)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sideman eval compare: error: ")
        return lines[0]

    assert "no songs.json, not a sweep's output" in error(sweeps / "a", tmp_path)
    records, meta = read_song_json(sweeps / "a" / "songs.json")
    other = SweepResults(meta=meta)
    for record in records:
        if record.w == 1:
            other.add(replace(record, stem="bass"))
    other.write(tmp_path / "bass", plots=False)
    assert "share no (stem, condition, r, w)" in error(sweeps / "a", tmp_path / "bass")


def test_spread_test_paired_unpaired_and_no_spread() -> None:
    se, t, n, test = spread_test({"x": 1.0, "y": 2.0, "z": 3.0}, {"x": 1.5, "y": 2.4, "z": 3.6})
    assert (n, test) == (3, "paired") and t == pytest.approx(0.5 / (0.1 / math.sqrt(3)))
    se, t, n, test = spread_test({"x": 1.0, "y": 2.0}, {"u": 2.0, "v": 3.0})
    assert (n, test) == (4, "unpaired") and se == pytest.approx(math.sqrt(0.5))
    assert t == pytest.approx(1 / math.sqrt(0.5))
    assert spread_test({"x": 1.0, "y": 1.0}, {"x": 2.0, "y": 2.0})[1] == math.inf
    assert spread_test({"x": 1.0, "y": 1.0}, {"x": 1.0, "y": 1.0})[1] == 0.0
    assert spread_test({"x": 1.0}, {"x": 2.0})[3] == "too few"
