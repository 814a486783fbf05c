"""The sideman server: sessions, routing of protocol messages, housekeeping. No sockets here.

:class:`Server` is a plain object: datagrams go in through :meth:`Server.handle_datagram`,
datagrams come out through the ``send(payload, address)`` callable it was given, and time
comes from an injectable :class:`~sideman.server.clock.Clock`. The live server
(:mod:`.transport`) wires it to a UDP socket and runs :meth:`Engine.run` in a thread; nothing
in here knows about threads except the lock that guards session state.

Driving it offline (one implementation of the streaming logic, two drivers)
---------------------------------------------------------------------------
An offline driver (the evaluation sweep, tests) runs the very same session, scheduler and
engine code on a simulated clock, without sockets; :mod:`sideman.eval.simulate` is the
reference (``Simulation``, a discrete-event driver for any number of clients in fast or real
time, and ``run_offline``, one fast client)::

    clock = ManualClock()
    outbox = []                                   # what the server sent
    server = Server(generator, ServerConfig(), clock=clock,
                    send=lambda payload, address: outbox.append(payload))
    core = StreamClient(settings, rate, len(audio))   # sideman.client, no socket
    server.handle_datagram(core.hello(), CLIENT)      # datagrams in ...
    ...                                               # set_message(), audio_messages(), mark()
    clock.advance(seconds)                            # time moves only when told
    server.tick()                                     # watchdogs, expiry (reads the clock)
    while server.engine.process_ready():              # run ready steps synchronously
        pass
    for payload in outbox:                            # ... datagrams out
        core.on_datagram(payload, clock.now())

Simulated per-step latency: the generator's ``generate`` advances the ``ManualClock`` by
the simulated time while datagrams keep arriving and the server keeps ticking
(``Simulation``'s ``Latency``); the engine measures steps with the clock, so deadlines,
degradation and misses follow the simulation. Simulated loss: drop, duplicate, delay or
reorder datagrams between the two sides (``Simulation``'s ``link`` callable, or per client
the seeded ``sideman.eval.network.Decider``). The noise of each step is seeded by (seed,
step, stem) and the step grid is fixed by the settings, so the output equals what a live
client gets with the same settings and seed (tests/eval/test_simulate.py checks it in
fast mode and in real time).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sideman.models.base import Generator, Transport, network_copies

from . import osc, protocol
from .clock import Clock, WallClock
from .delivery import Pace
from .engine import Engine
from .guard import (
    CONTROL_BURST,
    CONTROL_RATE,
    DEFAULT_BURST,
    DEFAULT_RATE,
    SESSION_BURST,
    SESSION_RATE,
    Bucket,
    SourceGuard,
)
from .protocol import ErrorCode, ProtocolError
from .session import Address, PositionError, Session, reply_address
from .settings import (
    SETTING_KEYS,
    SettingError,
    Settings,
    ack_values,
    allowed_ratios,
    apply_setting,
)
from .telemetry import ServerCounters, log_line, prometheus_text

log = logging.getLogger(__name__)

#: Sends a datagram (what it returns, e.g. ``socket.sendto``'s byte count, is not used).
Send = Callable[[bytes, Address], object]

#: Session ids are 1 ... MAX_SESSION_ID (float32 holds every integer up to 2**24 exactly).
MAX_SESSION_ID = 2**24 - 1
#: Seconds a session may go without an authenticated message (one carrying its token) after
#: its hello before a full server may close it to make room for a new hello.
UNCONFIRMED_GRACE = 2.0
#: Source hosts whose allow/deny decision is cached.
MAX_CACHED_HOSTS = 4096
#: Seconds between two ``position`` errors to one session (late audio can come in bursts).
POSITION_ERROR_INTERVAL = 0.5
#: A session's messages that cost it more (and its control budget too).
_CONTROL = (protocol.SetRequest, protocol.Reset, protocol.TransportInfo, protocol.StatusRequest)
#: Seconds between two log lines about one session's failing housekeeping.
FAULT_LOG_INTERVAL = 10.0


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs to know, parsed once by the CLI."""

    max_sessions: int = 16
    idle_timeout: float = 60.0
    max_datagram: int = protocol.DEFAULT_MAX_DATAGRAM
    #: Networks (CIDR) allowed besides loopback, e.g. ("192.168.1.0/24",).
    allow: tuple[str, ...] = ()
    #: Seconds past a step's capture point before the watchdog runs it without all input.
    watchdog_grace: float = 0.02
    max_queue: int = 64
    #: Queued steps one session may hold (its oldest beyond that are superseded).
    max_queue_per_session: int = 16
    max_batch: int = 8
    #: Seconds between periodic one-line logs (0: never).
    log_interval: float = 10.0
    #: Per-source budget (datagrams per second, burst) for traffic that is not a session's
    #: own valid messages (:mod:`.guard`); ``source_rate`` 0 turns the guard off.
    source_rate: float = DEFAULT_RATE
    source_burst: float = DEFAULT_BURST
    #: How generated audio is paced to each client (:mod:`.delivery`).
    pace: Pace = field(default_factory=Pace)

    def __post_init__(self) -> None:
        if self.max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {self.max_sessions}")
        if self.idle_timeout <= 0:
            raise ValueError(f"idle_timeout must be > 0 s, got {self.idle_timeout}")
        if not protocol.MIN_DATAGRAM <= self.max_datagram <= 65507:
            raise ValueError(f"max_datagram must be in [{protocol.MIN_DATAGRAM}, 65507], "
                             f"got {self.max_datagram}")
        if self.source_rate < 0 or (self.source_rate > 0 and self.source_burst < 1):
            raise ValueError(f"source_rate must be >= 0 (0: off) and source_burst >= 1, got "
                             f"{self.source_rate}, {self.source_burst}")
        for cidr in self.allow:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"--allow {cidr!r} is not a network (CIDR): {exc}") from None


