"""A long headless Pd run against the default model (issue 14).

sideman.pd streams the demo song into a live server (embedded default model, four stems,
w 1, 200 ms output delay, Pd's netsend with the OS-default receive buffer) for SECONDS at hop
ratio R, with the server's pacing on (1) or off (0), and prints one JSON line: chunks sent,
chunks of the steps played in full, how many of those the patch never received, the kernel's
drops at the patch's socket and system-wide, and the share of silent 10-ms blocks in the
recorded generated span. Run from the repository root:

    .venv/bin/python docs/reports/pacing-2026-12-06/pd_long_run.py 300 0.25 1

The test driver quits Pd after 60 s; a copy with a longer limit is used.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]


def main(seconds: float, r: float, pace: bool) -> dict:
    import torch

    sys.path.insert(0, str(ROOT / "tests"))
    import test_pd_patch as t

    from sideman.models.registry import load_generator
    from sideman.server import protocol

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="sideman-pd-long-"))
    driver = tmp / "sideman_test_long.pd"
    driver.write_text((ROOT / "max_patches/test/sideman_test.pd").read_text()
                      .replace("delay 60000", "delay 900000"))
    t.DRIVER = driver
    generator = load_generator("default")
    started = time.monotonic()
    run = t.run_pd_real_hop(tmp, generator, r=r, pace=pace, seconds=seconds)
    hop = run["hop"]
    # The patch runs with wrap 23: chunk positions come modulo 2**23; step k of a fresh
    # session captured up to k * hop, near where its region lies.
    sent = [replace(c, start=protocol.unwrap_position(c.start, (c.step + 1) * hop, 23),
                    position=protocol.unwrap_position(c.position, (c.step + 1) * hop, 23))
            for c in run["sent"]]
    delay = round(0.2 * 44100 / 64) * 64
    recorded = run["recorded"]
    played = [c for c in sent if c.start + c.xfade + hop + delay <= len(recorded)]
    keys = {(c.stem, c.step, c.index, int(c.final)) for c in played}
    missing = keys - run["received"]
    heard = recorded[delay:, 1]
    end = max(c.start + c.xfade + hop for c in played)
    span = heard[hop:end]
    n = len(span) // 441
    blocks = np.abs(span[:n * 441]).reshape(n, 441).max(axis=1)
    # the generated span as written where PROTOCOL.md puts it, past every wrap of 2**23
    far = max(c.start for c in played)
    return {"seconds": seconds, "last_region_start": far, "wraps_crossed": far // 2**23,
            "r": r, "pace": pace, "wall": time.monotonic() - started,
            "chunks_sent_total": len(sent), "chunks_of_played_steps": len(keys),
            "missing": len(missing), "steps": len({c.step for c in played}),
            "socket_drops": run["drops"], "rcvbuf_errors_system": run["rcvbuf_errors"],
            "silent_10ms_blocks": float((blocks == 0).mean()),
            "pd_returncode": run["returncode"]}


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "1")))
