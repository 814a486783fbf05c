"""``sideman eval sweep --shard I/N`` and ``sideman eval merge``: the shards of a sweep,
merged, write the same bytes as the sweep run whole; shards of different sweeps, a missing,
repeated or interrupted shard are refused with one error line.

Tiny: constructed click songs (conftest's ``click_songs``) and the click-track model.
"""

from __future__ import annotations

import filecmp
import json
from dataclasses import replace
from pathlib import Path

import pytest

from sideman.cli.evaluate import _shard, command_line, config_from_args
from sideman.cli.main import build_parser, main
from sideman.eval.merge import merge_shards, unsharded_command
from sideman.eval.sweep import SweepConfig, SweepError, _jobs, run_sweep, shard_jobs
from sideman.server.testing import TinyClickTrack
from sideman.training.datasets import open_dataset

SR = 22050


pytestmark = pytest.mark.usefixtures("one_thread")


def sweep(config: SweepConfig, **changes) -> dict:
    return run_sweep(replace(config, **changes), generator=TinyClickTrack(period=SR // 2),
                     progress=False).info


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory, click_songs) -> tuple[Path, SweepConfig]:
    """One sweep (3 songs × drums, bass; both beat-grid conditions) run whole into
    ``whole/``, and as shards 0/3 ... 2/3 into ``shard-I/``."""
    root = tmp_path_factory.mktemp("shards")
    data = click_songs(root / "clicks", 3, 3.0)
    config = SweepConfig(data=data, out=root / "whole", model="clicktrack", rs=(0.25,),
                         ws=(1,), stems=("drums", "bass"), beat_grid="both",
                         spectrograms=1, songs=2)
    sweep(config)
    for i in range(3):
        sweep(config, out=root / f"shard-{i}", shard=(i, 3))
    return root, config


def test_shards_merged_write_the_bytes_of_one_run(sweeps, capsys) -> None:
    root, config = sweeps
    whole = root / "whole"
    # Units (stem, song) in the sweep's order, every third to a shard: 4 units -> 2, 1, 1.
    held = [json.loads((root / f"shard-{i}" / "run.json").read_text())["shard"]["cells"]
            for i in range(3)]
    assert [len(h) for h in held] == [4, 2, 2]
    assert sorted(p for h in held for p, _ in h) == list(range(8))
    assert not (root / "shard-0" / "plots" / "listening.png").exists()  # the merge draws it
    assert {label.split("/")[1] for _, label in held[1]} == {"drums"}
    merged = root / "merged"
    shards = [str(root / f"shard-{i}") for i in (2, 0, 1)]  # any order
    assert main(["eval", "merge", *shards, "--out", str(merged)]) == 0
    assert "8 song-settings from 3 shards" in capsys.readouterr().out
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert {str(f) for f in files} >= {"songs.json", "aggregate.json", "songs.csv",
                                       "aggregate.csv", "summary.md", "table.md",
                                       "cells.jsonl", "plots/listening.png"}
    # first song of each stem, no_grid (the model has no beat-grid input: the beat_grid twin
    # reuses its output)
    assert sum(1 for f in files if f.parts[1:2] == ("spectrograms",)) == 2
    # run.json holds timing and the shards; cells.jsonl is a checkpoint, appended as cells
    # finish (a beat_grid twin right after its no_grid cell), read back by label: the same
    # lines. Everything else is the same, byte for byte.
    different = [str(f) for f in files if f.name not in ("run.json", "cells.jsonl")
                 and not filecmp.cmp(whole / f, merged / f, shallow=False)]
    assert different == []
    lines = [(d / "cells.jsonl").read_text().splitlines() for d in (whole, merged)]
    assert lines[0][0] == lines[1][0] and sorted(lines[0]) == sorted(lines[1])
    info = json.loads((merged / "run.json").read_text())
    one = json.loads((whole / "run.json").read_text())
    assert info["config"] == {**one["config"], "out": str(merged)}
    assert {k: info[k] for k in ("songs", "references", "skipped", "song_settings")} == \
        {k: one[k] for k in ("songs", "references", "skipped", "song_settings")}
    assert [s["index"] for s in info["shards"]] == [0, 1, 2]
    # The merge is a checkpoint of the whole sweep: run whole there, nothing runs again.
    again = sweep(config, out=merged, plots=False)
    assert again["song_settings_resumed"] == 8 and again["song_settings_simulated"] == 0


