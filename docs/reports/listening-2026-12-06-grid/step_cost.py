"""What grid guidance costs: the default model's step at r = 0.125, w = 1, one stem (drums),
one torch thread, on the demo song with beat tracking on, grid guidance 1 and 5 taken in
turn on the same steps (a ratio measured in one run; the machine may be busy).

    python step_cost.py > step_cost.json
"""

import json
import time

import librosa
import numpy as np
import torch

from sideman.client import read_mono
from sideman.models.base import StepRequest
from sideman.models.registry import load_generator
from sideman.models.tempo import warm_up

SCALES = (1.0, 5.0)


def main() -> None:
    torch.set_num_threads(1)
    warm_up()
    pipe = load_generator("default")
    g = pipe.geometry_for(0.125, 1)
    audio, rate = read_mono("max_patches/media/demo_input.wav")
    audio = librosa.resample(audio, orig_sr=rate, target_sr=g.sample_rate)
    seconds: dict[float, list[float]] = {s: [] for s in SCALES}
    streams = {s: pipe.new_stream() for s in SCALES}
    for k in range(9, 26):
        start, end = g.window(k)
        window = np.zeros(end - start, np.float32)
        lo, hi = max(0, start), min(end, g.step_position(k), len(audio))
        window[lo - start:hi - start] = audio[lo:hi]
        for scale in SCALES:
            request = StepRequest(stream=streams[scale], step=k, geometry=g, mixture=window,
                                  stems=("drums",), num_steps=pipe.config.default_steps,
                                  grid_guidance=scale, track_beats=True)
            t = time.perf_counter()
            pipe.generate([request])
            seconds[scale].append(time.perf_counter() - t)
    hop = g.hop_samples / g.sample_rate
    report = {f"grid_guidance {s:g}": {
        "p50_ms": round(1e3 * float(np.median(v)), 1),
        "p95_ms": round(1e3 * float(np.percentile(v, 95)), 1),
        "p50_of_hop": round(float(np.median(v)) / hop, 3)} for s, v in seconds.items()}
    report["ratio_p50"] = round(float(np.median(seconds[5.0]) / np.median(seconds[1.0])), 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
