"""The live server: one UDP socket, a receive thread, an engine thread.

The receive thread only decodes, routes and answers (it never waits on the model); every few
milliseconds it also runs :meth:`Server.tick` (watchdogs, expiry, the periodic log). The
engine thread runs :meth:`Engine.run`; its paced sender (:mod:`.delivery`) sends the results
on the same socket from a thread of its own. ``recvfrom``
reads into a buffer larger than any UDP payload, so an oversize datagram is seen whole and
refused by size instead of being silently truncated.
"""

from __future__ import annotations

import gc
import logging
import socket
import threading

from .app import Server
from .session import Address

log = logging.getLogger(__name__)

#: Larger than any UDP payload: oversize datagrams are measured, never truncated.
RECV_BUFFER = 65536
#: Datagrams handled at most before housekeeping runs anyway.
MAX_DRAIN = 1024
#: Socket buffers asked for (the OS may grant less): a step's output is a burst.
SOCKET_BUFFER = 4 * 1024 * 1024


def open_udp_socket(host: str, port: int, *, buffer: int = SOCKET_BUFFER) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, buffer)
        except OSError:  # a smaller OS limit is fine
            pass
    sock.bind((host, port))
    return sock


def freeze_heap() -> None:
    """Move every object alive now (the model, torch, the libraries) out of the garbage
    collector's sight. Call once after loading and warming up: a full collection then scans
    only what the server allocates later. Without it a full collection walks the model's half
    a million objects, which takes 0.1–0.6 s with the interpreter lock held: the receive loop
    and the engine would stop for that long."""
    gc.collect()
    gc.freeze()


class UdpServer:
    """Runs a :class:`Server` on a UDP socket until :meth:`stop`."""

    def __init__(self, server: Server, host: str = "127.0.0.1", port: int = 7400, *,
                 tick_interval: float = 0.005) -> None:
        self.server = server
        self.host = host
        self.port = port
        self.tick_interval = tick_interval
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> Address:
        if self._sock is None:
            raise RuntimeError("the server is not started")
        host, port = self._sock.getsockname()[:2]
        return host, port

    def start(self) -> UdpServer:
        self._sock = open_udp_socket(self.host, self.port)
        self._sock.settimeout(self.tick_interval)
        sock = self._sock
        self.server.set_sender(lambda payload, address: sock.sendto(payload, address))
        self.server.engine.delivery.start()
        self._threads = [
            threading.Thread(target=self._receive_loop, name="sideman-receive", daemon=True),
            threading.Thread(target=self.server.engine.run, args=(self._stop,),
                             name="sideman-engine", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("sideman listening on %s:%d (udp)", *self.address)
        return self

    def _receive_one(self, sock: socket.socket) -> bool:
        """Handle one datagram if one comes within the socket's timeout."""
        try:
            data, address = sock.recvfrom(RECV_BUFFER)
        except (TimeoutError, BlockingIOError):
            return False
        except OSError as exc:
            # ICMP "port unreachable" from a vanished client surfaces here on some OSes.
            if not self._stop.is_set():
                log.debug("recvfrom: %s", exc)
            return False
        try:
            self.server.handle_datagram(data, address[:2])
        except Exception:  # a bug must never stop the server answering
            log.exception("datagram from %s could not be handled", address)
        return True

    def _receive_loop(self) -> None:
        assert self._sock is not None
        sock = self._sock
        server = self.server
        clock = server.clock
        next_tick = clock.now()
        while not self._stop.is_set():
            self._receive_one(sock)
            now = clock.now()
            if now >= next_tick:
                # Drain what has already arrived before the watchdogs look at the clock: if
                # this thread was descheduled, audio that came in time must not count as lost.
                sock.settimeout(0.0)
                for _ in range(MAX_DRAIN):
                    if not self._receive_one(sock):
                        break
                sock.settimeout(self.tick_interval)
                next_tick = clock.now() + self.tick_interval
                try:
                    server.tick()
                except Exception:
                    log.exception("housekeeping failed")

    def stop(self, *, notify: bool = True) -> None:
        if notify:
            self.server.shutdown()
        self._stop.set()
        self.server.engine.wake()
        for thread in self._threads:
            thread.join(timeout=5)
        self.server.engine.delivery.stop()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> UdpServer:
        return self.start() if self._sock is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
