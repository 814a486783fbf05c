"""A loopback flooder: tens of thousands of datagrams per second at a local server.

Runs as its own process (``python -m sideman.bench.flood``), so that its sending does not
share the server's interpreter lock: what the server pays is what a stranger on the network
would cost it. It only ever sends to a loopback address (127.0.0.0/8 or ::1) and refuses
anything else. Content, mixed in a seeded order:

* ``garbage``: random bytes and the malformed corpus;
* ``session``: well-formed ``audio``, ``mark``, ``status`` and ``set`` messages for sessions
  that do not exist or with wrong tokens (``--session`` adds a real session id);
* ``hello``: well-formed ``hello`` messages (a wrong version, or a valid one that asks for a
  session) and pings.

It prints one JSON line: datagrams sent, seconds, the rate achieved, send errors.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np

from sideman.server import protocol
from sideman.server.testing import malformed_corpus

KINDS = ("garbage", "session", "hello")


def check_loopback(host: str) -> None:
    """Refuse any target that is not a loopback address."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"flood target must be a loopback IP address, got {host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"flood target must be on loopback (127.0.0.0/8 or ::1), got {host}")


def flood_payloads(kinds: tuple[str, ...], seed: int, count: int = 512,
                   session: int | None = None) -> list[bytes]:
    """``count`` datagrams of the given kinds (sent round-robin)."""
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown flood kind {kind!r}; kinds: {', '.join(KINDS)}")
    rng = random.Random(seed)
    corpus = [d for _, d, _ in malformed_corpus() if len(d) < 9000]
    samples = np.zeros(256, np.float32)
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if kind == "garbage":
            out.append(rng.choice(corpus) if rng.random() < 0.3 else
                       rng.randbytes(rng.choice((16, 64, 200, 1024))))
        elif kind == "session":
            sid = session if session is not None and rng.random() < 0.5 else \
                rng.randrange(1, 2**24)
            token = f"{rng.getrandbits(64):016x}"
            what = rng.random()
            if what < 0.5:
                out.append(protocol.encode_audio(sid, token, rng.randrange(0, 2**20), samples))
            elif what < 0.7:
                out.append(protocol.encode_session_message(protocol.MARK, sid, token, 4096))
            elif what < 0.85:
                out.append(protocol.encode_session_message(protocol.STATUS, sid, token))
            else:
                out.append(protocol.encode_session_message(protocol.SET, sid, token, "r", 0.5))
        else:
            what = rng.random()
            if what < 0.4:
                out.append(protocol.encode_hello(44100, rng.getrandbits(31), "flood",
                                                 version=2))
            elif what < 0.7:
                out.append(protocol.encode_hello(44100, rng.getrandbits(31), "flood"))
            else:
                out.append(protocol.encode_ping(rng.getrandbits(31)))
    return out


def flood(host: str, port: int, *, rate: float, seconds: float, kinds: tuple[str, ...],
          sources: int = 4, seed: int = 0, session: int | None = None,
          stop: threading.Event | None = None) -> dict[str, object]:
    """Send at ``rate`` datagrams per second for ``seconds`` (or until ``stop``) from
    ``sources`` sockets."""
    check_loopback(host)
    if rate <= 0 or seconds <= 0 or sources < 1:
        raise ValueError("rate, seconds and sources must be positive")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = []
    for _ in range(sources):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        sock.setblocking(False)
        socks.append(sock)
    payloads = flood_payloads(kinds, seed, session=session)
    target = (host, port)
    batch = max(1, int(rate / 500))  # send in batches, 500 times a second
    sent = errors = 0
    started = time.monotonic()
    i = 0
    while True:
        now = time.monotonic()
        elapsed = now - started
        if elapsed >= seconds or (stop is not None and stop.is_set()):
            break
        due = int(elapsed * rate) + batch
        while sent < due:
            try:
                socks[i % sources].sendto(payloads[i % len(payloads)], target)
                sent += 1
            except (BlockingIOError, OSError):
                errors += 1
            i += 1
        ahead = sent / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.monotonic() - started
    for sock in socks:
        sock.close()
    return {"sent": sent, "seconds": round(elapsed, 3), "rate": round(sent / elapsed, 1),
            "errors": errors, "sources": sources, "kinds": list(kinds)}


@dataclass
class FloodProcess:
    """A flooder in a child process (see :func:`start_flood`)."""

    process: subprocess.Popen

    def result(self, timeout: float) -> dict[str, object]:
        """Stop the flood now (SIGTERM: it reports and exits) and return its figures."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=timeout)
        if self.process.returncode != 0:
            raise RuntimeError(f"the flooder failed ({self.process.returncode}): {err[-2000:]}")
        return json.loads(out.strip().splitlines()[-1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)


def start_flood(address: tuple[str, int], *, rate: float, seconds: float,
                kinds: tuple[str, ...] = KINDS, sources: int = 4, seed: int = 0,
                session: int | None = None) -> FloodProcess:
    """Start ``python -m sideman.bench.flood`` against ``address`` (loopback only)."""
    check_loopback(address[0])
    cmd = [sys.executable, "-m", "sideman.bench.flood", "--host", address[0], "--port",
           str(address[1]), "--rate", str(rate), "--seconds", str(seconds), "--sources",
           str(sources), "--seed", str(seed), "--kinds", ",".join(kinds)]
    if session is not None:
        cmd += ["--session", str(session)]
    return FloodProcess(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address only")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=20000.0, help="datagrams per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sources", type=int, default=4, help="sending sockets (ports)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"comma-separated: {', '.join(KINDS)}")
    parser.add_argument("--session", type=int, default=None,
                        help="a real session id to aim wrong tokens at")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        result = flood(args.host, args.port, rate=args.rate, seconds=args.seconds,
                       kinds=tuple(k for k in args.kinds.split(",") if k),
                       sources=args.sources, seed=args.seed, session=args.session, stop=stop)
    except ValueError as exc:
        print(f"flood: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
