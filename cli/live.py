"""``sideman serve``, ``sideman client`` and ``sideman demo``: argument parsing in one place.

Handlers check every setting they can before the slow work (loading a model, streaming a
song): a wrong value is one line naming what is allowed (:class:`~.main.CommandError`), not a
traceback after the fact. Then they turn the arguments into constructor arguments
(ServerConfig, ClientSettings, RunOptions) and call into the library; heavy imports happen
inside them. Ctrl-C in ``client`` and ``demo`` keeps what was received (written as partial
output, the session closed with ``bye``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sideman.models.base import MAX_GUIDANCE, STEMS
from sideman.server.protocol import DEFAULT_PORT

from .main import INTERRUPTED, CommandError, listen_port, port
from .options import (
    grid_tracker_option,
    server_limits,
    server_options,
    stop_option,
    stream_options,
    threads_option,
    timeout_options,
)

log = logging.getLogger(__name__)

#: The demo song, found from the source tree (an editable install, as `make` does) wherever
#: the command runs; an installed wheel has no max_patches/ and the demo synthesises a groove.
DEMO_INPUT = Path(__file__).resolve().parents[1] / "max_patches" / "media" / "demo_input.wav"
#: Its true beat grid (from the song's metadata), sent by default as a host transport would:
#: the demo shows the mode where the model hears the tempo (``--bpm off`` turns it off).
DEMO_BEATS = DEMO_INPUT.with_suffix(".beats.txt")
#: The stems every packaged model generates, checked before loading.
KNOWN_STEMS = STEMS


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
    grid_tracker_option(parser)
    parser.add_argument("--click-period", type=int, default=None, metavar="SAMPLES",
                        help="clicktrack: impulse every N samples of the client clock "
                             "(default 4410)")
    parser.add_argument("--click-delay", type=float, default=0.0, metavar="S",
                        help="clicktrack: pretend each model call takes S seconds (default 0)")
    parser.add_argument("--click-delay-per-step", type=float, default=0.0, metavar="S",
                        help="clicktrack: plus S seconds per sampling step (default 0)")


def _stream_options(parser: argparse.ArgumentParser) -> None:
    stream_options(parser)
    parser.add_argument("--variation", type=float, default=None,
                        help="noise temperature 0..2 (default 1; useful from 0.05)")
    parser.add_argument("--guidance", type=float, default=None,
                        help=f"mixture guidance 0..{MAX_GUIDANCE:g} (1 = off, the default; above 1 "
                             "the part follows what it hears more, at twice the model's work)")
    parser.add_argument("--grid-guidance", type=float, default=None,
                        help=f"beat-grid guidance 0..{MAX_GUIDANCE:g} (default: the model's; "
                             "1 = off; above 1 the part locks to the beat grid more, one more "
                             "network pass)")
    parser.add_argument("--no-track", action="store_true",
                        help="without a host transport, give the model no beat grid (by "
                             "default the server tracks the beat in the input)")
    stop_option(parser)
    parser.add_argument("--xfade", type=int, default=None, metavar="SAMPLES",
                        help="crossfade samples at the head of each region (default 256)")
    parser.add_argument("--datagram", type=int, default=None, metavar="BYTES",
                        help="largest datagram the server sends us (default 8192)")
    delay = parser.add_mutually_exclusive_group()
    delay.add_argument("--delay", type=int, default=None, metavar="SAMPLES",
                       help="our output delay in samples of the input (extends every "
                            "deadline; default 0)")
    delay.add_argument("--delay-ms", type=float, default=None, metavar="MS",
                       help="the same in milliseconds, as the patches' delay box")
    parser.add_argument("--no-refine", action="store_true",
                        help="never send a quick result to be refined later")
    parser.add_argument("--fast", action="store_true",
                        help="faster than real time (realtime 0): same protocol, full quality, "
                             "waits for each step")
    grid = parser.add_mutually_exclusive_group()
    grid.add_argument("--bpm", default=None, metavar="BPM|auto",
                      help="send the host's tempo (/sideman/transport) like a patch synced to "
                           "a transport: a number (the first beat at 0 s, 4/4), 'auto' "
                           "(beats tracked from the input with librosa) or 'off'; default: "
                           "none (demo: the demo song's true beats)")
    grid.add_argument("--beats", type=Path, default=None, metavar="FILE",
                      help="send this beat grid instead: a text file with one beat time in "
                           "seconds per line, optionally followed by its number in the bar "
                           "(1 = downbeat)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar while streaming (only shown on a terminal)")


def _check_model(args: argparse.Namespace) -> None:
    """Fail before loading when --model names nothing that exists."""
    if args.model not in ("default", "clicktrack") and not Path(args.model).is_dir():
        raise CommandError(f"--model {args.model}: no such model; use default, clicktrack or "
                           f"a checkpoint directory (config.json + model.safetensors)")


def _pace(args: argparse.Namespace):
    from sideman.server.delivery import Pace

    if args.pace_burst < 0:
        raise ValueError(f"--pace-burst {args.pace_burst} is out of range; allowed >= 0 "
                         f"(0: no pacing)")
    if not args.pace_max > 0:
        raise ValueError(f"--pace-max {args.pace_max} is out of range; allowed > 0 (MB/s)")
    base = Pace()
    max_rate = args.pace_max * 1e6
    return Pace(rate=min(base.rate, max_rate), min_rate=min(base.min_rate, max_rate),
                max_rate=max_rate, burst=max(1, args.pace_burst),
                enabled=args.pace_burst > 0)


def _load_generator(args: argparse.Namespace):
    from sideman.models.base import GeneratorError
    from sideman.models.registry import load_generator

    options: dict[str, object] = {}
    if args.model == "clicktrack":
        if args.click_period is not None:
            options["period"] = args.click_period
        options["delay"] = args.click_delay
        options["delay_per_step"] = args.click_delay_per_step
    else:
        options["device"] = args.device
        options["beat_tracker"] = args.grid_tracker
        if args.codec_weights is not None:
            options["codec_weights"] = args.codec_weights
    try:
        return load_generator(args.model, **options)
    except (GeneratorError, ValueError, RuntimeError) as exc:
        raise CommandError(str(exc)) from None


def _client_settings(args: argparse.Namespace, rate: int):
    """ClientSettings from the arguments, each checked the way the server will check it
    (the exact limits that depend on the model, such as r rounding, come from the server)."""
    from sideman.client import ClientSettings

    stems = tuple(args.stems or ["drums"])
    unknown = [s for s in stems if s not in KNOWN_STEMS]
    if unknown:
        raise CommandError(f"--stem {', '.join(unknown)}: unknown stem; allowed: "
                           f"{', '.join(KNOWN_STEMS)}")
    if len(set(stems)) != len(stems):
        raise CommandError(f"--stem given twice: {', '.join(stems)}; give each stem once")
    if not 0 < args.r <= 1:
        raise CommandError(f"--r {args.r:g} is out of range; allowed 0 < r <= 1")
    if args.w < -1:
        raise CommandError(f"--w {args.w} is out of range; allowed -1 (retrospective), 0, 1 "
                           f"(live) or more")
    if (args.w + 2) * args.r > 1 + 1e-9:
        raise CommandError(f"--r {args.r:g} with --w {args.w} breaks (w+2)*r <= 1; allowed r "
                           f"<= {1 / (args.w + 2):g} for this w")
    for name, value, lo, hi in (("--variation", args.variation, 0.0, 2.0),
                                ("--guidance", args.guidance, 0.0, MAX_GUIDANCE),
                                ("--grid-guidance", args.grid_guidance, 0.0, MAX_GUIDANCE)):
        if value is not None and not lo <= value <= hi:
            raise CommandError(f"{name} {value:g} is out of range; allowed {lo:g} ... {hi:g}")
    for name, value, lo in (("--steps", args.steps, 1), ("--xfade", args.xfade, 0),
                            ("--delay", args.delay, 0), ("--delay-ms", args.delay_ms, 0)):
        if value is not None and value < lo:
            raise CommandError(f"{name} {value:g} is out of range; allowed >= {lo}")
    delay = args.delay if args.delay is not None else \
        round((args.delay_ms or 0.0) * rate / 1000.0)
    return ClientSettings(
        stems=stems, r=args.r, w=args.w, steps=args.steps,
        seed=args.seed, variation=args.variation, guidance=args.guidance,
        grid_guidance=args.grid_guidance, track=False if args.no_track else None,
        stop=args.stop, xfade=args.xfade, datagram=args.datagram,
        delay=delay, realtime=not args.fast, refine=not args.no_refine)


def _read_input(path: Path) -> tuple[np.ndarray, int]:
    from sideman.client import read_mono

    if not path.is_file():
        raise CommandError(f"no such input file: {path}")
    try:
        return read_mono(path)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _check_wav(path: Path, raw: str, option: str) -> Path:
    """An output file name the stream will surely be written to (checked before streaming,
    so nothing received is lost to a bad name at the end)."""
    if path.is_dir() or raw.endswith(("/", "\\")):
        raise CommandError(f"{option} {raw} is a folder; give a file name ending in .wav, "
                           f"e.g. {option} {path / 'out.wav'}")
    if path.suffix.lower() != ".wav":
        raise CommandError(f"{option} {raw}: only WAV files are written (32-bit float); give "
                           f"a name ending in .wav")
    parent = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise CommandError(f"{option} {raw}: {parent} is a file, not a folder")
    return path


def _resolve(host: str, port_: int) -> tuple[str, int]:
    """``host`` as an IP address (IPv4 first), or a clear error for a name that does not
    resolve."""
    try:
        infos = socket.getaddrinfo(host, port_, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise CommandError(f"--host {host}: cannot resolve it ({exc.strerror}); give a host "
                           f"name or an IP address such as 127.0.0.1") from None
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    return str(infos[0][4][0]), port_


def _transports(args: argparse.Namespace, audio: np.ndarray, rate: int) -> tuple:
    """The beat grid to send (--bpm or --beats), as transport updates; () for none."""
    from sideman.client import transport_updates

    if args.beats is not None:
        if not args.beats.is_file():
            raise CommandError(f"--beats {args.beats}: no such file")
        try:
            rows = [line.replace(",", " ").split() for line in args.beats.read_text()
                    .splitlines() if line.strip() and not line.lstrip().startswith("#")]
            times = [float(row[0]) for row in rows]
            numbers = [int(float(row[1])) for row in rows if len(row) > 1]
        except (ValueError, UnicodeDecodeError):
            raise CommandError(f"--beats {args.beats}: not a beat list; allowed: one beat "
                               f"time in seconds per line, optionally followed by its number "
                               f"in the bar (1 = downbeat)") from None
        if len(times) < 2:
            raise CommandError(f"--beats {args.beats}: {len(times)} beat(s); a grid needs at "
                               f"least two")
        if len(numbers) == len(times):
            per_bar = max(numbers)
            downbeats = [t for t, n in zip(times, numbers, strict=True) if n == 1]
        else:
            per_bar, downbeats = 4, [times[0]]
        return transport_updates(times, rate, beats_per_bar=max(1, min(16, per_bar)),
                                 downbeats=downbeats or None)
    if args.bpm in (None, "off"):
        return ()
    if args.bpm == "auto":
        import librosa

        _tempo, beats = librosa.beat.beat_track(y=audio, sr=rate, units="time")
        if len(beats) < 2:
            raise CommandError("--bpm auto: no beats found in the input; give --bpm BPM")
        return transport_updates(list(beats), rate, downbeats=[float(beats[0])])
    try:
        bpm = float(args.bpm)
    except ValueError:
        bpm = 0.0
    if not 20 <= bpm <= 400:
        raise CommandError(f"--bpm {args.bpm}: allowed a tempo 20 ... 400, 'auto' or 'off'")
    period = 60.0 / bpm
    beats = np.arange(0.0, max(2 * period, len(audio) / rate + period), period)
    return transport_updates(list(beats), rate, downbeats=[0.0])


class _Progress:
    """A progress bar on stderr while a song streams (tqdm: only on a terminal), made at
    the first report, when the length of the stream is known."""

    def __init__(self, rate: int, enabled: bool, what: str) -> None:
        self.rate, self.enabled, self.what = rate, enabled, what
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total / self.rate, unit="s", desc=self.what, leave=False,
                            disable=None if self.enabled else True, file=sys.stderr,
                            bar_format="{desc}: {n:.1f}/{total:.1f} s of audio {bar} "
                                       "{elapsed}")
        self.bar.update((done - self.done) / self.rate)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_plan(who: str):
    """``on_ready`` check of the stream: refuses an input too short for any step, and warns
    when the accompaniment covers less than half of it (it starts one look-ahead late)."""
    from sideman.client import ClientError

    def check(core) -> None:
        rate, length = core.client_rate, core.length
        r, w = float(core.setting("r")[0]), int(core.setting("w")[0])
        plan = core.plan()
        if plan:
            start = max(0, plan[0].region[0])
        else:
            g, cm = core.geometry()
            start = cm.client_span(*g.region(max(0, -g.lookahead)))[0]
        if not plan:
            raise ClientError(f"the input is {length / rate:.2f} s, too short for r={r:g} "
                              f"w={w}: the first generated region starts at {start / rate:.2f} "
                              f"s; give a longer input (or a smaller --r or --w)")
        if start > length / 2:
            print(f"{who}: warning: only the last {(length - start) / rate:.2f} s of the "
                  f"{length / rate:.2f}-s input get a part: generation starts at "
                  f"{start / rate:.2f} s (r={r:g} w={w}); give a longer input or a smaller "
                  f"--r or --w", file=sys.stderr)

    return check


def _run_stream(who: str, audio: np.ndarray, rate: int, settings, server, options, *,
                transports: tuple, progress: bool, name: str):
    """run_client with the plan check and a progress bar; a ClientError is exit status 1."""
    from sideman.client import ClientError, run_client

    bar = _Progress(rate, progress, who)
    try:
        return run_client(audio, rate, settings, server, options=options, name=name,
                          transports=transports, on_ready=_check_plan(who), progress=bar)
    except ClientError as exc:
        raise CommandError(str(exc), code=1) from None
    finally:
        bar.close()


def _summary(core, rate: int) -> str:
    stats = core.stats()
    plan = core.plan() if core.ready else []
    start = f", parts from {max(0, plan[0].region[0]) / rate:.2f} s" if plan else ""
    return (f"{stats['steps_complete']}/{stats['steps']} steps complete, "
            f"{stats['misses']} misses, {stats['lost_chunks']} lost chunks, "
            f"latency p50 {stats['latency_p50_ms']} ms{start}")


# -- serve ---------------------------------------------------------------------------------
def _register_serve(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="run the OSC/UDP server a Max or Pd patch talks to",
                              description="Run the sideman server (protocol: docs/PROTOCOL.md).")
    _model_options(p, "default")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=listen_port, default=DEFAULT_PORT,
                   help=f"UDP port to listen on (default {DEFAULT_PORT}, the patches'; 0: any "
                        "free port)")
    p.add_argument("--allow", nargs="+", default=[], metavar="CIDR",
                   help="networks allowed besides loopback, e.g. 192.168.1.0/24 "
                        "(needed with --host 0.0.0.0)")
    server_options(p)
    p.add_argument("--metrics-port", type=listen_port, default=None, metavar="PORT",
                   help="serve Prometheus metrics on http://METRICS_HOST:PORT/metrics "
                        "(default: off)")
    p.add_argument("--metrics-host", default="127.0.0.1",
                   help="address the metrics endpoint binds (default 127.0.0.1, whatever "
                        "--host is: the metrics name sessions and source addresses)")
    server_limits(p)
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the throw-away model calls that calibrate step timing (two, "
                        "plus one on two stems for a model with several)")
    threads_option(p, default=None, metavar="N",
                   help="torch CPU threads for the model (default: torch's, one per core); "
                        "1 is much faster when other programs share the cores")
    p.set_defaults(func=_serve)


def _check_listen(host: str, port_: int) -> None:
    """Bind the address once before the model loads: a port in use (a second ``sideman
    serve``) or a host that is not ours is an error in a second, not after the load."""
    from sideman.server.transport import open_udp_socket

    try:
        open_udp_socket(host, port_).close()
    except socket.gaierror as exc:
        raise CommandError(f"--host {host}: cannot resolve it ({exc.strerror}); give an "
                           f"address of this machine such as 127.0.0.1 or 0.0.0.0") from None
    except OSError as exc:
        hint = ("another program (a second `sideman serve`?) listens there; stop it or "
                "choose another --port" if exc.errno == 98 or "in use" in str(exc) else
                "give an address of this machine such as 127.0.0.1 or 0.0.0.0")
        raise CommandError(f"cannot listen on udp://{host}:{port_}: {exc.strerror or exc}; "
                           f"{hint}") from None


def _check_metrics(host: str, port_: int) -> None:
    """The metrics endpoint's TCP port, checked like the UDP one before the model loads."""
    try:
        infos = socket.getaddrinfo(host, port_, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            # as http.server binds: a port in TIME_WAIT is free, one listening is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        raise CommandError(f"cannot serve metrics on http://{host}:{port_}: "
                           f"{exc.strerror or exc}; choose another --metrics-port or "
                           f"--metrics-host") from None


