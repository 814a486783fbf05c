"""Step time of the default at r = 0.125, w = 1, one stem, one thread, its own grid guidance,
no host transport: the grid tracked in the learned tracker's activation against librosa's
onset envelope, the same steps of the demo song in turn (a ratio from one run)."""

import json
import time

import librosa
import numpy as np
import torch

from sideman.client import read_mono
from sideman.models.base import StepRequest
from sideman.models.pipeline import load_pipeline
from sideman.models.tempo import warm_up

torch.set_num_threads(1)
warm_up()
pipes = {name: load_pipeline("default", beat_tracker=name) for name in ("learned", "onsets")}
g = pipes["learned"].geometry_for(0.125, 1)
audio, rate = read_mono("max_patches/media/demo_input.wav")
audio = librosa.resample(audio, orig_sr=rate, target_sr=g.sample_rate)
times: dict[str, list[float]] = {name: [] for name in pipes}
streams = {name: pipe.new_stream() for name, pipe in pipes.items()}
for k in range(9, 26):
    s, e = g.window(k)
    window = np.zeros(e - s, np.float32)
    n = min(e, g.step_position(k), len(audio))
    window[max(0, s) - s:n - s] = audio[max(0, s):n]
    for name, pipe in pipes.items():
        started = time.perf_counter()
        pipe.generate([StepRequest(stream=streams[name], step=k, geometry=g, mixture=window,
                                   stems=("drums",), num_steps=pipe.config.default_steps,
                                   grid_guidance=pipe.info.default_grid_guidance,
                                   track_beats=True)])
        times[name].append(time.perf_counter() - started)
hop = g.hop_samples / g.sample_rate
report: dict[str, object] = {
    name: {"p50_ms": 1e3 * float(np.median(v)), "p95_ms": 1e3 * float(np.percentile(v, 95)),
           "p50_of_hop": float(np.median(v)) / hop} for name, v in times.items()}
report["ratio_p50"] = float(np.median(times["learned"]) / np.median(times["onsets"]))
print(json.dumps(report, indent=1))
