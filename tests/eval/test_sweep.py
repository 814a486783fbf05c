"""``sideman eval sweep``: songs × stems × r × w × beat grid through the simulated live path.

End to end on tiny synthesized songs (every output file, the documented keys), the same audio
as a live client, a known answer with the click track on constructed songs, the rules for
choosing songs, references and the beat grid, and the listening control on constructed
models (one deaf, one that plays the truth).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sideman.cli import evaluate as eval_commands
from sideman.cli.main import build_parser, main
from sideman.client import ClientSettings, RunOptions, run_client
from sideman.eval.latency import Latency
from sideman.eval.metrics import ENTRIES, METRICS, fit_length
from sideman.eval.report import AGGREGATE_CSV_COLUMNS, SONG_CSV_LEADING, read_song_json
from sideman.eval.sweep import (
    COUNT_KEYS,
    SweepConfig,
    SweepError,
    _jobs,
    _worker_group,
    model_digest,
    other_songs,
    run_sweep,
    select_songs,
    song_seed,
    transport_updates,
)
from sideman.models.base import StepRequest, StepResult
from sideman.models.clicktrack import render_clicks
from sideman.models.testing import tiny_pipeline
from sideman.server.testing import TinyClickTrack, live_server
from sideman.training.datasets import Song, load_audio, mix_without, open_dataset
from sideman.training.synth.dataset import SynthOptions, synthesize

SR = 22050


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "synth"
    synthesize(out, SynthOptions(seed=4, songs=2, seconds=4.0, sample_rate=SR,
                                 split_fractions=(0.0, 0.0, 1.0)), progress=False)
    return out


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "tiny-grid"
    tiny_pipeline(uses_beat_grid=True).save_pretrained(out)
    return out


def test_sweep_command_end_to_end(synth_dir: Path, tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    code = main(["eval", "sweep", "--data", str(synth_dir), "--model", str(tiny_dir),
                 "--r", "0.25", "0.125", "--w", "-1", "1", "--stems", "drums",
                 "--beat-grid", "both", "--out", str(out), "--save-audio", "--no-progress"])
    assert code == 0
    names = {"songs.json", "aggregate.json", "songs.csv", "aggregate.csv", "summary.md",
             "table.md", "run.json"}
    assert names <= {p.name for p in out.iterdir()}
    assert (out / "plots" / "beat_f1_context.png").stat().st_size > 1000
    assert (out / "plots" / "all_metrics.png").is_file()
    assert (out / "plots" / "listening.png").stat().st_size > 1000
    pictures = sorted((out / "plots" / "spectrograms").glob("*.png"))
    assert len(pictures) == 2 * 2 * 2 * 2  # both songs (the default 2), every setting
    assert min(p.stat().st_size for p in pictures) > 10_000

    records, meta = read_song_json(out / "songs.json")
    assert len(records) == 2 * 2 * 2 * 2  # songs × r × w × beat-grid condition
    assert {(r.condition, r.r, r.w) for r in records} == {
        (c, r, w) for c in ("beat_grid", "no_grid") for r in (0.25, 0.125) for w in (-1, 1)}
    assert meta["model"] == "tiny" and meta["tracker"] == "dsp" and meta["mode"] == "fast"
    assert meta["span_start_seconds"] == pytest.approx(32 * 128 / 8000)
    raw = json.loads((out / "songs.json").read_text())["records"][0]
    assert set(raw) == {"schema", "song", "stem", "condition", "r", "w", "hop_seconds",
                        "lookahead_seconds", "span", "tracker", "skip_seconds", "seed",
                        "counts", "metrics", "events", "sensitivity"}
    assert set(raw["counts"]) == set(COUNT_KEYS)
    assert set(raw["metrics"]) == set(ENTRIES)
    # Each song has its own seed, derived from --seed and its id, and recorded.
    assert {r.song: r.seed for r in records} == {
        s: song_seed(0, s) for s in ("Track00000", "Track00001")}
    assert song_seed(0, "Track00000") != song_seed(0, "Track00001") != song_seed(1, "Track00001")
    for record in records:
        assert record.hop_seconds == pytest.approx(record.r * 32 * 128 / 8000)
        assert record.evaluation["span"] == [pytest.approx(0.512), pytest.approx(4.0)]
        counts = record.counts
        assert counts["steps_complete"] == counts["steps"] > 20
        assert counts["misses"] == counts["lost_samples"] == counts["lost_chunks"] == 0
        values = record.evaluation["metrics"]["generated"]
        assert set(values) == set(METRICS)
        assert values["beat_f1_context"] is not None
        sens = record.sensitivity
        assert sens is not None and sens["context_change_db"] > 0 and sens["seed_change_db"] > 0
    # A model with the beat-grid input really gets it: the two conditions differ.
    by_key = {(r.song, r.condition, r.r, r.w): r for r in records}
    audio = out / "audio"
    differs = 0
    for song in ("Track00000", "Track00001"):
        a, _ = sf.read(audio / song / "drums_beat_grid_r0.25_w1.wav", dtype="float32")
        b, _ = sf.read(audio / song / "drums_no_grid_r0.25_w1.wav", dtype="float32")
        differs += not np.allclose(a, b)
        assert by_key[(song, "beat_grid", 0.25, 1)].evaluation != \
            by_key[(song, "no_grid", 0.25, 1)].evaluation or np.allclose(a, b)
    assert differs == 2

    agg = json.loads((out / "aggregate.json").read_text())
    assert len(agg["conditions"]) == 8
    for c in agg["conditions"]:
        assert c["n_songs"] == 2 and c["counts"]["steps"] > 40
        assert set(c["ratio_to_ground_truth"]) == set(METRICS)
        assert set(c["listening"]) == set(c["listening_ceiling"]) == set(METRICS)
        assert c["listening"]["chroma_stem"] is not None
        assert c["sensitivity"]["ratio_of_means"] > 0
        assert c["frechet"]["other_generated"] is not None
        assert c["frechet"]["generated"] is not None
        # Both songs are scored, each the other's reference: no pooled other-song FD (it
        # would compare the ground-truth windows with themselves, shuffled).
        assert c["frechet"]["other_song"] is None and "other_song" not in c["frechet_windows"]
    with (out / "aggregate.csv").open() as f:
        assert tuple(next(csv.reader(f))) == AGGREGATE_CSV_COLUMNS
    with (out / "songs.csv").open() as f:
        header = next(csv.reader(f))
    assert tuple(header[:len(SONG_CSV_LEADING)]) == SONG_CSV_LEADING
    assert {f"counts.{k}" for k in COUNT_KEYS} <= set(header)

    run = json.loads((out / "run.json").read_text())
    assert run["song_settings"] == run["song_settings_simulated"] == 16
    assert run["spectrograms"] == [str(p) for p in pictures]
    assert run["songs"] == {"drums": ["Track00000", "Track00001"]}
    assert run["references"]["drums"] == {"Track00000": "Track00001",
                                          "Track00001": "Track00000"}
    timing = run["timing"]
    assert timing["model_steps"] > 0 and timing["steps_per_model_call"] > 1
    assert len(timing["load_average_before"]) == 3
    table = (out / "table.md").read_text()
    assert table.startswith("| stem | beat grid | r | w | look-ahead (s) | songs | beat F1 true")
    assert table.count("\n| drums |") == 8
    assert "Made with: `sideman eval sweep --data" in table and "--beat-grid both" in table

    # The audio the sweep scored is what a live client gets for the same song and settings,
    # and its listening control what the client gets for the other song's input.
    song, other = open_dataset(synth_dir)[1], open_dataset(synth_dir)[0]
    context = mix_without(song, "drums")
    # no_grid: no transport and the server's beat tracking off (TRACK_SETTING)
    settings = ClientSettings(stems=("drums",), r=0.125, w=-1, realtime=False,
                              seed=song_seed(0, song.id), track=False)
    with live_server(tiny_pipeline(uses_beat_grid=True)) as (_, address):
        live = run_client(context, SR, settings, address, options=RunOptions(fast=True,
                                                                              pings=0))
        swapped = run_client(fit_length(mix_without(other, "drums"), len(context)), SR,
                             settings, address, options=RunOptions(fast=True, pings=0))
    swept, rate = sf.read(audio / song.id / "drums_no_grid_r0.125_w-1.wav", dtype="float32")
    assert rate == SR and len(swept) == len(context)
    np.testing.assert_allclose(swept, live.writers["drums"].buffer, rtol=0, atol=2e-4)
    control, _ = sf.read(audio / song.id / "drums_no_grid_r0.125_w-1_other-input.wav",
                         dtype="float32")
    np.testing.assert_allclose(control, swapped.writers["drums"].buffer, rtol=0, atol=2e-4)
    assert not np.allclose(control, swept, atol=1e-3)  # the tiny model hears its input


def write_click_song(root: Path, index: int, seconds: float, period: int) -> None:
    """A constructed song: drums = unit impulses every ``period`` samples from 0, bass = a
    decaying tone on every beat, beats annotated on the impulses (4/4)."""
    track = root / f"Track{index:05d}"
    (track / "stems").mkdir(parents=True)
    n = round(seconds * SR)
    drums = np.zeros(n, np.float32)
    drums[::period] = 1.0
    t = np.arange(n) / SR
    phase = (np.arange(n) % period) / SR
    bass = (0.3 * np.exp(-phase * 8) * np.sin(2 * np.pi * (110 + 20 * index) * t)).astype(
        np.float32)
    silent = np.zeros(n, np.float32)
    stems = {"bass": bass, "drums": drums, "guitar": silent, "piano": silent}
    for name, audio in stems.items():
        sf.write(track / "stems" / f"{name}.wav", audio, SR, subtype="FLOAT")
    sf.write(track / "mix.wav", sum(stems.values()), SR, subtype="FLOAT")
    beats = [i * period / SR for i in range(-(-n // period))]
    meta = {"id": track.name, "index": index, "split": "test", "sample_rate": SR,
            "duration": seconds, "beats": beats, "downbeats": beats[::4],
            "tempo": 60 * SR / period, "meter": "4/4", "beats_per_bar": 4, "chords": [],
            "files": {"mix": "mix.wav", "stems": {s: f"stems/{s}.wav" for s in stems}}}
    (track / "metadata.json").write_text(json.dumps(meta))


def test_clicktrack_sweep_scores_its_known_answer(tmp_path: Path) -> None:
    period = SR // 2  # 120 bpm: the click track plays exactly the annotated beats
    data = tmp_path / "clicks"
    for i in range(2):
        write_click_song(data, i, 5.0, period)
    (data / "index.json").write_text(json.dumps({
        "format": "sideman-synth", "songs": [{"id": f"Track{i:05d}"} for i in range(2)]}))
    config = SweepConfig(data=data, out=tmp_path / "out", model="clicktrack", rs=(0.25,),
                         ws=(-1, 0, 1, 2), stems=("drums",), beat_grid="both", plots=False)
    run = run_sweep(config, generator=TinyClickTrack(period=period), progress=False)
    records = run.results.records
    assert len(records) == 2 * 4 * 2
    # No beat-grid input: the beat_grid rows are the no_grid runs, not run twice.
    assert run.info["song_settings_simulated"] == 8
    assert "no beat-grid input" in run.results.meta["beat_grid_note"]
    for record in records:
        m = record.evaluation["metrics"]
        assert m["generated"]["beat_f1_annotated"] == 1.0
        assert m["generated"]["onset_f1_stem"] == 1.0
        # The generated stem is the ground-truth stem in the span: same score, ratio 1.
        assert m["generated"]["beat_f1_context"] == m["ground_truth"]["beat_f1_context"]
        assert m["silence"]["beat_f1_annotated"] == 0.0
        assert record.counts["lost_samples"] == 0 and record.counts["misses"] == 0
        # The click track ignores its input and its seed: the control is the same stem.
        assert m["other_generated"] == m["generated"]
        assert record.sensitivity == {"context_change_db": 0.0, "seed_change_db": 0.0,
                                      "sensitivity": None}
    for c in run.results.aggregate()["conditions"]:
        assert c["ratio_to_ground_truth"]["beat_f1_context"] == pytest.approx(1.0)
        assert c["ratio_to_ground_truth"]["beat_f1_annotated"] == pytest.approx(1.0)
        assert c["listening"]["beat_f1_annotated"] == 1.0


def test_all_three_grid_conditions_reach_the_server_as_the_researcher_named_them(
        tmp_path: Path) -> None:
    """``--beat-grid all``: no_grid (tracking off), tracked (no transport, tracking on) and
    beat_grid (the host's transport). A model without the grid input runs once and is
    recorded under all three; a beat-grid model runs each with its own settings."""
    period = SR // 2
    data = tmp_path / "clicks"
    for i in range(2):
        write_click_song(data, i, 4.0, period)
    (data / "index.json").write_text(json.dumps({
        "format": "sideman-synth", "songs": [{"id": f"Track{i:05d}"} for i in range(2)]}))
    config = SweepConfig(data=data, out=tmp_path / "plain", model="clicktrack", rs=(0.25,),
                         stems=("drums",), beat_grid="all", plots=False, sensitivity=False)
    run = run_sweep(config, generator=TinyClickTrack(period=period), progress=False)
    assert sorted(r.condition for r in run.results.records) == \
        ["beat_grid", "beat_grid", "no_grid", "no_grid", "tracked", "tracked"]
    assert run.info["song_settings_simulated"] == 2
    assert "tracked and beat_grid results equal no_grid" in run.results.meta["beat_grid_note"]

    class GridClicks(TinyClickTrack):
        def __init__(self, **kw) -> None:
            super().__init__(**kw)
            self.info = replace(self.info, uses_beat_grid=True)
            self.seen: set[tuple[bool, bool]] = set()

        def generate(self, requests):
            self.seen.update((r.track_beats, r.transport is not None) for r in requests)
            return super().generate(requests)

    for condition, expect in (("off", {(False, False)}), ("tracked", {(True, False)}),
                              ("on", {(True, True)})):
        model = GridClicks(period=period)
        config = SweepConfig(data=data, out=tmp_path / condition, model="clicktrack",
                             rs=(0.25,), stems=("drums",), beat_grid=condition, plots=False,
                             sensitivity=False)
        run_sweep(config, generator=model, progress=False)
        # with the host's grid the track setting is the server's default (on); the first
        # steps come before the first transport message
        assert expect <= model.seen <= expect | {(True, False)}, (condition, model.seen)


def test_lossy_realtime_sweep_counts_what_was_lost(tmp_path: Path) -> None:
    period = SR // 2
    data = tmp_path / "clicks"
    write_click_song(data, 0, 4.0, period)
    (data / "index.json").write_text(json.dumps({"format": "sideman-synth",
                                                 "songs": [{"id": "Track00000"}]}))
    args = build_parser().parse_args([
        "eval", "sweep", "--data", str(data), "--out", str(tmp_path / "out"), "--model",
        "clicktrack", "--r", "0.25", "--w", "1", "--realtime", "--latency", "20",
        "--loss", "0.2", "--link-seed", "4", "--no-plots", "--save-audio"])
    config = eval_commands.config_from_args(args)
    assert config.latency == Latency(per_call=0.02) and config.up.loss == 0.2
    run = run_sweep(config, generator=TinyClickTrack(period=period), progress=False)
    (record,) = run.results.records
    counts = record.counts
    assert counts["lost_chunks"] > 0 and counts["lost_samples"] > 0
    assert counts["lost_in"] > 0  # audio lost on the way up: the watchdog ran those steps
    # What was lost plays as silence: the score drops exactly when a lost span held a click.
    audio, _ = sf.read(run.info["audio"][0], dtype="float32")
    start, end = (round(t * SR) for t in record.evaluation["span"])
    clicks = np.arange(-(-start // period) * period, end, period)
    missing = int(np.sum(audio[clicks] != 1.0))
    beat_f1 = record.evaluation["metrics"]["generated"]["beat_f1_annotated"]
    # (link seed 4 lost 3 of the 6 clicks when written; a protocol change that adds a
    # datagram shifts the seeded losses, and the equivalence still holds)
    assert (beat_f1 < 1.0) == (missing > 0), (missing, beat_f1)
    assert run.results.meta["mode"] == "real time"
    assert "loss 0.2" in run.results.meta["link"]


def song(song_id: str, beats: list[float], downbeats: list[float],
         duration: float = 10.0) -> Song:
    return Song(id=song_id, root=Path("."), source="synth", sample_rate=1000,
                duration=duration, stems={}, mix=None, beats=np.array(beats),
                downbeats=np.array(downbeats), info={})


def test_transport_updates_follow_the_annotated_beats() -> None:
    # A pickup beat, then 4/4 bars at 120 bpm, speeding up to 150 bpm for the last beats.
    beats = [0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.25, 3.65, 4.05]
    s = song("a", beats, [0.75, 2.75])
    updates = transport_updates(s, rate=1000)
    assert [u.at for u in updates] == [0, 750, 1250, 1750, 2250, 2750, 3250, 3650, 4050]
    assert [u.beat_position for u in updates] == [round(b * 1000) for b in beats]
    assert [u.beat_in_bar for u in updates] == [3, 0, 1, 2, 3, 0, 1, 2, 3]
    assert {u.beats_per_bar for u in updates} == {4}
    assert [round(u.bpm, 3) for u in updates] == [120.0] * 6 + [150.0] * 3
    with pytest.raises(SweepError, match="no beat annotations"):
        transport_updates(song("b", [], []), rate=1000)


def test_songs_and_references_are_chosen_by_rule(synth_dir: Path, tmp_path: Path) -> None:
    songs = open_dataset(synth_dir)
    chosen, skipped = select_songs(songs, "drums", 0.5, 1, include_silent=False)
    assert [s.id for s in chosen] == ["Track00000"] and skipped == {}
    # A song not scored itself is the preferred reference; else the next scored song.
    assert [o.id for o in other_songs(songs, chosen, "drums", 0.5, False)] == ["Track00001"]
    both, _ = select_songs(songs, "drums", 0.5, None, include_silent=False)
    assert [o.id for o in other_songs(songs, both, "drums", 0.5, False)] == \
        ["Track00001", "Track00000"]
    assert other_songs(songs[:1], songs[:1], "drums", 0.5, False) == [None]
    chosen, skipped = select_songs(songs, "drums", 4.5, None, include_silent=False)
    assert chosen == [] and "nothing after the span start" in skipped["Track00000"]


def test_bad_sweeps_are_refused_with_what_is_allowed(synth_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="beat_grid must be one of off, on, both"):
        SweepConfig(data=synth_dir, out=tmp_path, beat_grid="maybe")
    with pytest.raises(SweepError, match="only matters under real-time"):
        SweepConfig(data=synth_dir, out=tmp_path, latency=Latency(per_call=0.1))
    with pytest.raises(SweepError, match="stems must be some of bass, drums, guitar, piano"):
        SweepConfig(data=synth_dir, out=tmp_path, stems=("kazoo",))
    config = SweepConfig(data=synth_dir, out=tmp_path, rs=(0.5,), ws=(0, 1))
    with pytest.raises(SweepError, match=r"r=0.5 w=1 leave no known context"):
        run_sweep(config, generator=tiny_pipeline(), progress=False)
    config = SweepConfig(data=synth_dir, out=tmp_path, song_ids=("Track09999",))
    with pytest.raises(SweepError, match="songs not in"):
        run_sweep(config, generator=tiny_pipeline(), progress=False)
    assert main(["eval", "sweep", "--data", str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "o"), "--model", "clicktrack"]) == 2


def test_every_sweep_option_is_documented() -> None:
    parser = build_parser()
    sweep = parser._subparsers._group_actions[0].choices["eval"]._subparsers \
        ._group_actions[0].choices["sweep"]
    options = [a for a in sweep._actions if a.option_strings and a.dest != "help"]
    assert len(options) > 30
    for action in options:
        assert action.help and len(action.help) > 10, action.option_strings
    text = sweep.format_help()
    for action in options:
        assert action.option_strings[0] in text


def test_the_recorded_command_reproduces_the_configuration(tmp_path: Path) -> None:
    argv = ["eval", "sweep", "--data", "d", "--out", "o", "--r", "0.25", "0.125", "--w", "-1",
            "0", "--stems", "drums", "bass", "--beat-grid", "both", "--realtime",
            "--latency", "30", "--latency-jitter", "5", "--loss", "0.1", "--song", "T1",
            "--song", "T2", "--threads", "2"]
    args = build_parser().parse_args(argv)
    line = eval_commands.command_line(args)
    assert line.startswith("sideman eval sweep --data d ")
    again = build_parser().parse_args(line.split()[1:])
    assert eval_commands.config_from_args(again) == eval_commands.config_from_args(args)
    assert "--model" not in line and "--split" not in line  # defaults are left out


def click_data(root: Path, songs: int, seconds: float) -> Path:
    for i in range(songs):
        write_click_song(root, i, seconds, SR // 2)
    (root / "index.json").write_text(json.dumps({
        "format": "sideman-synth", "songs": [{"id": f"Track{i:05d}"} for i in range(songs)]}))
    return root


def test_an_interrupted_sweep_continues_from_its_checkpoint(tmp_path: Path) -> None:
    data = click_data(tmp_path / "clicks", 2, 4.0)
    out = tmp_path / "out"
    base = SweepConfig(data=data, out=out, model="clicktrack", rs=(0.25,), ws=(-1, 1),
                       beat_grid="both", plots=False)
    first = run_sweep(base, generator=TinyClickTrack(period=SR // 2), progress=False)
    lines = (out / "cells.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["sweep_checkpoint"] == 1
    assert len(lines) == 1 + 2 * 2 * 2  # header + songs × w × condition
    # Killed while appending: a torn last line, and the song-setting it held runs again.
    (out / "cells.jsonl").write_text("\n".join([*lines[:-1], lines[-1][:40]]) + "\n")
    more = replace(base, ws=(-1, 0, 1))
    second = run_sweep(more, generator=TinyClickTrack(period=SR // 2), progress=False)
    assert second.info["song_settings"] == 12
    assert second.info["song_settings_resumed"] == 7
    # w = 0 for both songs, plus the torn one (its no_grid twin runs with it, once).
    assert second.info["song_settings_simulated"] == 3
    kept = {(r.song, r.condition, r.w): r for r in second.results.records}
    for record in first.results.records:
        again = kept[(record.song, record.condition, record.w)]
        assert again.evaluation == record.evaluation and again.counts == record.counts
    assert first.results.aggregate()["conditions"][0]["frechet"] == \
        second.results.aggregate()["conditions"][0]["frechet"]
    # Settings that change the output refuse the checkpoint; fresh starts again.
    with pytest.raises(SweepError, match=r"other settings \(seed: 0 then, 1 now\)"):
        run_sweep(replace(more, seed=1), generator=TinyClickTrack(period=SR // 2),
                  progress=False)
    third = run_sweep(replace(more, seed=1, resume=False),
                      generator=TinyClickTrack(period=SR // 2), progress=False)
    assert third.info["song_settings_resumed"] == 0
    assert third.info["song_settings_simulated"] == 6


def test_resume_refuses_cells_of_another_model(tmp_path: Path) -> None:
    data = click_data(tmp_path / "clicks", 1, 4.0)
    config = SweepConfig(data=data, out=tmp_path / "out", model="clicktrack", rs=(0.25,),
                         ws=(1,), beat_grid="off", plots=False)
    first = run_sweep(config, generator=TinyClickTrack(period=SR // 2), progress=False)
    digest = json.loads((tmp_path / "out" / "run.json").read_text())["model"]["digest"]
    assert digest == model_digest(TinyClickTrack(period=SR // 2)) == first.info["model"]["digest"]
    # The same name, another output (here: another click period; for a pipeline: new weights).
    with pytest.raises(SweepError, match=r"other settings \(model_digest: "):
        run_sweep(config, generator=TinyClickTrack(period=SR // 4), progress=False)
    again = run_sweep(config, generator=TinyClickTrack(period=SR // 2), progress=False)
    assert again.info["song_settings_resumed"] == 1


def test_model_digest_follows_the_weights() -> None:
    a, b, c = tiny_pipeline(seed=0), tiny_pipeline(seed=0), tiny_pipeline(seed=1)
    assert model_digest(a) == model_digest(b) != model_digest(c)
    with torch.no_grad():
        next(iter(b.denoiser.parameters())).view(-1)[0] += 1e-3
    assert model_digest(b) != model_digest(a)


def test_resume_reruns_a_song_whose_reference_changed(tmp_path: Path) -> None:
    data = click_data(tmp_path / "clicks", 3, 4.0)
    config = SweepConfig(data=data, out=tmp_path / "out", model="clicktrack", rs=(0.25,),
                         ws=(1,), songs=1, plots=False)

    def run(**changes):
        return run_sweep(replace(config, **changes), generator=TinyClickTrack(period=SR // 2),
                         progress=False).info

    assert run()["references"]["drums"] == {"Track00000": "Track00001"}
    # A second song: Track00001 is scored now, so Track00000's reference is Track00002 and
    # its finished cell (scored against Track00001) is not reused.
    info = run(songs=2)
    assert info["references"]["drums"] == {"Track00000": "Track00002",
                                           "Track00001": "Track00002"}
    assert info["song_settings_resumed"] == 0 and info["song_settings_simulated"] == 2
    info = run(songs=2)
    assert info["song_settings_resumed"] == 2 and info["song_settings_simulated"] == 0


def test_excerpts_stream_and_score_the_first_seconds(tmp_path: Path) -> None:
    data = click_data(tmp_path / "clicks", 1, 6.0)
    config = SweepConfig(data=data, out=tmp_path / "out", model="clicktrack", rs=(0.25,),
                         ws=(1,), seconds=3.5, plots=False, save_audio=True)
    run = run_sweep(config, generator=TinyClickTrack(period=SR // 2), progress=False)
    (record,) = run.results.records
    assert record.evaluation["span"] == [pytest.approx(16384 / SR), 3.5]
    assert run.results.meta["excerpt_seconds"] == 3.5
    assert "to 3.5 s (excerpts)" in (tmp_path / "out" / "table.md").read_text()
    audio, _ = sf.read(run.info["audio"][0], dtype="float32")
    assert len(audio) == round(3.5 * SR)
    assert record.evaluation["metrics"]["generated"]["beat_f1_annotated"] == 1.0
    assert record.evaluation["events"]["beats"]["annotated"] == 5  # 1.0, 1.5, ..., 3.0
    with pytest.raises(SweepError, match="must be more than the span start"):
        run_sweep(replace(config, seconds=0.5), generator=TinyClickTrack(period=SR // 2),
                  progress=False)


def test_a_worker_loads_its_own_model_and_gives_the_same_results(tmp_path: Path) -> None:
    # What each --jobs worker process runs, here in this process (spawning workers that
    # import torch takes longer than a unit test should; the demonstration sweep in the
    # report ran --jobs 2).
    data = click_data(tmp_path / "clicks", 1, 5.0)
    # The registry's click track (what a worker loads) has a 12 s window: short hops.
    config = SweepConfig(data=data, out=tmp_path / "one", model="clicktrack", rs=(0.125,),
                         ws=(0, 1), plots=False, click_period=SR // 2, span_start=1.0)
    records = run_sweep(config, progress=False).results.records
    jobs, _ = _jobs(config, open_dataset(data), 1.0)
    group = _worker_group(config, jobs, alias=())
    assert [c.label for c in group.cells] == ["Track00000/drums/no_grid/r0.125/w0",
                                              "Track00000/drums/no_grid/r0.125/w1"]
    assert [c.record.evaluation for c in group.cells] == [r.evaluation for r in records]
    assert group.stats["model_calls"] > 0
    with pytest.raises(SweepError, match="use jobs=1"):
        run_sweep(replace(config, jobs=2), generator=TinyClickTrack(), progress=False)


def test_the_other_song_fd_uses_only_songs_not_scored(tmp_path: Path) -> None:
    data = click_data(tmp_path / "clicks", 3, 4.0)
    songs = open_dataset(data)
    for count, scored_refs in ((2, False), (None, True)):
        config = SweepConfig(data=data, out=tmp_path / f"out{count}", model="clicktrack",
                             rs=(0.25,), ws=(1,), songs=count, plots=False)
        jobs, _ = _jobs(config, songs, 0.5)
        assert {j.other_scored for j in jobs} == {scored_refs}
        run = run_sweep(config, generator=TinyClickTrack(period=SR // 2), progress=False)
        (c,) = run.results.aggregate()["conditions"]
        if scored_refs:
            assert c["frechet"]["other_song"] is None
        else:  # Track00002 is the reference of both, and is not scored
            assert {j.other.id for j in jobs} == {"Track00002"}
            assert c["frechet"]["other_song"] is not None
            assert c["frechet_windows"]["other_song"] == c["frechet_windows"]["ground_truth"]


# -- the listening control tells a model that listens from one that does not --------------
# Two constructed models on constructed songs of different tempi: one that ignores its input
# (a seeded pattern: its output depends on the seed only) must score listening 1 and
# sensitivity 0; one that plays the ground truth of whatever song it hears must score
# listening far above 1 and a sensitivity above 1.

#: Beat periods of the constructed songs (samples at SR): 120, 150 and 100 bpm.
PERIODS = (SR // 2, SR * 2 // 5, SR * 3 // 5)


class SeededPattern(TinyClickTrack):
    """Deaf: clicks every ``period`` samples at a phase chosen by the seed; never looks at the
    mixture."""

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        results = []
        for request in requests:
            request.validate(self.info)
            phase = request.seed % self.period
            length = request.xfade + request.geometry.hop_samples
            clicks = render_clicks(request.output_start - phase, length, self.period)
            results.append(StepResult(start=request.output_start,
                                      audio={s: clicks.copy() for s in request.stems},
                                      num_steps=request.num_steps))
        return results


class Oracle(TinyClickTrack):
    """A perfect listener: recognises the song from the known part of its input and plays
    that song's ground-truth stem (scaled a little by the seed, so the seed changes
    something)."""

    def __init__(self, songs: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]]) -> None:
        super().__init__()
        self.songs = songs  # id -> (context, {stem: truth})

    def _recognise(self, request: StepRequest) -> str:
        start = request.geometry.window(request.step)[0]
        known = request.geometry.step_position(request.step) - start

        def distance(context: np.ndarray) -> float:
            lo = max(0, -start)
            ref = np.zeros(known, np.float32)
            seg = context[max(0, start):start + known]
            ref[lo:lo + seg.size] = seg[: known - lo]
            return float(np.abs(request.mixture[:known] - ref).sum())

        return min(self.songs, key=lambda song: distance(self.songs[song][0]))

    def generate(self, requests: Sequence[StepRequest]) -> list[StepResult]:
        results = []
        for request in requests:
            request.validate(self.info)
            _, truths = self.songs[self._recognise(request)]
            length = request.xfade + request.geometry.hop_samples
            gain = 0.8 + 0.2 * (request.seed % 1000) / 1000
            audio = {}
            for stem in request.stems:
                out = np.zeros(length, np.float32)
                lo, hi = max(0, request.output_start), request.output_start + length
                seg = truths[stem][lo:hi]
                out[lo - request.output_start:lo - request.output_start + seg.size] = seg
                audio[stem] = gain * out
            results.append(StepResult(start=request.output_start, audio=audio,
                                      num_steps=request.num_steps))
        return results


@pytest.fixture(scope="module")
def songs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tempi")
    for i, period in enumerate(PERIODS):
        write_click_song(root, i, 6.0, period)
    (root / "index.json").write_text(json.dumps({
        "format": "sideman-synth", "songs": [{"id": f"Track{i:05d}"}
                                             for i in range(len(PERIODS))]}))
    return root


def _sweep(data: Path, out: Path, generator) -> dict:
    config = SweepConfig(data=data, out=out, model="constructed", rs=(0.25,), ws=(1,),
                         stems=("drums",), beat_grid="off", plots=False)
    return run_sweep(config, generator=generator, progress=False).results.aggregate()


def test_a_model_that_ignores_its_input_scores_listening_one(songs_dir: Path,
                                                             tmp_path: Path) -> None:
    (c,) = _sweep(songs_dir, tmp_path / "deaf", SeededPattern(period=SR // 2))["conditions"]
    assert c["n_songs"] == 3
    for metric, value in c["listening"].items():
        assert value in (None, pytest.approx(1.0)), metric
    assert c["listening"]["beat_f1_annotated"] == pytest.approx(1.0)
    sens = c["sensitivity"]
    assert sens["context_change_db"]["mean"] == 0.0
    assert sens["seed_change_db"]["mean"] > 1.0  # songs' seeds put the clicks elsewhere
    assert sens["ratio_of_means"] == 0.0
    # ... while the real stems tell the songs apart: the ceiling is far above 1
    assert c["listening_ceiling"]["beat_f1_annotated"] > 1.5


def test_a_model_that_plays_the_truth_scores_listening_far_above_one(songs_dir: Path,
                                                                     tmp_path: Path) -> None:
    songs = {s.id: (mix_without(s, "drums"), {"drums": load_audio(s, "drums")})
             for s in open_dataset(songs_dir)}
    (c,) = _sweep(songs_dir, tmp_path / "oracle", Oracle(songs))["conditions"]
    gen = c["metrics"]["generated"]
    assert gen["beat_f1_annotated"]["mean"] == 1.0
    assert c["ratio_to_ground_truth"]["beat_f1_annotated"] == pytest.approx(1.0)
    assert c["listening"]["beat_f1_annotated"] > 1.5
    assert c["listening"]["beat_f1_annotated"] == pytest.approx(
        c["listening_ceiling"]["beat_f1_annotated"], rel=0.35)
    assert c["listening"]["onset_f1_stem"] > 1.5
    assert c["sensitivity"]["ratio_of_means"] > 2.0


def test_more_songs_than_the_split_can_score_is_an_error(tmp_path: Path) -> None:
    data = click_data(tmp_path / "clicks", 2, 4.0)
    config = SweepConfig(data=data, out=tmp_path / "out", model="clicktrack", rs=(0.25,),
                         ws=(1,), songs=3, plots=False)
    with pytest.raises(SweepError, match=r"3 songs asked for \(--songs\) but 2 of the 2 songs "
                                         r".*ask for --songs 2 or fewer"):
        run_sweep(config, generator=TinyClickTrack(period=SR // 2), progress=False)


def test_list_options_take_spaces_or_commas() -> None:
    spaced = build_parser().parse_args(["eval", "sweep", "--data", "d", "--out", "o", "--r",
                                        "0.25", "0.125", "--w", "-1", "1", "--stems", "drums",
                                        "bass", "--beat-grid", "no_grid"])
    commas = build_parser().parse_args(["eval", "sweep", "--data", "d", "--out", "o", "--r",
                                        "0.25,0.125", "--w", "-1,1", "--stems", "drums,bass",
                                        "--beat-grid", "off", "--split", "test"])
    assert eval_commands.config_from_args(spaced) == eval_commands.config_from_args(commas)
    assert spaced.rs == [0.25, 0.125] and spaced.ws == [-1, 1]
    slakh = build_parser().parse_args(["eval", "sweep", "--data", "d", "--out", "o",
                                       "--split", "validation"])
    assert slakh.split == "valid"


def test_ctrl_c_in_a_sweep_says_where_the_finished_part_is(tmp_path: Path, monkeypatch,
                                                           capsys) -> None:
    import sideman.eval.sweep as sweep_module

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "run_sweep", interrupted)
    out = tmp_path / "o"
    code = main(["eval", "sweep", "--data", str(tmp_path), "--out", str(out), "--model",
                 "clicktrack"])
    assert code == 130
    err = capsys.readouterr().err.strip()
    assert err == (f"sideman eval sweep: interrupted; the song-settings finished so far are "
                   f"kept in {out / 'cells.jsonl'}: the same command continues from there")


def test_ctrl_c_mid_sweep_writes_what_finished_and_the_rerun_continues(tmp_path: Path,
                                                                     monkeypatch) -> None:
    import sideman.eval.sweep as sweep_module

    data = click_data(tmp_path / "clicks", 3, 4.0)
    config = SweepConfig(data=data, out=tmp_path / "out", model="clicktrack", rs=(0.25,),
                         ws=(1,), plots=False)
    real = sweep_module._run_group
    calls = []

    def stop_on_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_run_group", stop_on_the_second)
    run = run_sweep(config, generator=TinyClickTrack(period=SR // 2), progress=False)
    assert run.info["interrupted"] is True and run.info["song_settings"] == 1
    assert run.results.meta["interrupted"] == "1 of 3 song-settings"
    saved = json.loads((tmp_path / "out" / "songs.json").read_text())
    assert [r["song"] for r in saved["records"]] == ["Track00000"]
    monkeypatch.setattr(sweep_module, "_run_group", real)
    again = run_sweep(config, generator=TinyClickTrack(period=SR // 2), progress=False)
    assert again.info["interrupted"] is False
    assert again.info["song_settings_resumed"] == 1 and again.info["song_settings"] == 3