def _serve(args: argparse.Namespace) -> int:
    from sideman.server.app import Server, ServerConfig
    from sideman.server.telemetry import MetricsServer
    from sideman.server.transport import UdpServer, freeze_heap

    if args.threads is not None and args.threads < 1:
        raise CommandError(f"--threads {args.threads} is out of range; allowed >= 1")
    _check_model(args)
    try:
        config = ServerConfig(max_sessions=args.max_sessions, idle_timeout=args.idle_timeout,
                              max_datagram=args.max_datagram, allow=tuple(args.allow),
                              max_batch=args.max_batch, log_interval=args.log_interval,
                              watchdog_grace=args.watchdog_ms / 1000.0,
                              source_rate=args.source_rate, source_burst=args.source_burst,
                              pace=_pace(args))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    _check_listen(args.host, args.port)
    if args.metrics_port is not None:
        _check_metrics(args.metrics_host, args.metrics_port)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    print(f"sideman serve: loading model {args.model}…", flush=True)
    generator = _load_generator(args)
    if args.host not in ("127.0.0.1", "::1", "localhost") and not args.allow:
        log.warning("bound to %s but only loopback clients are allowed; add --allow CIDR "
                    "for the networks you trust", args.host)
    server = Server(generator, config)
    if not args.no_warmup:
        print("sideman serve: warming up…", flush=True)
        timings = server.engine.warmup()
        log.info("warm-up: %s", ", ".join(f"{call} {seconds * 1e3:.1f} ms"
                                          for call, seconds in timings.items()))
    freeze_heap()
    try:
        udp = UdpServer(server, args.host, args.port).start()
    except OSError as exc:  # taken while the model loaded
        raise CommandError(f"cannot listen on udp://{args.host}:{args.port}: "
                           f"{exc.strerror or exc}; choose another --port") from None
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
                    "INPUT sample for sample, plus a JSON stats file. Ctrl-C stops early and "
                    "writes what was received.")
    p.add_argument("input", type=Path, help="input sound file (mixed down to mono)")
    p.add_argument("--out", required=True, metavar="OUT.wav",
                   help="output WAV; with several --stem, OUT-STEM.wav per stem")
    p.add_argument("--stats", type=Path, default=None,
                   help="stats JSON (default: OUT's name with .stats.json)")
    p.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=DEFAULT_PORT,
                   help=f"server UDP port (default {DEFAULT_PORT})")
    timeout_options(p)
    _stream_options(p)
    p.set_defaults(func=_client)


