"""One PNG per soak report: the distributions and time series people look at first.

Real-time scenarios (impairment, flood, the UDP parts of fuzz and churn): step latency and
slack histograms over all clients, the server's RSS and engine queue over time. ``slow``: each
step's latency against time with the stall shaded, and the prober's round trips. ``fuzz``:
the per-datagram CPU time distribution. ``churn``: traced memory and RSS per wave.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _hist(ax: Axes, values: Sequence[float], title: str, xlabel: str, *,
          marker: float | None = None) -> None:
    if values:
        ax.hist(values, bins=min(60, max(10, len(values) // 5)), color="tab:blue", alpha=0.8)
    else:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    if marker is not None:
        ax.axvline(marker, color="tab:red", ls="--", lw=1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("steps")


def _series(ax: Axes, series: Sequence[Mapping[str, float]], key: str, title: str,
            ylabel: str, *, color: str = "tab:green") -> None:
    if series:
        ax.plot([r["t"] for r in series], [r[key] for r in series], color=color)
    ax.set_title(title)
    ax.set_xlabel("seconds")
    ax.set_ylabel(ylabel)


def _realtime_panels(axes: Sequence[Axes], part: Mapping[str, Any], label: str) -> None:
    lat = part.get("step_latencies_ms", [])
    slack = part.get("step_slacks_ms", [])
    _hist(axes[0], lat, f"{label}: step latency (capture → last chunk)", "ms")
    _hist(axes[1], slack, f"{label}: slack (play time − arrival)", "ms", marker=0.0)
    _series(axes[2], part.get("series", []), "rss_mb",
            f"{label}: process RSS (server, proxy, clients)", "MiB")
    _series(axes[3], part.get("series", []), "queue", f"{label}: engine queue", "steps",
            color="tab:orange")


def plot_report(report: Mapping[str, Any], path: Path) -> Path:
    """Write the figure for one scenario report to ``path``."""
    scenario = report["scenario"]
    if scenario == "flood":
        phases = [p for p in ("baseline", "flood") if p in report]
        fig = Figure(figsize=(16, 3.6 * len(phases)), layout="constrained")
        axes = fig.subplots(len(phases), 4, squeeze=False)
        for row, phase in zip(axes, phases, strict=True):
            _realtime_panels(row, report[phase], phase)
    elif scenario == "slow":
        fig = Figure(figsize=(16, 7), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        steps = [s for s in report["steps"] if s["play"] is not None]
        colors = {"ok": "tab:blue", "late": "tab:red", "superseded": "tab:gray",
                  "partial": "tab:orange", "lost": "black"}
        for state, color in colors.items():
            pts = [(s["play"], s["latency_ms"] or 0.0) for s in steps if s["state"] == state]
            if pts:
                axes[0].scatter(*zip(*pts, strict=True), color=color, label=state, s=14)
        stall = report.get("stall")
        for ax in axes[:2]:
            if stall:
                ax.axvspan(stall["start_s"], stall["end_s"], color="tab:red", alpha=0.1,
                           label="stall")
        axes[0].set_title(f"step latency by play time (recovery "
                          f"{report.get('recovery_hops')} hops)")
        axes[0].set_xlabel("seconds")
        axes[0].set_ylabel("ms")
        axes[0].legend(fontsize=8)
        probe = report.get("probe_series", [])
        if probe:
            axes[1].plot([p[0] for p in probe], [1e3 * p[1] for p in probe], ".", ms=3)
        axes[1].set_title("ping round trip while the model runs (receive loop)")
        axes[1].set_xlabel("seconds")
        axes[1].set_ylabel("ms")
        _series(axes[2], report.get("series", []), "queue", "engine queue", "steps",
                color="tab:orange")
        _series(axes[3], report.get("series", []), "rss_mb",
                "process RSS (server, proxy, client)", "MiB")
    elif scenario == "fuzz":
        fig = Figure(figsize=(16, 3.8 * (2 if report.get("udp") else 1)),
                     layout="constrained")
        axes = fig.subplots(2 if report.get("udp") else 1, 4, squeeze=False)
        hist = report["in_process"].get("cpu_ms_histogram")
        ax = axes[0][0]
        if hist:
            edges = np.asarray(hist["edges"])
            ax.stairs(hist["counts"], edges, fill=True)
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_title(f"CPU time per datagram ({report['in_process']['datagrams']} datagrams)")
        ax.set_xlabel("ms")
        ax.set_ylabel("datagrams")
        kinds = report["in_process"].get("kinds", {})
        axes[0][1].bar(list(kinds), list(kinds.values()), color="tab:purple")
        axes[0][1].set_title("datagrams by kind")
        malformed = report["in_process"]["server"]["counters"].get("malformed", {})
        axes[0][2].barh(list(malformed), list(malformed.values()), color="tab:gray")
        axes[0][2].set_title("refused by the decoder (reason)")
        counters = report["in_process"]["server"]["counters"]
        keys = ("bad_message", "unknown_address", "unknown_session", "bad_token", "foreign")
        axes[0][3].barh(list(keys), [counters.get(k, 0) for k in keys], color="tab:brown")
        axes[0][3].set_title("refused after decoding")
        if report.get("udp"):
            _realtime_panels(axes[1], report["udp"], "client beside UDP fuzz")
    elif scenario == "churn":
        fig = Figure(figsize=(16, 7.2), layout="constrained")
        axes = fig.subplots(2, 4)
        trace = report["in_process"]["trace"]
        axes[0][0].plot([t["opened"] for t in trace], [t["traced_kb"] for t in trace], "o-")
        axes[0][0].set_title("traced memory after each wave (all Python)")
        axes[0][0].set_xlabel("sessions opened and abandoned")
        axes[0][0].set_ylabel("KiB")
        axes[0][1].plot([t["opened"] for t in trace], [t["rss_mb"] for t in trace], "o-",
                        color="tab:green")
        axes[0][1].set_title("RSS after each wave")
        axes[0][1].set_xlabel("sessions opened and abandoned")
        axes[0][1].set_ylabel("MiB")
        axes[0][2].axis("off")
        axes[0][3].axis("off")
        ip = report["in_process"]
        axes[0][2].text(0, 0.9, "\n".join([
            f"opened: {ip['opened']}, expired: {ip['expired']}",
            f"traced (server+model code) baseline {ip['traced_kb_baseline']} KiB",
            f"final {ip['traced_kb_final']} KiB (growth {ip['traced_kb_growth']} KiB)",
            f"session objects alive: {ip['session_objects_alive']}",
            f"tables: {ip['tables']}"]), va="top", fontsize=9, wrap=True)
        _realtime_panels(axes[1], report["live"], "resuming client")
    else:  # impairment and anything real-time
        fig = Figure(figsize=(16, 3.8), layout="constrained")
        axes = fig.subplots(1, 4)
        _realtime_panels(axes, report, scenario)
    fig.suptitle(f"sideman soak — {scenario} — model {report.get('model')}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path