def test_merge_refuses_what_is_not_one_whole_sweep(sweeps, tmp_path: Path, capsys) -> None:
    root, config = sweeps
    shard = [str(root / f"shard-{i}") for i in range(3)]

    def error(*dirs: str) -> str:
        assert main(["eval", "merge", *dirs, "--out", str(tmp_path / "m")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sideman eval merge: error: ")
        return lines[0]

    assert "shard 1/3 missing" in error(shard[0], shard[2])
    assert "are both shard 0/3" in error(shard[0], shard[0], shard[1], shard[2])
    assert "was not made with --shard" in error(str(root / "whole"), shard[1])
    assert "no run.json" in error(str(tmp_path), shard[1])
    # Another seed or another model (by digest) is another sweep.
    sweep(config, out=tmp_path / "seed-1", shard=(1, 3), seed=1, plots=False)
    assert "seed: 0 vs 1" in error(shard[0], str(tmp_path / "seed-1"),
                                                    shard[2])
    run_sweep(replace(config, out=tmp_path / "other", shard=(1, 3), plots=False),
              generator=TinyClickTrack(period=SR // 4), progress=False)
    assert "model_digest" in error(shard[0], str(tmp_path / "other"), shard[2])
    # Shards of 2 and of 3.
    sweep(config, out=tmp_path / "two", shard=(1, 2), plots=False)
    assert "count: 3 vs 2" in error(shard[0], str(tmp_path / "two"), shard[2])
    with pytest.raises(SweepError, match="is one of the shards"):
        merge_shards([root / "shard-0"], root / "shard-0")


def test_an_interrupted_or_torn_shard_is_refused(sweeps, tmp_path: Path) -> None:
    root, _ = sweeps
    copy = tmp_path / "shard-1"
    copy.mkdir()
    for name in ("run.json", "cells.jsonl"):
        (copy / name).write_bytes((root / "shard-1" / name).read_bytes())
    dirs = [root / "shard-0", copy, root / "shard-2"]
    lines = (copy / "cells.jsonl").read_text().splitlines()
    (copy / "cells.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(SweepError, match=r"lacks 1 of its song-settings .*run its command"):
        merge_shards(dirs, tmp_path / "m")
    info = json.loads((copy / "run.json").read_text())
    (copy / "run.json").write_text(json.dumps({**info, "interrupted": True}))
    with pytest.raises(SweepError, match="was interrupted: run its command again"):
        merge_shards(dirs, tmp_path / "m")


def test_every_unit_is_in_exactly_one_shard(tmp_path: Path, click_songs) -> None:
    data = click_songs(tmp_path / "clicks", 3, 3.0)
    config = SweepConfig(data=data, out=tmp_path, rs=(0.25,), ws=(-1, 1),
                         stems=("drums", "bass"), beat_grid="both")
    jobs, _ = _jobs(config, open_dataset(data), 0.75)
    for count in (1, 2, 5, 7):
        shards = [shard_jobs(jobs, i, count) for i in range(count)]
        assert sorted(p for s in shards for p, _ in s) == list(range(len(jobs)))
        for s in shards:  # a (stem, song) never straddles two shards
            units = {(j.stem, j.song.id) for _, j in s}
            assert all((j.stem, j.song.id) not in units for o in shards if o is not s
                       for _, j in o)
    assert [len(s) for s in (shard_jobs(jobs, i, 7) for i in range(7))] == [4] * 6 + [0]


def test_an_empty_shard_runs_and_merges(tmp_path: Path, capsys, click_songs) -> None:
    data = click_songs(tmp_path / "clicks", 2, 3.0)
    config = SweepConfig(data=data, out=tmp_path / "whole", model="clicktrack", rs=(0.25,),
                         ws=(1,), plots=False, songs=1)
    sweep(config)
    for i in range(2):
        sweep(config, out=tmp_path / f"s{i}", shard=(i, 2))
    assert not (tmp_path / "s1" / "songs.json").exists()
    assert main(["eval", "merge", str(tmp_path / "s0"), str(tmp_path / "s1"), "--out",
                 str(tmp_path / "m")]) == 0
    capsys.readouterr()
    for name in ("songs.json", "aggregate.json", "summary.md", "table.md"):
        assert filecmp.cmp(tmp_path / "whole" / name, tmp_path / "m" / name, shallow=False)


def test_shard_option_and_the_unsharded_command() -> None:
    assert _shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(Exception, match="is not a shard"):
            _shard(bad)
    line = ("sideman eval sweep --data 'my data' --stems drums bass --out o/shard-3 "
            "--shard 3/8 --jobs 2")
    assert unsharded_command(line, Path("o/all")) == \
        "sideman eval sweep --data 'my data' --stems drums bass --out o/all --jobs 2"
    with pytest.raises(SweepError, match="shard must be I/N"):
        SweepConfig(data=Path("d"), out=Path("o"), shard=(3, 3))
    # The recorded command of a shard says --shard I/N and reproduces its configuration.
    args = build_parser().parse_args(["eval", "sweep", "--data", "d", "--out", "o",
                                      "--shard", "2/5"])
    line = command_line(args)
    assert line.endswith("--out o --shard 2/5")
    again = build_parser().parse_args(line.split()[1:])
    assert config_from_args(again) == config_from_args(args)
    assert config_from_args(again).shard == (2, 5)
