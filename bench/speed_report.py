"""``sideman bench`` output: ``bench.json``, ``bench.md`` and the plots.

* ``bench.json``: the result of :func:`~.speed.run_bench` as is (keys in docs/BENCH.md);
* ``bench.md``: the targets (met or missed, by how much), per-stage tables, speed-ups beside
  the reference paper's, sessions with and without batching, start-up and memory, where
  the time goes;
* ``latency_hist.png``: step-time histograms per (r, threads), teacher and distilled, with
  the hop and the 20 % budget marked; ``stages.png``: the p50 stage breakdown per
  configuration; ``sessions.png``: step time and slack against the number of sessions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .speed import STAGES, TARGET_STEP_FRACTION

STAGE_COLOURS = {"wait": "#9e9e9e", "encode": "#4c72b0", "sample": "#dd8452",
                 "decode": "#55a868", "send": "#c44e52"}
MODEL_COLOURS = {"teacher": "#8172b3", "consistency": "#dd8452"}


def write_report(result: Mapping[str, Any], out: Path) -> dict[str, Path]:
    """Write every output file into ``out``; returns them by kind."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "markdown": out / "bench.md",
             "histogram": out / "latency_hist.png", "stages": out / "stages.png",
             "sessions": out / "sessions.png"}
    paths["json"].write_text(json.dumps(result, indent=2) + "\n")
    paths["markdown"].write_text(markdown(result))
    plot_histograms(result, paths["histogram"])
    plot_stages(result, paths["stages"])
    plot_sessions(result, paths["sessions"])
    return paths


# -- text -----------------------------------------------------------------------------------
def _f(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value}{unit}"
    return f"{value:.{digits}f}{unit}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _role(row: Mapping[str, Any]) -> str:
    return "teacher" if row["model"] == "teacher" else "distilled"


def where_time_goes(row: Mapping[str, Any]) -> str:
    """One sentence: each stage's share of the median step."""
    ms = row["ms"]
    parts = [(stage, ms[stage]["p50"] or 0.0) for stage in STAGES]
    total = sum(v for _, v in parts) or 1.0
    parts.sort(key=lambda p: -p[1])
    return ", ".join(f"{stage} {value:.0f} ms ({100 * value / total:.0f} %)"
                     for stage, value in parts)


#: What a ``--tiny`` run says instead of targets and the paper's figures (they are about the
#: default model; a toy model's speed says nothing about them).
TOY_NOTE = ("Tiny random models (`--tiny`): this run checks that the benchmark works; the "
            "targets and the reference paper's figures are about the default model and are "
            "not compared.")


def is_toy(result: Mapping[str, Any]) -> bool:
    """A ``--tiny`` run: no targets or paper comparisons are reported."""
    return bool(result.get("options", {}).get("tiny"))