def _print_warnings(who: str, warnings: list[str]) -> None:
    """The server's ``/sideman/warning`` texts (``r`` rounded, a setting outside the model's
    training grid): things the user asked for and did not get exactly."""
    for text in dict.fromkeys(warnings):  # each once, in order
        print(f"{who}: server warning: {text}", file=sys.stderr)


def _client(args: argparse.Namespace) -> int:
    from sideman.client import RunOptions, default_stats_path, stem_paths, write_outputs

    audio, rate = _read_input(args.input)
    settings = _client_settings(args, rate)
    out = _check_wav(Path(args.out), args.out, "--out")
    paths = stem_paths(out, settings.stems)
    stats_path = args.stats or default_stats_path(out)
    server = _resolve(args.host, args.port)
    transports = _transports(args, audio, rate)
    core = _run_stream("sideman client", audio, rate, settings, server,
                       RunOptions(fast=args.fast, step_timeout=args.step_timeout,
                                  handshake_timeout=args.connect_timeout),
                       transports=transports, progress=not args.no_progress,
                       name="sideman-client")
    _print_warnings("sideman client", core.warnings)
    if core.interrupted and not core.ready:
        print("sideman client: interrupted before streaming; nothing to write", file=sys.stderr)
        return INTERRUPTED
    write_outputs(core, rate, paths, stats_path,
                  {"input": str(args.input), "interrupted": core.interrupted})
    print(f"{'interrupted: ' if core.interrupted else ''}wrote "
          f"{', '.join(str(p) for p in paths.values())} and {stats_path}: {_summary(core, rate)}")
    if core.interrupted:
        return INTERRUPTED
    # Steps lost or never complete are a failure a script must see.
    stats = core.stats()
    return 0 if stats["steps"] and stats["steps_complete"] == stats["steps"] else 1


