"""``sideman serve``, ``sideman client`` and ``sideman demo``: argument parsing in one place.

Handlers turn the parsed arguments into constructor arguments (ServerConfig, ClientSettings,
RunOptions) and call into the library; heavy imports happen inside them.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from .protocol import DEFAULT_MAX_DATAGRAM, DEFAULT_PORT

log = logging.getLogger(__name__)

#: The demo song, found from the source tree (an editable install, as `make` does) wherever
#: the command runs; an installed wheel has no max_patches/ and the demo synthesises a groove.
DEMO_INPUT = Path(__file__).resolve().parents[1] / "max_patches" / "media" / "demo_input.wav"


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_serve(subparsers)
    _register_client(subparsers)
    _register_demo(subparsers)


# -- shared options ------------------------------------------------------------------------
def _model_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--model", default=default,
                        help="'default' (embedded model), 'clicktrack' (diagnostic impulses) or "
                             f"a checkpoint directory (default: {default})")
    parser.add_argument("--device", default="cpu",
                        help="torch device of the model, e.g. cuda or cuda:1 (default cpu)")
    parser.add_argument("--codec-weights", type=Path, default=None, metavar="PATH",
                        help="music2latent codec weights (default: the package's own location)")
    parser.add_argument("--click-period", type=int, default=None, metavar="SAMPLES",
                        help="clicktrack: impulse every N samples of the client clock "
                             "(default 4410)")
    parser.add_argument("--click-delay", type=float, default=0.0, metavar="S",
                        help="clicktrack: pretend each model call takes S seconds")
    parser.add_argument("--click-delay-per-step", type=float, default=0.0, metavar="S",
                        help="clicktrack: plus S seconds per sampling step")


def _stream_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stem", action="append", dest="stems", metavar="STEM",
                        help="stem to generate (repeat for several; default drums)")
    parser.add_argument("--r", type=float, default=0.25, help="hop ratio H/T (default 0.25)")
    parser.add_argument("--w", type=int, default=1, help="look-ahead in hops (default 1)")
    parser.add_argument("--steps", type=int, default=None,
                        help="sampling steps (default: the model's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variation", type=float, default=None,
                        help="noise temperature 0..2 (useful from 0.05)")
    parser.add_argument("--guidance", type=float, default=None,
                        help="mixture guidance 0..5 (1 = off, the default; above 1 the part "
                             "follows what it hears more, at twice the model's work)")
    parser.add_argument("--xfade", type=int, default=None,
                        help="crossfade samples at the head of each region (default 256)")
    parser.add_argument("--datagram", type=int, default=None,
                        help="largest datagram the server sends us, bytes (default 8192)")
    parser.add_argument("--delay", type=int, default=0,
                        help="our output delay in samples (extends every deadline)")
    parser.add_argument("--no-refine", action="store_true",
                        help="never send a quick result to be refined later")
    parser.add_argument("--fast", action="store_true",
                        help="faster than real time (realtime 0): same protocol, full quality, "
                             "waits for each step")


def _pace(args: argparse.Namespace):
    from .delivery import Pace

    if args.pace_burst < 0 or args.pace_max <= 0:
        raise ValueError("--pace-burst must be >= 0 and --pace-max > 0")
    base = Pace()
    max_rate = args.pace_max * 1e6
    return Pace(rate=min(base.rate, max_rate), min_rate=min(base.min_rate, max_rate),
                max_rate=max_rate, burst=max(1, args.pace_burst),
                enabled=args.pace_burst > 0)


def _load_generator(args: argparse.Namespace):
    from sideman.models.registry import load_generator

    options: dict[str, object] = {}
    if args.model == "clicktrack":
        if args.click_period is not None:
            options["period"] = args.click_period
        options["delay"] = args.click_delay
        options["delay_per_step"] = args.click_delay_per_step
    else:
        options["device"] = args.device
        if args.codec_weights is not None:
            options["codec_weights"] = args.codec_weights
    return load_generator(args.model, **options)


def _client_settings(args: argparse.Namespace):
    from .client import ClientSettings

    return ClientSettings(
        stems=tuple(args.stems or ["drums"]), r=args.r, w=args.w, steps=args.steps,
        seed=args.seed, variation=args.variation, guidance=args.guidance, xfade=args.xfade,
        datagram=args.datagram,
        delay=args.delay, realtime=not args.fast, refine=not args.no_refine)


# -- serve ---------------------------------------------------------------------------------
def _register_serve(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the OSC/UDP server a Max or Pd patch talks to",
                              description="Run the sideman server (protocol: docs/PROTOCOL.md).")
    _model_options(p, "default")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--allow", nargs="+", default=[], metavar="CIDR",
                   help="networks allowed besides loopback, e.g. 192.168.1.0/24 "
                        "(needed with --host 0.0.0.0)")
    p.add_argument("--max-sessions", type=int, default=16)
    p.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                   help="close sessions silent for this long (default 60 s)")
    p.add_argument("--max-datagram", type=int, default=DEFAULT_MAX_DATAGRAM, metavar="BYTES",
                   help=f"largest datagram accepted or sent (default {DEFAULT_MAX_DATAGRAM}, "
                        "the macOS UDP limit)")
    p.add_argument("--max-batch", type=int, default=8, help="steps per model call at most")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="serve Prometheus metrics on http://METRICS_HOST:PORT/metrics")
    p.add_argument("--metrics-host", default="127.0.0.1",
                   help="address the metrics endpoint binds (default 127.0.0.1, whatever "
                        "--host is: the metrics name sessions and source addresses)")
    p.add_argument("--source-rate", type=float, default=100.0, metavar="N",
                   help="datagrams per second a source may send besides its session's own "
                        "valid messages, before the rest is dropped unread (default 100; "
                        "0: no limit)")
    p.add_argument("--source-burst", type=float, default=200.0, metavar="N",
                   help="burst allowed above --source-rate (default 200)")
    p.add_argument("--log-interval", type=float, default=10.0, metavar="S",
                   help="seconds between one-line status logs (0: never)")
    p.add_argument("--watchdog-ms", type=float, default=20.0, metavar="MS",
                   help="real time: start a step this long after its capture point even if "
                        "input is missing (default 20)")
    p.add_argument("--pace-burst", type=int, default=16384, metavar="BYTES",
                   help="generated audio leaves paced per client, at most this many bytes "
                        "back to back (default 16384: a patch with the OS-default UDP receive "
                        "buffer loses nothing); 0 sends each step in one burst (measurements "
                        "only)")
    p.add_argument("--pace-max", type=float, default=16.0, metavar="MB/S",
                   help="fastest pace, in megabytes per second, however close the deadline "
                        "(default 16)")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the two throw-away model calls that calibrate step timing")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads for the model (default: torch's, one per core); "
                        "1 is much faster when other programs share the cores")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from .app import Server, ServerConfig
    from .telemetry import MetricsServer
    from .transport import UdpServer, freeze_heap

    if args.threads is not None:
        if args.threads < 1:
            print(f"sideman serve: --threads must be >= 1, got {args.threads}")
            return 2
        import torch

        torch.set_num_threads(args.threads)
    try:
        config = ServerConfig(max_sessions=args.max_sessions, idle_timeout=args.idle_timeout,
                              max_datagram=args.max_datagram, allow=tuple(args.allow),
                              max_batch=args.max_batch, log_interval=args.log_interval,
                              watchdog_grace=args.watchdog_ms / 1000.0,
                              source_rate=args.source_rate, source_burst=args.source_burst,
                              pace=_pace(args))
        generator = _load_generator(args)
    except (ValueError, RuntimeError) as exc:
        print(f"sideman serve: {exc}")
        return 2
    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.allow:
        log.warning("bound to %s but only loopback clients are allowed; add --allow CIDR "
                    "for the networks you trust", args.host)
    server = Server(generator, config)
    if not args.no_warmup:
        timings = server.engine.warmup()
        log.info("warm-up: %s", ", ".join(f"{call} {seconds * 1e3:.1f} ms"
                                          for call, seconds in timings.items()))
    freeze_heap()
    udp = UdpServer(server, args.host, args.port).start()
    metrics = None
    if args.metrics_port is not None:
        metrics = MetricsServer(args.metrics_host, args.metrics_port, server.metrics_text)
        metrics.start()
        log.info("metrics on http://%s:%d/metrics", args.metrics_host, metrics.port)
    info = generator.info
    print(f"sideman serve: model {info.name} on udp://{udp.address[0]}:{udp.address[1]} "
          f"(Ctrl-C to stop)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    udp.stop()
    if metrics is not None:
        metrics.stop()
    return 0


# -- client --------------------------------------------------------------------------------
def _register_client(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "client", help="reference client: stream a file through a running server",
        description="Stream INPUT like a patch would and write what comes back, aligned to "
                    "INPUT sample for sample, plus a JSON stats file.")
    p.add_argument("input", type=Path, help="input sound file (mixed down to mono)")
    p.add_argument("--out", type=Path, required=True,
                   help="output WAV; with several --stem, OUT-STEM.wav per stem")
    p.add_argument("--stats", type=Path, default=None,
                   help="stats JSON (default: OUT's name with .stats.json)")
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--step-timeout", type=float, default=10.0, metavar="S",
                   help="--fast: give up on a step's chunks after S seconds")
    p.add_argument("--connect-timeout", type=float, default=5.0, metavar="S",
                   help="give up when the server does not answer hello or set within S s")
    _stream_options(p)
    p.set_defaults(func=_client)


def _print_warnings(who: str, warnings: list[str]) -> None:
    """The server's ``/sideman/warning`` texts (``r`` rounded, a setting outside the model's
    training grid): things the user asked for and did not get exactly."""
    for text in dict.fromkeys(warnings):  # each once, in order
        print(f"{who}: server warning: {text}", file=sys.stderr)


def _client(args: argparse.Namespace) -> int:
    from .client import (
        ClientError,
        RunOptions,
        default_stats_path,
        read_mono,
        run_client,
        stem_paths,
        write_outputs,
    )

    if not args.input.is_file():
        print(f"sideman client: no such input file: {args.input}")
        return 2
    audio, rate = read_mono(args.input)
    settings = _client_settings(args)
    try:
        core = run_client(audio, rate, settings, (args.host, args.port),
                          options=RunOptions(fast=args.fast, step_timeout=args.step_timeout,
                                             handshake_timeout=args.connect_timeout))
    except ClientError as exc:
        print(f"sideman client: {exc}")
        return 1
    _print_warnings("sideman client", core.warnings)
    stats_path = args.stats or default_stats_path(args.out)
    paths = write_outputs(core, rate, stem_paths(args.out, settings.stems), stats_path,
                          {"input": str(args.input)})
    stats = core.stats()
    print(f"wrote {', '.join(str(p) for p in paths.values())} and {stats_path}: "
          f"{stats['steps_complete']}/{stats['steps']} steps complete, "
          f"{stats['misses']} misses, {stats['lost_chunks']} lost chunks, "
          f"latency p50 {stats['latency_p50_ms']} ms")
    return 0


# -- demo ----------------------------------------------------------------------------------
def _register_demo(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="start a server in-process and stream a demo song through it",
        description="Runs the server and the reference client in one process and writes "
                    "out/demo/ (input, generated stems, a mix, stats.json).")
    _model_options(p, "default")
    p.add_argument("--input", type=Path, default=None,
                   help="input file (default max_patches/media/demo_input.wav of the "
                        "source tree if present, else a synthetic groove)")
    p.add_argument("--out-dir", type=Path, default=Path("out/demo"))
    p.add_argument("--seconds", type=float, default=None,
                   help="use only the first S seconds of the input (default: all of it; "
                        "the synthetic groove is 12 s)")
    _stream_options(p)
    p.set_defaults(func=_demo)


def synth_groove(seconds: float, rate: int = 44100, bpm: float = 110.0) -> np.ndarray:
    """A short, simple groove (bass line + chord stabs) so the demo always has an input."""
    n = int(seconds * rate)
    beat = 60.0 / bpm
    out = np.zeros(n, np.float64)
    roots = [55.0, 55.0, 73.42, 65.41]  # A1 A1 D2 C2, one per bar
    for i in range(int(seconds / beat) + 1):
        start = int(i * beat * rate)
        if start >= n:
            break
        length = min(n - start, int(0.9 * beat * rate))
        tt = np.arange(length) / rate
        f = roots[(i // 4) % len(roots)]
        env = np.exp(-tt * 6.0)
        out[start:start + length] += 0.35 * env * np.sin(2 * np.pi * f * tt)
        if i % 2 == 1:  # off-beat chord stab
            chord = sum(np.sin(2 * np.pi * f * 4 * m * tt) for m in (1.0, 1.26, 1.5))
            out[start:start + length] += 0.08 * np.exp(-tt * 12.0) * chord
    return (out / max(1.0, np.abs(out).max() * 1.1)).astype(np.float32)


def _demo(args: argparse.Namespace) -> int:
    import soundfile as sf

    from .app import Server, ServerConfig
    from .client import ClientError, RunOptions, read_mono, run_client, write_outputs
    from .transport import UdpServer, freeze_heap

    source = args.input or (DEMO_INPUT if DEMO_INPUT.is_file() else None)
    if source is not None:
        if not source.is_file():
            print(f"sideman demo: no such input file: {source}")
            return 2
        audio, rate = read_mono(source)
    else:
        rate = 44100
        audio = synth_groove(args.seconds or 12.0, rate)
    if args.seconds is not None:
        if args.seconds <= 0:
            print(f"sideman demo: --seconds must be > 0, got {args.seconds}")
            return 2
        audio = audio[:round(args.seconds * rate)]
    try:
        generator = _load_generator(args)
    except (ValueError, RuntimeError) as exc:
        print(f"sideman demo: {exc}")
        return 2
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    sf.write(str(out_dir / "input.wav"), audio, rate, subtype="FLOAT")
    settings = _client_settings(args)
    server = Server(generator, ServerConfig(log_interval=0))
    server.engine.warmup()
    freeze_heap()
    print(f"sideman demo: model {generator.info.name}, {len(audio) / rate:.1f} s of "
          f"{'synthetic groove' if source is None else source}, stems "
          f"{', '.join(settings.stems)}, r={settings.r} w={settings.w}"
          f"{' (fast)' if args.fast else ' (real time)'}", flush=True)
    with UdpServer(server, "127.0.0.1", 0) as udp:
        try:
            core = run_client(audio, rate, settings, udp.address,
                              options=RunOptions(fast=args.fast), name="sideman-demo")
        except ClientError as exc:
            print(f"sideman demo: {exc}")
            return 1
    _print_warnings("sideman demo", core.warnings)
    paths = write_outputs(core, rate, {stem: out_dir / f"{stem}.wav" for stem in settings.stems},
                          out_dir / "stats.json",
                          {"input": str(source) if source else "synthetic groove",
                           "model": generator.info.name})
    mix = audio.astype(np.float64)
    for stem in settings.stems:
        mix = mix + core.writers[stem].buffer
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    sf.write(str(out_dir / "mix.wav"), (mix / max(1.0, peak)).astype(np.float32), rate,
             subtype="FLOAT")
    stats = core.stats()
    print(f"wrote {out_dir}/: input.wav, {', '.join(p.name for p in paths.values())}, "
          f"mix.wav, stats.json — {stats['steps_complete']}/{stats['steps']} steps, "
          f"{stats['misses']} misses, latency p50 {stats['latency_p50_ms']} ms")
    return 0