def markdown(result: Mapping[str, Any]) -> str:
    m = result["machine"]
    stages = result["stages"]
    models = stages["models"]
    lines = ["# sideman bench", ""]
    random = any(d["random_weights"] for d in models.values())
    lines += [
        f"Run {result['created']} in {result['duration_s']:.0f} s"
        + (f" with `{result['command']}`" if result.get("command") else "") + ".",
        "",
        f"- CPU: {m['cpu_model']}, {m['cpu_count']} cores "
        f"({m['cpu_affinity']} usable); torch {m['torch']} "
        f"(default threads {m['torch_threads_default']}); GPU: {m['gpu'] or 'none'}.",
        f"- Load average (1, 5, 15 min) before: {m['load_average_before']}, after: "
        f"{m['load_average_after']}. Other programs sharing the cores slow every figure "
        f"below; compare runs only at similar load.",
        f"- Input: {result['input']['source']} at {result['input']['sample_rate']} Hz "
        f"(the client's rate; the server resamples to the model's).",
    ]
    for role, d in models.items():
        lines.append(
            f"- {role}: `{d['name']}` ({d['path'] or 'built for this run'}), {d['codec']} codec "
            f"at {d['sample_rate']} Hz, {d['window_frames']}-frame window "
            f"({d['window_seconds']:.2f} s), {d['parameters'] / 1e6:.2f} M parameters, "
            f"{d['sampler']} sampler, {d['num_steps']} steps = {d['model_calls']} network "
            f"calls per step" + (" — **random weights**" if d["random_weights"] else "") + ".")
    if random:
        lines.append("- Random weights: speed does not depend on the weights' values (same "
                     "architecture, same tensor shapes, same number of network calls), so "
                     "these figures stand for the trained models of this architecture.")
    lines.append("")

    lines += ["## Targets", ""]
    toy = is_toy(result)
    if toy:
        lines += [TOY_NOTE, ""]
    else:
        rows = [[t["what"], _target_value(t),
                 _f(t["margin"], 3 if t["unit"].startswith("fraction") else 1),
                 "**met**" if t["met"] else "**missed**"] for t in result["targets"]]
        lines += _table(["target", "measured", "margin", ""], rows)
        lines += _missed_notes(result)

    lines += ["## Where a step's time goes (one session, fast mode)", "",
              "One reference client in fast mode (`realtime 0`: every step at full quality, "
              "one after the other) against an in-process server on loopback. Per step the "
              "engine's telemetry records *wait* (ready → model call, includes resampling the "
              "input window), *encode*, *sample*, *decode* and *send* (resampling to the "
              "client rate, packing datagrams, sending); *step* is ready → last datagram "
              "sent. Milliseconds, p50 / p95; RTF = hop / step.", ""]
    lines += _stage_table(stages["runs"])
    if stages["speedups"]:
        lines += ["### Distilled over teacher (same run)", ""]
        paper = result["paper"]
        rows = [[f"{s['r']:g}", str(s["threads"]),
                 f"{s['teacher_model_calls']} → {s['model_calls']}",
                 f"{_f(s['sampling_p50'], 2)}× / {_f(s['sampling_p95'], 2)}×",
                 f"{_f(s['end_to_end_p50'], 2)}× / {_f(s['end_to_end_p95'], 2)}×"]
                for s in stages["speedups"]]
        if not toy:
            rows.append(["paper (GPU)", "–",
                         f"{paper['teacher']['model_calls']} → "
                         f"{paper['distilled']['model_calls']}",
                         f"{paper['sampling_speedup']}×", f"≈ {paper['end_to_end_speedup']:g}×"])
        lines += _table(["r", "threads", "network calls", "sampling speed-up p50 / p95",
                         "whole-step speed-up p50 / p95"], rows)
    if not toy:
        lines += _paper_rows(result)

    lines += _session_lines(result["sessions"])
    lines += _optional_lines("GPU", result["gpu"])
    lines += _optional_lines("Music2Latent codec", result["music2latent"])
    lines += ["## Reproduce", "",
              "```sh",
              result.get("command") or "sideman bench --out DIR",
              "```", "",
              "`sideman bench --help` lists the options; `--threads 1 2` measures both thread "
              "counts, `--random-weights` times random models of the default architecture "
              "when the packaged weights are absent. Keys of `bench.json`: docs/BENCH.md.", ""]
    return "\n".join(lines)


def _target_value(t: Mapping[str, Any]) -> str:
    if t["unit"].startswith("fraction"):
        rtf = _f(1 / t["value"], 1) if t["value"] else "–"
        return f"{_f(t['value'], 3)} of the hop (RTF {rtf})"
    if t["unit"] == "MB":
        return f"{_f(t['value'], 0)} MB"
    return f"{t['value']} misses"