# -- demo ----------------------------------------------------------------------------------
def _register_demo(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="start a server in-process and stream a demo song through it",
        description="Runs the server and the reference client in one process and writes "
                    "out/demo/ (input, generated stems, a mix, stats.json). Ctrl-C stops "
                    "early and writes what was made.")
    _model_options(p, "default")
    p.add_argument("--input", type=Path, default=None,
                   help="input file (default max_patches/media/demo_input.wav of the "
                        "source tree if present, else a synthetic groove)")
    p.add_argument("--out-dir", type=Path, default=Path("out/demo"),
                   help="output folder (default out/demo)")
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

    from sideman.client import RunOptions, write_outputs
    from sideman.server.app import Server, ServerConfig
    from sideman.server.transport import UdpServer, freeze_heap

    # Everything that can be wrong is checked before the model loads (it takes seconds).
    source = args.input or (DEMO_INPUT if DEMO_INPUT.is_file() else None)
    if args.seconds is not None and args.seconds <= 0:
        raise CommandError(f"--seconds {args.seconds:g} is out of range; allowed > 0")
    if source is not None:
        audio, rate = _read_input(source)
    else:
        rate = 44100
        audio = synth_groove(args.seconds or 12.0, rate)
    if args.seconds is not None:
        audio = audio[:round(args.seconds * rate)]
    settings = _client_settings(args, rate)
    out_dir: Path = args.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise CommandError(f"--out-dir {out_dir} is a file; give a folder")
    _check_model(args)
    if source == DEMO_INPUT and args.bpm is None and args.beats is None \
            and DEMO_BEATS.is_file():
        args.beats = DEMO_BEATS
    transports = _transports(args, audio, rate)
    print(f"sideman demo: loading model {args.model}…", flush=True)
    generator = _load_generator(args)
    server = Server(generator, ServerConfig(log_interval=0))
    server.engine.warmup()
    freeze_heap()
    out_dir.mkdir(parents=True, exist_ok=True)
    sf.write(str(out_dir / "input.wav"), audio, rate, subtype="FLOAT")
    tempo = "tracked beats" if args.bpm == "auto" else f"{args.bpm} bpm"
    grid = f", beat grid from {args.beats.name if args.beats else tempo}" if transports else ""
    print(f"sideman demo: model {generator.info.name}, {len(audio) / rate:.1f} s of "
          f"{'synthetic groove' if source is None else source}, stems "
          f"{', '.join(settings.stems)}, r={settings.r} w={settings.w}"
          f"{' (fast)' if args.fast else ' (real time)'}{grid}", flush=True)
    with UdpServer(server, "127.0.0.1", 0) as udp:
        core = _run_stream("sideman demo", audio, rate, settings, udp.address,
                           RunOptions(fast=args.fast), transports=transports,
                           progress=not args.no_progress, name="sideman-demo")
    _print_warnings("sideman demo", core.warnings)
    if core.interrupted and not core.ready:
        print(f"sideman demo: interrupted before streaming; wrote {out_dir}/input.wav",
              file=sys.stderr)
        return INTERRUPTED
    paths = write_outputs(core, rate, {stem: out_dir / f"{stem}.wav" for stem in settings.stems},
                          out_dir / "stats.json",
                          {"input": str(source) if source else "synthetic groove",
                           "model": generator.info.name, "interrupted": core.interrupted})
    mix = audio.astype(np.float64)
    for stem in settings.stems:
        mix = mix + core.writers[stem].buffer
    peak = float(np.abs(mix).max()) if mix.size else 0.0
    sf.write(str(out_dir / "mix.wav"), (mix / max(1.0, peak)).astype(np.float32), rate,
             subtype="FLOAT")
    print(f"{'interrupted: ' if core.interrupted else ''}wrote {out_dir}/: input.wav, "
          f"{', '.join(p.name for p in paths.values())}, mix.wav, stats.json — "
          f"{_summary(core, rate)}")
    if not core.interrupted:
        print(f"listen to {out_dir}/mix.wav (your input with the generated "
              f"{' and '.join(settings.stems)}); to play live: `make serve` and a patch "
              f"(README, \"For performers\")")
    return INTERRUPTED if core.interrupted else 0