class Server:
    """Sessions and protocol routing; see the module docstring for how to drive it."""

    def __init__(self, generator: Generator, config: ServerConfig | None = None, *,
                 clock: Clock | None = None, send: Send | None = None) -> None:
        self.generator = generator
        self.config = config or ServerConfig()
        self.clock = clock or WallClock()
        self.lock = threading.RLock()
        self._count_lock = threading.Lock()
        self.counters = ServerCounters()
        self.sessions: dict[int, Session] = {}
        self._nonces: dict[tuple[Address, int], int] = {}
        #: Sessions bound to each address (their valid traffic does not cost a budget).
        self._bound: dict[Address, int] = {}
        self.guard = (SourceGuard(self.config.source_rate, self.config.source_burst)
                      if self.config.source_rate > 0 else None)
        self._send: Send = send or (lambda payload, address: None)
        self._networks = [ipaddress.ip_network(c, strict=False) for c in self.config.allow]
        self._allowed_hosts: dict[str, bool] = {}  # host -> allowed (parsing costs µs)
        # Datagrams sent in answer to the datagram being handled (its cost to its source).
        self._replying = 0
        self._replies = 0
        self._last_log = self.clock.now()
        self._last_forget = self._last_log
        self._last_position_error: dict[int, float] = {}
        self._last_fault_log: dict[int, float] = {}
        self.engine = Engine(generator, clock=self.clock, emit=self._emit, lock=self.lock,
                             counters=self.counters, max_queue=self.config.max_queue,
                             max_batch=self.config.max_batch,
                             max_per_session=self.config.max_queue_per_session,
                             pace=self.config.pace)

    # -- plumbing ------------------------------------------------------------------------
    def set_sender(self, send: Send) -> None:
        self._send = send

    def _emit(self, payload: bytes, address: Address) -> None:
        # Called from the receive thread and from the engine thread (chunks go out without
        # the session lock), so the shared counters get their own small lock.
        if threading.get_ident() == self._replying:
            self._replies += 1
        try:
            self._send(payload, address)
            failed = False
        except OSError as exc:  # e.g. the client's port is gone; never kill the loop
            failed = True
            log.debug("send to %s failed: %s", address, exc)
        with self._count_lock:
            self.counters.datagrams_out += 1
            self.counters.bytes_out += len(payload)
            self.counters.send_errors += failed

    def _allowed(self, host: str) -> bool:
        known = self._allowed_hosts.get(host)
        if known is not None:
            return known
        try:
            ip = ipaddress.ip_address(host)
            allowed = ip.is_loopback or any(ip in net for net in self._networks)
        except ValueError:
            allowed = False
        if len(self._allowed_hosts) >= MAX_CACHED_HOSTS:  # bounded: start over
            self._allowed_hosts.clear()
        self._allowed_hosts[host] = allowed
        return allowed

    # -- input ---------------------------------------------------------------------------
    def handle_datagram(self, data: bytes, address: Address) -> None:
        """Process one datagram from ``address``; replies go out through ``send``."""
        now = self.clock.now()
        with self.lock:
            c = self.counters
            c.datagrams_in += 1
            c.bytes_in += len(data)
            host = address[0]
            if not self._allowed(host):
                c.not_allowed += 1
                c.count_drop(host, "not_allowed")
                return
            guard = self.guard
            # A source with no budget left is dropped unread, unless a session is bound to
            # its address: then its session's own messages still pass (a spoofer cannot
            # silence a performer by spending the performer's address's budget).
            exhausted = guard is not None and not guard.admit(address, now)
            # Only for a session that has proved itself (a message with its token), and never
            # a bundle: decoding hundreds of messages to find none of them the session's would
            # cost the receive loop what the budget saves.
            if exhausted and (data.startswith(osc.BUNDLE_TAG)
                              or not self._confirmed_at(address)):
                c.rate_limited += 1
                c.count_drop(host, "rate_limited")
                return
            try:
                packet = osc.decode(data, max_size=self.config.max_datagram, float_runs=True)
            except osc.OscDecodeError as exc:
                if exhausted:
                    self._drop_limited(address)
                    return
                c.count_malformed(exc.reason, host)
                c.count_drop(host, "malformed")
                if guard is not None:
                    guard.charge(address, now)
                return
            c.timetags_ignored += packet.timetags_ignored
            # Each message that is not a session's own costs its source one token plus one
            # per reply, charged into debt after the fact; messages beyond what the source
            # has left are dropped unanswered (a bundle of hellos cannot amplify).
            left = 0.0 if guard is None else (0.0 if exhausted else guard.tokens(address, now))
            spent = 0
            self._replying, self._replies = threading.get_ident(), 0
            try:
                for message in packet.messages:
                    before = self._replies
                    limited = guard is not None and left - spent < 1
                    if not self._handle_message(message, address, now, limited):
                        spent += 1 + self._replies - before
            finally:
                self._replying = 0
            if guard is not None and spent:
                guard.charge(address, now, spent)

    def _handle_message(self, message: osc.Message, address: Address, now: float,
                        limited: bool = False) -> bool:
        """Route one message. True if it was a session's own message (its token, from its
        address): that traffic costs the session; anything else costs its source
        (:mod:`.guard`). ``limited``: the source's budget is spent, so only a session's own
        messages are handled; anything else is dropped unanswered."""
        c = self.counters
        try:
            request = protocol.parse_request(message)
        except protocol.UnknownAddress:
            if limited:
                return self._drop_limited(address)
            c.unknown_address += 1
            c.count_source(address[0])
            c.count_drop(address[0], "unknown_address")
            return False
        except ProtocolError as exc:
            if limited:
                return self._drop_limited(address)
            c.bad_message += 1
            c.count_drop(address[0], "bad_message")
            session = self.sessions.get(exc.session)
            to = address
            if session is not None and session.bound_to(address):
                session.count_rejected()
                to = session.reply_to
            self._emit(protocol.encode_error(exc.session if session else 0, exc.code,
                                             exc.reason), to)
            return False
        if isinstance(request, protocol.Ping):
            own = self._own_session(request.session, request.token, address)
            if own is not None:
                return self._session_message(own, request, address, now)
            if limited:
                return self._drop_limited(address)
            return self._on_ping(request, address, now)
        if isinstance(request, protocol.Hello):
            if limited:
                return self._drop_limited(address)
            self._on_hello(request, address, now)
            return False
        if limited and (isinstance(request, protocol.Resume) or self._own_session(
                request.session, request.token, address) is None):
            return self._drop_limited(address)
        session = self._authorize(request, address, now)
        if session is None:
            return False
        if isinstance(request, protocol.Resume):
            self._on_resume(session, request, address, now)
            return False
        return self._session_message(session, request, address, now)

    def _own_session(self, session_id: int | None, token: str | None, address: Address
                     ) -> Session | None:
        """The session a message names if it carries the session's token and comes from
        the session's address (its own message), else ``None``."""
        session = self.sessions.get(session_id) if session_id is not None else None
        if (session is None or not token or not session.bound_to(address)
                or not hmac.compare_digest(session.token.encode(), token.encode())):
            return None
        return session

    def _confirmed_at(self, address: Address) -> bool:
        """Whether a session that has sent a message with its token is bound to
        ``address`` (at most ``max_sessions`` to look at, and only for a spent budget)."""
        return address in self._bound and any(
            s.confirmed and s.address == address for s in self.sessions.values())

    def _drop_limited(self, address: Address) -> bool:
        """A message from a source whose budget is spent: dropped unanswered, counted."""
        self.counters.rate_limited += 1
        self.counters.count_drop(address[0], "rate_limited")
        return False

    def _session_message(self, session: Session, request: protocol.Request,
                         address: Address, now: float) -> bool:
        """A session's own message: charged to the session's budgets (one token plus one per
        reply; ``set``/``reset``/``transport``/``status`` also to its control budget)."""
        control = isinstance(request, _CONTROL)
        if not session.admit(now, control):
            self.counters.rate_limited += 1
            session.count_rejected()
            if control:
                self._session_notice(session, ErrorCode.BUSY,
                                     f"too many {type(request).__name__.lower()} requests: at "
                                     f"most {CONTROL_RATE:g} per second", now)
            return True
        before = self._replies
        session.seen(now)
        if isinstance(request, protocol.Ping):
            self._emit(protocol.encode_pong(request.stamp, int(now * 1000)), session.reply_to)
        else:
            self._dispatch(session, request, address, now)
        session.charge(now, 1 + self._replies - before, control)
        return True

    def _session_notice(self, session: Session, code: ErrorCode, text: str, now: float
                        ) -> None:
        """An error to the session's own reply address, at most one per half second."""
        last = self._last_position_error.get(session.id, -1e9)
        if now - last >= POSITION_ERROR_INTERVAL:
            self._last_position_error[session.id] = now
            self._emit(protocol.encode_error(session.id, code, text), session.reply_to)

    def _dispatch(self, session: Session, request: protocol.Request, address: Address,
                  now: float) -> None:
        handlers: dict[type, Callable[[Session, Any, Address, float], None]] = {
            protocol.Audio: self._on_audio,
            protocol.Mark: self._on_mark,
            protocol.SetRequest: self._on_set,
            protocol.TransportInfo: self._on_transport,
            protocol.Reset: self._on_reset,
            protocol.StatusRequest: self._on_status,
            protocol.Bye: self._on_bye,
        }
        handlers[type(request)](session, request, address, now)

    def _error(self, session: Session | None, code: ErrorCode, reason: str,
               address: Address) -> None:
        """Refuse a request from ``address``: the answer goes to the session's reply address
        when the request came from the session's own source, else to ``address``."""
        if session is not None:
            session.count_rejected()
            if session.bound_to(address):
                address = session.reply_to
        self._emit(protocol.encode_error(session.id if session else 0, code, reason), address)

    def _authorize(self, request: protocol.SessionRequest, address: Address, now: float
                   ) -> Session | None:
        session = self.sessions.get(request.session)
        c = self.counters
        if session is None:
            c.unknown_session += 1
            c.count_drop(address[0], "unknown_session")
            self._emit(protocol.encode_error(
                0, ErrorCode.UNKNOWN_SESSION,
                f"no session {request.session} (expired or closed?): send hello again"),
                address)
            return None
        if not hmac.compare_digest(session.token.encode(), request.token.encode()):
            c.bad_token += 1
            c.count_drop(address[0], "bad_token")
            if session.bound_to(address):
                self._error(session, ErrorCode.BAD_TOKEN,
                            f"token does not match session {session.id}", address)
            return None
        if not session.bound_to(address) and not isinstance(request, protocol.Resume):
            # Right token, wrong source: dropped and counted, never answered.
            c.foreign += 1
            c.count_drop(address[0], "foreign")
            session.count_rejected()
            return None
        session.seen(now)
        return session

    # -- handlers ------------------------------------------------------------------------
    def _on_ping(self, request: protocol.Ping, address: Address, now: float) -> bool:
        """Answer a ping (to its session's reply address when it names its own session,
        which it also keeps alive); True in that case."""
        if request.session is not None:
            session = self.sessions.get(request.session)
            if (session is not None and not session.bound_to(address) and request.token
                    and hmac.compare_digest(session.token.encode(), request.token.encode())):
                # Its token, another address: the session was resumed elsewhere.
                self._emit(protocol.encode_bye(session.id, "resumed"), address)
                return False
            if (session is not None and session.bound_to(address) and request.token
                    and hmac.compare_digest(session.token.encode(), request.token.encode())):
                session.seen(now)
                self._emit(protocol.encode_pong(request.stamp, int(now * 1000)),
                           session.reply_to)
                return True
        self._emit(protocol.encode_pong(request.stamp, int(now * 1000)), address)
        return False

    def _on_hello(self, request: protocol.Hello, address: Address, now: float) -> None:
        reply_to = reply_address(address, request.reply_port)
        if request.version != protocol.VERSION:
            self._error(None, ErrorCode.VERSION,
                        f"protocol version {request.version} is not supported; this server "
                        f"speaks version {protocol.VERSION}", reply_to)
            return
        if not 1000 <= request.client_rate <= 768000:
            self._error(None, ErrorCode.BAD_VALUE,
                        f"client_rate {request.client_rate} Hz is out of range; allowed "
                        f"1000 ... 768000", reply_to)
            return
        existing = self._nonces.get((address, request.nonce))
        if existing is not None and existing in self.sessions:
            session = self.sessions[existing]
            session.seen(now, authenticated=False)
            session.reply_via(reply_to)
            self._send_welcome(session)
            return
        if len(self.sessions) >= self.config.max_sessions and not self._evict_unconfirmed(now):
            self._error(None, ErrorCode.BUSY,
                        f"the server is full ({self.config.max_sessions} sessions); try later",
                        reply_to)
            return
        session_id = self._new_session_id()
        session = Session(session_id=session_id, token=secrets.token_hex(8), address=address,
                          nonce=request.nonce, name=request.name,
                          client_rate=request.client_rate, generator=self.generator,
                          max_datagram=self.config.max_datagram, now=now,
                          reply_port=request.reply_port,
                          budget=Bucket(SESSION_RATE, SESSION_BURST, now),
                          control=Bucket(CONTROL_RATE, CONTROL_BURST, now))
        self.sessions[session_id] = session
        self._nonces[(address, request.nonce)] = session_id
        self._bound[address] = self._bound.get(address, 0) + 1
        self.counters.sessions_opened += 1
        # %a: the name is the client's text; escaped, it cannot forge log lines or reach
        # the terminal as control codes.
        log.info("session %d opened for %s:%d (%a, %d Hz)", session_id, address[0], address[1],
                 request.name, request.client_rate)
        self._send_welcome(session)

    def _evict_unconfirmed(self, now: float) -> bool:
        """Close the oldest session that never sent an authenticated message within
        :data:`UNCONFIRMED_GRACE` of its hello (a blind flood of hellos, or a client that went
        away during the handshake), so that a full server still takes a new client."""
        stale = [s for s in self.sessions.values()
                 if not s.confirmed and now - s.created >= UNCONFIRMED_GRACE]
        if not stale:
            return False
        victim = min(stale, key=lambda s: s.created)
        self.counters.sessions_evicted += 1
        self._close(victim, "evicted", now)
        return True

    def _new_session_id(self) -> int:
        # Below 2**24 so that Pd, whose numbers are float32, carries the id exactly; the
        # token, not the id, is the secret.
        while True:
            candidate = secrets.randbelow(MAX_SESSION_ID) + 1
            if candidate not in self.sessions:
                return candidate

    def _send_welcome(self, session: Session) -> None:
        info = session.info
        self._emit(protocol.encode_welcome(
            session.id, session.token, model_rate=session.context.model_rate,
            client_rate=session.client_rate, hop_length=info.hop_length,
            window_frames=info.window_frames, max_datagram=self.config.max_datagram,
            model=info.name), session.reply_to)
        self._emit_allowed(session, "r", allowed_ratios(info))
        self._send_allowed_w(session)
        self._emit(protocol.encode_allowed(session.id, "stems", info.stems), session.reply_to)
        self._emit(protocol.encode_allowed(session.id, "steps", [1, info.max_steps]),
                   session.reply_to)
        for key in SETTING_KEYS:
            self._emit(protocol.encode_ack(session.id, key,
                                           ack_values(session.settings, key, session.context)),
                       session.reply_to)

    def _send_allowed_w(self, session: Session) -> None:
        info = session.info
        hi = info.window_frames // session.settings.hop_frames - 2
        values = [w for w in range(-1, hi + 1) if w in info.trained_lookaheads] or \
            list(range(-1, hi + 1))
        self._emit_allowed(session, "w", values)

    def _emit_allowed(self, session: Session, what: str, values: list) -> None:
        """An ``allowed`` list, cut to what fits the session's datagram setting (a model
        that takes any whole frame allows thousands of look-aheads at a tiny ``r``)."""
        payload = protocol.encode_allowed(session.id, what, values)
        if len(payload) > session.settings.datagram:
            fixed = len(protocol.encode_allowed(session.id, what, []))
            keep = max(1, (session.settings.datagram - fixed - 4) // 5)
            payload = protocol.encode_allowed(session.id, what, values[:keep])
        self._emit(payload, session.reply_to)

    def _on_resume(self, session: Session, request: protocol.Resume, address: Address,
                   now: float) -> None:
        if request.client_rate != session.client_rate:
            self._error(session, ErrorCode.BAD_VALUE,
                        f"client_rate {request.client_rate} differs from the session's "
                        f"{session.client_rate} Hz; open a new session",
                        reply_address(address, request.reply_port))
            return
        if session.address != address:
            log.info("session %d re-bound from %s to %s", session.id, session.address, address)
            # The client left behind learns it lost the session (it would otherwise see its
            # pings answered and wonder where its chunks went).
            self._emit(protocol.encode_bye(session.id, "resumed"), session.reply_to)
            # The old address keeps nothing of the session: a client that reconnects many
            # times must not grow these tables.
            if self._nonces.get((session.address, session.nonce)) == session.id:
                del self._nonces[(session.address, session.nonce)]
            self._unbind(session.address)
            self._nonces[(address, session.nonce)] = session.id
            self._bound[address] = self._bound.get(address, 0) + 1
        session.rebind(address, request.reply_port)
        self._send_welcome(session)

    def _unbind(self, address: Address) -> None:
        left = self._bound.get(address, 0) - 1
        if left > 0:
            self._bound[address] = left
        else:
            self._bound.pop(address, None)

    def _poll(self, session: Session, now: float) -> None:
        jobs = session.poll(now, self.config.watchdog_grace)
        if jobs:
            self.engine.submit(jobs)
        session.release_input()

    def _on_audio(self, session: Session, request: protocol.Audio, address: Address,
                  now: float) -> None:
        try:
            session.receive_audio(request.position, request.samples, now)
        except PositionError as exc:
            self._position_error(session, exc, address, now)
            return
        self._poll(session, now)

    def _position_error(self, session: Session, exc: PositionError, address: Address,
                        now: float) -> None:
        """Refused audio or mark: counted; answered at most once per half second."""
        session.count_rejected()
        last = self._last_position_error.get(session.id, -1e9)
        if now - last >= POSITION_ERROR_INTERVAL:
            self._last_position_error[session.id] = now
            self._emit(protocol.encode_error(session.id, ErrorCode.POSITION, str(exc)),
                       session.reply_to)

    def _on_mark(self, session: Session, request: protocol.Mark, address: Address,
                 now: float) -> None:
        try:
            session.receive_mark(request.position, now)
        except PositionError as exc:
            self._position_error(session, exc, address, now)
            return
        self._poll(session, now)

    def _on_set(self, session: Session, request: protocol.SetRequest, address: Address,
                now: float) -> None:
        try:
            new, changed, warnings = apply_setting(session.settings, request.key,
                                                   request.values, request.tags,
                                                   session.context)
        except SettingError as exc:
            self._error(session, ErrorCode.BAD_VALUE, str(exc), address)
            return
        # Only a change that makes the session's work per hop larger is checked: a slower
        # model later never makes an unrelated setting fail.
        too_small = (self._hop_too_small(session, new)
                     if request.key in ("r", "stems", "guidance", "grid_guidance", "realtime")
                     else None)
        if too_small:
            self._error(session, ErrorCode.BAD_VALUE, too_small, address)
            return
        session.apply_settings(new, regrid=request.key in ("r", "w"))
        for text in warnings:
            self._emit(protocol.encode_warning(session.id, text), session.reply_to)
        for key in changed:
            self._emit(protocol.encode_ack(session.id, key,
                                           ack_values(new, key, session.context)), session.reply_to)
        if request.key == "r":
            self._send_allowed_w(session)
        self._poll(session, now)

    def _hop_too_small(self, session: Session, settings: Settings) -> str | None:
        """Why a live session's hop is shorter than one model call of its stems on this
        machine (it would ask for more than the whole model, every hop), or ``None``."""
        cost = self.engine.cost
        if not settings.realtime or not cost.known:
            return None
        items = len(settings.stems) * network_copies(settings.guidance, settings.grid_guidance,
                                                     session.info.uses_beat_grid)
        need = cost.predict(1, items)
        ctx = session.context
        hop = settings.geometry(ctx).hop_samples / ctx.model_rate
        if hop >= need:
            return None
        info = session.info
        frames = min(info.window_frames, math.ceil(need * ctx.model_rate / info.hop_length))
        return (f"a hop of {hop * 1e3:.1f} ms is shorter than one model call of "
                f"{len(settings.stems)} stem(s) on this server ({need * 1e3:.1f} ms): live, "
                f"choose r >= {frames / info.window_frames:g}, fewer stems, or realtime 0")

    def _on_transport(self, session: Session, request: protocol.TransportInfo,
                      address: Address, now: float) -> None:
        if request.bpm == 0:
            session.set_transport(None)
        else:
            try:
                session.set_transport(Transport(
                    bpm=request.bpm,
                    beat_position=session.clock_map.to_model(
                        session.unwrap(request.beat_position)),
                    beats_per_bar=request.beats_per_bar, beat_in_bar=request.beat_in_bar))
            except ValueError as exc:
                self._error(session, ErrorCode.BAD_VALUE, f"transport: {exc}", address)
                return
        self._emit(protocol.encode_ack(session.id, "transport", [
            float(request.bpm), request.beat_position, request.beats_per_bar,
            request.beat_in_bar]), session.reply_to)

    def _on_reset(self, session: Session, request: protocol.Reset, address: Address,
                  now: float) -> None:
        session.reset_stream()
        self.engine.drop_superseded(now)
        self._emit(protocol.encode_ack(session.id, "reset",
                                       [session.next_step_number()]), session.reply_to)

    def _on_status(self, session: Session, request: protocol.StatusRequest, address: Address,
                   now: float) -> None:
        self._emit(protocol.encode_status(session.id, self.status_pairs(session)), session.reply_to)

    def _on_bye(self, session: Session, request: protocol.Bye, address: Address,
                now: float) -> None:
        self._emit(protocol.encode_ack(session.id, "bye"), session.reply_to)
        self._close(session, "bye", now)

    def _close(self, session: Session, reason: str, now: float) -> None:
        session.close()
        if self.sessions.pop(session.id, None) is not None:
            self._unbind(session.address)
        if self._nonces.get((session.address, session.nonce)) == session.id:
            del self._nonces[(session.address, session.nonce)]
        self._last_position_error.pop(session.id, None)
        self._last_fault_log.pop(session.id, None)
        self.counters.sessions_closed += 1
        if reason == "expired":
            self.counters.sessions_expired += 1
        self.engine.drop_superseded(now)
        log.info("session %d closed (%s)", session.id, reason)

    # -- housekeeping --------------------------------------------------------------------
    def tick(self) -> None:
        """Idle expiry, watchdogs, dropping superseded steps, the periodic log line."""
        now = self.clock.now()
        with self.lock:
            for session in list(self.sessions.values()):
                try:
                    if now - session.last_seen > self.config.idle_timeout:
                        self._emit(protocol.encode_bye(session.id, "expired"),
                                   session.reply_to)
                        self._close(session, "expired", now)
                    elif session.settings.realtime:
                        self._poll(session, now)
                except Exception as exc:  # one session's fault must not stop the others'
                    self._session_fault(session, exc, now)
            self.engine.drop_superseded(now)
            if self.guard is not None and now - self._last_forget >= 1.0:
                self._last_forget = now
                self.guard.forget_full(now)
            if self.config.log_interval and now - self._last_log >= self.config.log_interval:
                self._last_log = now
                log.info("%s", log_line(self.counters, sessions=len(self.sessions),
                                        queue=self.engine.pending()))

    def _session_fault(self, session: Session, exc: Exception, now: float) -> None:
        """Count an unexpected error in one session's housekeeping; log one line per session
        at most every :data:`FAULT_LOG_INTERVAL` seconds (with the traceback the first time)."""
        self.counters.session_faults += 1
        last = self._last_fault_log.get(session.id)
        if last is None or now - last >= FAULT_LOG_INTERVAL:
            self._last_fault_log[session.id] = now
            log.error("housekeeping of session %d failed: %s", session.id, exc,
                      exc_info=last is None)

    def shutdown(self) -> None:
        """Tell every client the server is going away and close all sessions."""
        now = self.clock.now()
        with self.lock:
            for session in list(self.sessions.values()):
                self._emit(protocol.encode_bye(session.id, "shutdown"), session.reply_to)
                self._close(session, "shutdown", now)

    # -- reporting -----------------------------------------------------------------------
    def status_pairs(self, session: Session) -> list[tuple[str, int | float]]:
        return session.status_pairs(queue=self.engine.pending_for(session.id))

    def status(self, session_id: int) -> dict[str, int | float]:
        with self.lock:
            return dict(self.status_pairs(self.sessions[session_id]))

    def metrics_text(self) -> str:
        with self.lock:
            return prometheus_text(self.counters,
                                   {sid: s.telemetry for sid, s in self.sessions.items()},
                                   queue=self.engine.pending())

    def source_drops(self) -> dict[str, dict[str, int]]:
        """Dropped datagrams per source address and reason (also in the metrics)."""
        with self.lock:
            return self.counters.source_drops()

    def session_ids(self) -> Sequence[int]:
        with self.lock:
            return list(self.sessions)