def _missed_notes(result: Mapping[str, Any]) -> list[str]:
    """For each missed target: by how much and where the time goes."""
    lines: list[str] = []
    runs = {(r["model"], r["r"], r["threads"]): r for r in result["stages"]["runs"]}
    for t in result["targets"]:
        if t["met"]:
            continue
        if t["unit"].startswith("fraction") and t["value"]:
            threads = int(t["name"].rsplit("threads", 1)[1])
            row = runs[("consistency", 0.125, threads)]
            q = "p95" if "_p95_" in t["name"] else "p50"
            step = row["ms"]["step"][q]
            budget = TARGET_STEP_FRACTION * row["hop_ms"]
            lines.append(f"- *{t['what']}*: missed by {step - budget:.0f} ms ({q} step "
                         f"{step:.0f} ms against a budget of {budget:.0f} ms, "
                         f"{step / budget:.2f}× the budget). Where the p50 step goes: "
                         f"{where_time_goes(row)}.")
        elif t["name"] == "four_sessions_no_miss":
            run = next(r for r in result["sessions"]["runs"]
                       if r["sessions"] == 4 and r["max_batch"] > 1)
            lines.append(f"- *{t['what']}*: {run['deadline_misses']} of {run['steps']} steps "
                         f"missed ({run['misses']} late, {run['superseded']} superseded, "
                         f"{run['steps_lost']} lost; {run['degraded']} degraded); smallest "
                         f"slack {_f(run['slack_ms']['min'])} ms; server step p95 "
                         f"{_f(run['step_ms']['p95'], 0)} ms; stages p50: "
                         + ", ".join(f"{s} {_f(run['stage_ms'][s]['p50'], 0)} ms"
                                     for s in STAGES) + ".")
        elif t["unit"] == "MB":
            lines.append(f"- *{t['what']}*: over by {-t['margin']:.0f} MB.")
    return lines + ([""] if lines else [])


def _stage_table(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    header = ["model", "r (hop ms)", "threads", "calls", *STAGES, "step", "RTF p50 / p95",
              "step / hop p50"]
    rows = []
    for row in runs:
        ms = row["ms"]
        rows.append([
            _role(row), f"{row['r']:g} ({row['hop_ms']:.0f})", str(row["threads"]),
            str(row["model_calls"]),
            *(f"{_f(ms[s]['p50'])} / {_f(ms[s]['p95'])}" for s in STAGES),
            f"**{_f(ms['step']['p50'], 0)}** / {_f(ms['step']['p95'], 0)}",
            f"{_f(row['rtf_p50'], 1)} / {_f(row['rtf_p95'], 1)}",
            f"{_f(100 * row['fraction_of_hop_p50'] if row['fraction_of_hop_p50'] else None, 0)} %",
        ])
    lines = _table(header, rows)
    notes = [row for row in runs
             if row["client"]["steps_complete"] != row["client"]["steps"]
             or row["num_steps_ran"] != [row["num_steps"]]]
    for row in notes:
        lines.append(f"- note: {_role(row)} r={row['r']:g}: client saw "
                     f"{row['client']['steps_complete']}/{row['client']['steps']} steps "
                     f"complete; sampling steps ran {row['num_steps_ran']}.")
    if runs:
        first = runs[0]
        lines.append(f"Steps measured per row: {first['steps_measured']}, in {first['blocks']} "
                     f"block(s) taken in turn with the other rows' (each block a new session "
                     f"whose first step is not counted; the model was warmed up), "
                     f"{first['stems']} stem(s) per step, look-ahead w = {first['w']}.")
    lines.append("")
    for row in runs:
        if row["model"] == "consistency":
            lines.append(f"- distilled, r = {row['r']:g}, {row['threads']} thread(s): "
                         f"{where_time_goes(row)}.")
    return [*lines, ""]


def _paper_rows(result: Mapping[str, Any]) -> list[str]:
    """The paper's published steps beside ours, with ratios (``paper_comparison``)."""
    paper = result["paper"]
    rows = []
    for section, where in ((result, ""), (result.get("gpu") or {}, " GPU")):
        for c in section.get("paper_comparison") or []:
            if c["what"] == "distilled over teacher":
                rows.append([f"distilled over teacher{where}, sampling / whole step (p50)",
                             f"{c['r']:g}", str(c["threads"]),
                             f"{_f(c['ours_sampling_speedup'], 2)}× / "
                             f"{_f(c['ours_end_to_end_speedup'], 2)}×",
                             f"{c['paper_sampling_speedup']:g}× / "
                             f"≈ {c['paper_end_to_end_speedup']:g}×",
                             f"{_f(c['sampling_speedup_ratio'], 2)}× / "
                             f"{_f(c['end_to_end_speedup_ratio'], 2)}×"])
                continue
            rows.append([f"{c['what']} ({c['device']}, {c['ours_model_calls']} vs "
                         f"{c['paper_model_calls']} network calls)", f"{c['r']:g}",
                         str(c["threads"]),
                         f"{_f(c['ours_step_p50_ms'], 0)} ms, RTF {_f(c['ours_rtf_p50'], 2)}",
                         f"{c['paper_step_ms']:.0f} ms, RTF {c['paper_rtf']:.2f}",
                         f"RTF {_f(c['rtf_ratio'], 2)}×, step {_f(c['step_ratio'], 2)}×"])
    if not rows:
        return []
    return ["### Beside the reference paper", "",
            "Ratios are ours over the paper's: RTF ours / paper (above 1: more real-time "
            "headroom), step paper / ours (above 1: faster in absolute time), speed-up ours / "
            "paper. The paper ran a 257 M-parameter U-Net on Music2Latent latents on a GPU; "
            "the rows say which device ran ours, and the model lines at the top of this "
            "report its size, so the ratios compare the systems as delivered, not the "
            "hardware.", "",
            *_table(["figure", "r", "threads", "ours (p50)", "paper (GPU)", "ours / paper"],
                    rows),
            f"Paper figures: {paper['source']}.", ""]


def _session_lines(section: Mapping[str, Any]) -> list[str]:
    lines = ["## Concurrent sessions over loopback", "",
             f"`sideman serve` (a fresh process per row, `--threads {section['threads']}`) and "
             f"N reference clients in real time, each streaming the input with its own seed. "
             f"*Step* is the server's ready → last datagram sent (p50 / p95 over all "
             f"sessions); *slack* is the client's play time of the region's first sample minus "
             f"the arrival of the step's last chunk (median of the sessions' p50, smallest "
             f"of all); *missed* counts late, superseded and lost steps; *degraded* steps ran "
             f"with fewer sampling steps to make their deadline.", ""]
    rows = []
    for run in section["runs"]:
        rows.append([
            str(run["sessions"]), str(run["max_batch"]), _f(run["mean_batch"], 2),
            str(run["steps"]),
            f"{_f(run['step_ms']['p50'], 0)} / {_f(run['step_ms']['p95'], 0)}",
            f"{_f(run['slack_ms']['p50_median'], 0)} / {_f(run['slack_ms']['min'], 0)}",
            f"**{run['deadline_misses']}**", str(run["degraded"]),
            _f(run["latency_ms"]["p50_median"], 0),
            _f(None if run["server_cpu_s"] is None else 100 * run["server_cpu_s"]
               / run["wall_s"], 0, " %"),
            _f(100 * run["clients_cpu_s"] / run["wall_s"], 0, " %"),
            _f(run["peak_rss_mb"], 0), _f(run["startup"]["first_chunk_s"], 1),
            _f(run["load_average"][0] if run["load_average"] else None, 1),
        ])
    lines += _table(["sessions", "max batch", "mean batch", "steps", "step ms p50 / p95",
                     "slack ms p50 / min", "missed", "degraded", "latency ms p50",
                     "server CPU", "clients CPU", "peak RSS MB", "start → first chunk s",
                     "load"], rows)
    if section["runs"]:
        r = section["runs"][0]
        lines.append(f"r = {r['r']:g}, w = {r['w']}, {r['stems']} stem(s), "
                     f"{r['audio_seconds']:.0f} s of audio per session. *Server CPU* and "
                     f"*clients CPU*: CPU time of the server process and of the clients (all "
                     f"in the benchmark's process) over the streaming time (100 % = one "
                     f"core); *load*: the 1-minute load average when the row started.")
    startup = section["startup"]
    lines += ["", "### Start-up and memory", "",
              f"- Start-up (process start → the first chunk a client receives; one session): "
              f"{_f(startup['first_chunk_s'], 2)} s, of which {_f(startup['listening_s'], 2)} s "
              f"until the server listens (imports, model load, warm-up calls).",
              f"- Server peak memory (VmHWM) over all rows: {_f(section['peak_rss_mb'], 0)} MB.",
              ""]
    batched = {r["sessions"]: r for r in section["runs"] if r["max_batch"] > 1}
    single = {r["sessions"]: r for r in section["runs"] if r["max_batch"] == 1}
    notes = []
    for n, one in sorted(single.items()):
        b = batched.get(n)
        if b and b["step_ms"]["p50"] and one["step_ms"]["p50"]:
            notes.append(f"- {n} sessions: batching gives step p50 {b['step_ms']['p50']:.0f} ms "
                         f"vs {one['step_ms']['p50']:.0f} ms one at a time "
                         f"({one['step_ms']['p50'] / b['step_ms']['p50']:.2f}×), "
                         f"{b['deadline_misses']} vs {one['deadline_misses']} missed, "
                         f"{b['degraded']} vs {one['degraded']} degraded.")
    scaling = section.get("batch_scaling") or []
    if notes or scaling:
        lines += ["### What batching buys", ""]
    if scaling:
        lines += ["At most (one model call with N sessions' steps straight on the pipeline, "
                  "no server; median of a few calls):", ""]
        lines += _table(["sessions in the call", "call ms", "per session ms",
                         "per-session gain over one at a time", "encode / sample / decode ms"],
                        [[str(row["batch"]), _f(row["call_ms"], 0), _f(row["per_item_ms"], 0),
                          f"{_f(row['per_item_gain'], 2)}×",
                          " / ".join(_f(row["stage_ms"][k], 0)
                                     for k in ("encode", "sample", "decode"))]
                         for row in scaling])
    if notes:
        lines += ["In the live server (rows above):", "", *notes, ""]
    return lines


def _optional_lines(title: str, section: Mapping[str, Any]) -> list[str]:
    lines = [f"## {title}", ""]
    if section.get("status") != "measured":
        return [*lines, f"{section.get('status')}.", ""]
    if title == "GPU":
        lines += [f"Device: {section['name']}. Peak memory allocated by torch: "
                  f"{_f(section.get('max_memory_allocated_mb'), 0)} MB. Stage times on a GPU "
                  f"are taken without synchronising between stages, so part of encode may "
                  f"show under sample; the step total is exact.", ""]
        lines += _stage_table(section["runs"])
        return lines
    for device in ("cpu", "cuda"):
        sub = section.get(device)
        if sub:
            d = sub["models"]["consistency"]
            lines += [f"### {device}", "",
                      f"Random-weights default U-Net on Music2Latent latents "
                      f"({d['window_frames']} frames, {d['window_seconds']:.2f} s; "
                      f"{d['parameters'] / 1e6:.2f} M parameters).", ""]
            lines += _stage_table(sub["runs"])
    return lines


# -- plots ----------------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_histograms(result: Mapping[str, Any], path: Path) -> None:
    plt = _pyplot()
    runs = result["stages"]["runs"]
    ratios = sorted({r["r"] for r in runs})
    threads = sorted({r["threads"] for r in runs})
    fig, axes = plt.subplots(len(threads), len(ratios), squeeze=False,
                             figsize=(5.5 * len(ratios), 3.4 * len(threads)))
    for i, t in enumerate(threads):
        for j, r in enumerate(ratios):
            ax = axes[i][j]
            rows = [row for row in runs if row["r"] == r and row["threads"] == t]
            values = [v for row in rows for v in row["step_ms_samples"]]
            if not values:
                ax.set_visible(False)
                continue
            lo, hi = max(min(values) * 0.8, 1e-3), max(values) * 1.25
            hop = rows[0]["hop_ms"]
            hi = max(hi, hop * 1.1)
            bins = [lo * (hi / lo) ** (k / 40) for k in range(41)]
            for row in rows:
                ax.hist(row["step_ms_samples"], bins=bins, alpha=0.7,
                        color=MODEL_COLOURS.get(row["model"]),
                        label=f"{_role(row)} ({row['model_calls']} calls)")
            ax.axvline(hop, color="black", linestyle="-", linewidth=1, label="hop")
            ax.axvline(TARGET_STEP_FRACTION * hop, color="black", linestyle="--", linewidth=1,
                       label="20 % of the hop")
            ax.set_xscale("log")
            ax.set_title(f"r = {r:g} (hop {hop:.0f} ms), {t} thread{'s' * (t > 1)}")
            ax.set_xlabel("step time, ms (ready → last datagram sent)")
            ax.set_ylabel("steps")
            ax.legend(fontsize=8)
    fig.suptitle("Step time per configuration (one session, fast mode)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_stages(result: Mapping[str, Any], path: Path) -> None:
    plt = _pyplot()
    runs = list(result["stages"]["runs"])
    for device in ("cpu", "cuda"):
        runs += (result["music2latent"].get(device) or {}).get("runs", [])
    runs += result["gpu"].get("runs", []) if result["gpu"].get("status") == "measured" else []
    labels = [f"{_role(r)} r={r['r']:g} {r['codec']} {r['device']} {r['threads']}t"
              for r in runs]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(runs) + 1.6))
    for i, row in enumerate(runs):
        left = 0.0
        for stage in STAGES:
            width = row["ms"][stage]["p50"] or 0.0
            ax.barh(i, width, left=left, color=STAGE_COLOURS[stage],
                    label=stage if i == 0 else None)
            left += width
        ax.plot([row["hop_ms"] * TARGET_STEP_FRACTION] * 2, [i - 0.4, i + 0.4], color="black",
                linestyle="--", linewidth=1, label="20 % of the hop" if i == 0 else None)
    ax.set_yticks(range(len(runs)), labels)
    ax.invert_yaxis()
    ax.set_xscale("log" if runs and max(r["ms"]["step"]["p50"] or 1 for r in runs) /
                  max(min(r["ms"]["step"]["p50"] or 1 for r in runs), 1e-3) > 20 else "linear")
    ax.set_xlabel("median time per step, ms (stacked by stage)")
    ax.legend(fontsize=8, ncol=3)
    ax.set_title("Where a step's time goes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sessions(result: Mapping[str, Any], path: Path) -> None:
    plt = _pyplot()
    runs = result["sessions"]["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    counts = sorted({r["sessions"] for r in runs})
    for batched, style, colour in ((True, "-o", "#4c72b0"), (False, "--s", "#dd8452")):
        rows = sorted((r for r in runs if (r["max_batch"] > 1) == batched
                       or r["sessions"] == 1), key=lambda r: r["sessions"])
        if not rows or (not batched and all(r["sessions"] == 1 for r in rows)):
            continue
        n = [r["sessions"] for r in rows]
        name = f"max_batch {rows[-1]['max_batch']}"
        left.plot(n, [r["step_ms"]["p50"] for r in rows], style, color=colour,
                  label=f"{name} p50")
        left.plot(n, [r["step_ms"]["p95"] for r in rows], style, color=colour, alpha=0.4,
                  label=f"{name} p95")
        right.plot(n, [r["slack_ms"]["min"] for r in rows], style, color=colour,
                   label=f"{name}: smallest slack")
        for x, r in zip(n, rows, strict=True):
            if r["deadline_misses"]:
                right.annotate(f"{r['deadline_misses']} missed", (x, r["slack_ms"]["min"] or 0),
                               fontsize=8, color=colour, xytext=(4, 4),
                               textcoords="offset points")
    if runs:
        hop = 1e3 * runs[0]["r"] * result["stages"]["models"]["consistency"]["window_seconds"]
        left.axhline(hop, color="black", linewidth=1, label="hop")
    right.axhline(0, color="black", linewidth=1)
    for ax in (left, right):
        ax.set_xlabel("concurrent sessions")
        ax.set_xscale("log", base=2)
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.minorticks_off()
        ax.legend(fontsize=8)
    left.set_ylabel("server step time, ms")
    right.set_ylabel("slack, ms (negative: late)")
    fig.suptitle(f"Concurrent real-time sessions (r = {runs[0]['r'] if runs else '?'})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
