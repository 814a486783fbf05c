"""The client's protocol phases as one sans-IO state machine: :class:`ClientProtocol`.

Like h11's connection object, it never touches a socket or a clock: a driver tells it the
time and hands it the datagrams that arrive (:meth:`ClientProtocol.on_datagram`), asks it
what to send now (:meth:`ClientProtocol.poll`) and when it wants to be asked again
(:attr:`ClientProtocol.wake`). The phases, each started by the driver:

* **handshake**: ``hello`` (resent every ``retry`` seconds until a welcome or an error),
  each setting (resent until acknowledged with the value the server applies), ``pings``;
* **stream**: fast (``realtime 0``: one hop of audio and a ``mark``, then wait for that
  step's chunks; a ``mark`` with no answer is resent, a step with chunks missing is done
  ``quiet`` seconds after its last chunk) or real time (audio in ``realtime_block``-sample
  datagrams as a patch captures it, a ``mark`` at each capture point:
  :meth:`~.core.StreamClient.capture_schedule`), then ``tail`` seconds for late chunks;
* **finish**: ask for the server's status, then ``bye`` (resent until acknowledged).

Three drivers use it: the UDP client (:mod:`sideman.client.udp`), the simulator on a
simulated clock (:mod:`sideman.eval.simulate`) and the reliability soak's many clients in one
thread (:mod:`sideman.bench.driver`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from sideman.models.geometry import hop_frames_for_ratio

from .core import ClientError, PlannedStep, StreamClient, TransportUpdate


@dataclass(frozen=True)
class RunOptions:
    """Timing knobs of a client session (seconds), whatever drives it."""

    fast: bool = False
    retry: float = 0.25  #: resend an unanswered hello / set / mark / status after this
    handshake_timeout: float = 5.0
    step_timeout: float = 10.0  #: fast mode: give up waiting for one step's chunks
    quiet: float = 0.3  #: fast mode: a step is done this long after its last chunk
    tail: float = 0.3  #: collect late chunks this long after the last step
    realtime_block: int = 1024  #: real time: samples per audio datagram (like a patch)
    pings: int = 5
    start: float = 0.05  #: real time: capture starts this long after the stream is started


#: What a phase waits for: until the time, or until the condition holds (None: time only).
_Wait = tuple[float, "Callable[[], bool] | None"]


def expected_ack(key: str, values: list, core: StreamClient) -> tuple | None:
    """The acknowledged value of ``set key values``: as the server applies it."""
    if key == "r":  # rounded to whole latent frames by the server, the same way
        frames = hop_frames_for_ratio(float(values[0]), int(core.welcome["window_frames"]))
        return (float(np.float32(frames / int(core.welcome["window_frames"]))),)
    if key in ("variation", "guidance", "grid_guidance"):
        return (float(np.float32(values[0])),)
    return tuple(values)


def ack_matches(ack: tuple, expected: tuple | None) -> bool:
    return expected is None or tuple(ack) == tuple(expected)


class ClientProtocol:
    """The phases of one client session over a :class:`~.core.StreamClient`."""

    def __init__(self, core: StreamClient, options: RunOptions | None = None, *,
                 transports: Sequence[TransportUpdate] = (),
                 progress: Callable[[int, int], None] | None = None,
                 server: str = "the server", hint: str = "") -> None:
        self.core = core
        self.options = options or RunOptions()
        #: Beat-grid updates, each sent before the capture point at or after its ``at``.
        self.transports = sorted(transports, key=lambda t: t.at)
        self._next_transport = 0
        #: Called with (samples captured, samples to capture) as the stream goes on.
        self.progress = progress
        #: Who the client talks to, and what to suggest when it never answers (messages).
        self.server, self.hint = server, hint
        self.now = 0.0
        self.error: ClientError | None = None
        self.plan: list[PlannedStep] = []
        #: Real time: samples captured so far and where capture ends.
        self.captured_upto = 0
        self.capture_end = 0
        self._outbox: list[bytes] = []
        self._phase: Iterator[_Wait] | None = None
        self._wait: _Wait | None = None

    # -- what a driver calls ---------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """A phase is running."""
        return self._phase is not None

    @property
    def wake(self) -> float | None:
        """When :meth:`poll` must be called again at the latest (None: no phase runs)."""
        return None if self._wait is None else self._wait[0]

    def on_datagram(self, payload: bytes, now: float) -> None:
        self.core.on_datagram(payload, now)

    def poll(self, now: float) -> list[bytes]:
        """Run the phase as far as it goes at ``now``; the datagrams to send now, in order.
        A phase that fails sets :attr:`error` and stops."""
        self.now = now
        while self._phase is not None and self._wait is not None:
            until, done = self._wait
            if now < until and not (done is not None and done()):
                break
            self._step()
        out, self._outbox = self._outbox, []
        return out

    def start_handshake(self, now: float) -> None:
        self._start(self._handshake(), now)

    def start_stream(self, audio: np.ndarray, now: float) -> None:
        """Stream ``audio`` (plus silence up to the last step's capture point)."""
        self._start(self._stream(np.asarray(audio, np.float32)), now)

    def start_finish(self, now: float) -> None:
        """Ask for the server's status, then say bye."""
        self._start(self._finish(), now)

    def start_goodbye(self, now: float, timeout: float) -> None:
        """Say bye (resent until acknowledged or ``timeout``); nothing when there is no
        session (yet) or bye was said."""
        self._start(self._goodbye(timeout), now)

    # -- running a phase -------------------------------------------------------------------
    def _start(self, phase: Iterator[_Wait], now: float) -> None:
        self.now = now
        self.error = None
        self._phase = phase
        self._wait = (now, None)

    def _step(self) -> None:
        assert self._phase is not None
        try:
            self._wait = next(self._phase)
        except StopIteration:
            self._phase, self._wait = None, None
        except ClientError as exc:
            self._phase, self._wait, self.error = None, None, exc

    def _send(self, payload: bytes) -> None:
        self._outbox.append(payload)

    def _request(self, payload: Callable[[], bytes], done: Callable[[], bool],
                 timeout: float) -> Generator[_Wait, None, bool]:
        """Send, and send again every ``retry`` s, until ``done()`` or ``timeout``; the
        generator's value is ``done()``."""
        deadline = self.now + timeout
        while not done():
            if self.now >= deadline:
                return False
            self._send(payload())
            yield min(deadline, self.now + self.options.retry), done
        return True

    def _changed(self, step: int, arrived: int) -> bool:
        """Fast mode: ``step`` is complete, or a chunk of it arrived since ``arrived``."""
        return self.core.step_complete(step) or len(self.core.steps[step].arrivals) != arrived

    def _send_transports(self, upto: int) -> None:
        while (self._next_transport < len(self.transports)
               and self.transports[self._next_transport].at <= upto):
            t = self.transports[self._next_transport]
            self._send(self.core.transport(t.bpm, t.beat_position, t.beats_per_bar,
                                           t.beat_in_bar))
            self._next_transport += 1

    def _report(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total)

    # -- the phases ------------------------------------------------------------------------
    def _handshake(self) -> Iterator[_Wait]:
        core, o = self.core, self.options
        if not (yield from self._request(core.hello, lambda: core.session is not None
                                         or bool(core.errors), o.handshake_timeout)):
            raise ClientError(f"no welcome from {self.server} within {o.handshake_timeout} s"
                              f"{self.hint}")
        if core.session is None:
            code, reason = core.errors[-1]
            raise ClientError(f"the server refused the session ({code}): {reason}")
        for key, values in core.settings.requests(int(core.acks.get("w", (1,))[0])):
            before = len(core.errors)
            core.acks.pop(key, None)
            message = core.set_message(key, values)
            expected = expected_ack(key, values, core)

            def acked(key: str = key, expected: tuple | None = expected,
                      before: int = before) -> bool:
                ack = core.acks.get(key)
                return (ack is not None and ack_matches(ack, expected)) \
                    or len(core.errors) > before

            ok = yield from self._request(functools.partial(bytes, message), acked,
                                          o.handshake_timeout)
            if len(core.errors) > before:
                code, reason = core.errors[-1]
                raise ClientError(f"set {key} {' '.join(map(str, values))} refused ({code}): "
                                  f"{reason}")
            if not ok:
                raise ClientError(f"no ack for set {key} within {o.handshake_timeout} s")
            core.confirm(key)
        self.plan = core.plan()
        for i in range(o.pings):
            core.note_ping(i + 1, self.now)
            self._send(core.ping(i + 1))
        if o.pings:
            yield self.now + 0.02, None

    def _stream(self, audio: np.ndarray) -> Iterator[_Wait]:
        core = self.core
        self.plan = plan = core.plan()
        if not plan:
            return
        last = max(p.capture for p in plan)
        padded = np.zeros(max(last, len(audio)), np.float32)
        padded[:len(audio)] = audio
        if self.options.fast:
            yield from self._stream_fast(padded, max(last, core.length))
        else:
            yield from self._stream_realtime(padded, max(last, core.length))
        yield self.now + self.options.tail, None

    def _stream_fast(self, audio: np.ndarray, length: int) -> Iterator[_Wait]:
        core, o = self.core, self.options
        block = core.audio_block()
        sent = 0
        for p in self.plan:
            if p.capture > sent:
                for payload in core.audio_messages(sent, audio[sent:p.capture], block):
                    self._send(payload)
                sent = p.capture
            self._send_transports(p.capture)
            mark = core.mark(p.capture)
            self._send(mark)
            since = self.now
            core.captured(p.step, since)
            next_resend = since + o.retry
            while not core.step_complete(p.step):
                last = core.last_arrival(p.step)
                if self.now - since >= o.step_timeout:
                    break
                if last is not None:
                    if self.now >= last + o.quiet:
                        break  # some chunks never came: done with what arrived
                    wake = last + o.quiet
                else:
                    if self.now >= next_resend:
                        self._send(mark)  # the mark (or the whole output) may be lost
                        next_resend = self.now + o.retry
                    wake = next_resend
                yield min(wake, since + o.step_timeout), functools.partial(
                    self._changed, p.step, len(core.steps[p.step].arrivals))
            self._report(p.capture, self.plan[-1].capture)

    def _stream_realtime(self, audio: np.ndarray, length: int) -> Iterator[_Wait]:
        """Capture on the clock like a patch: blocks of audio as they are "recorded", a
        ``mark`` at every hop boundary, and silence after the input until the last planned
        region has been played."""
        core = self.core
        block = min(self.options.realtime_block, core.audio_block())
        rate = core.client_rate
        end, sends = core.capture_schedule(length, block)
        self.captured_upto, self.capture_end = 0, end
        t0 = self.now + self.options.start
        for p in self.plan:
            core.captured(p.step, t0 + p.capture / rate)
        yield t0, None
        self._send_transports(0)
        self._send(core.mark(0))  # step 0 is due as capture starts
        for start, stop, marks in sends:
            yield t0 + stop / rate, None
            chunk = np.zeros(stop - start, np.float32)
            if start < len(audio):
                piece = audio[start:min(stop, len(audio))]
                chunk[:len(piece)] = piece
            for payload in core.audio_messages(start, chunk, block):
                self._send(payload)
            for position in marks:
                self._send_transports(position)
                self._send(core.mark(position))
            self.captured_upto = stop
            self._report(stop, end)
        plan = self.plan
        yield self.now + self.options.tail, lambda: all(core.step_complete(p.step)
                                                        for p in plan)

    def _finish(self) -> Iterator[_Wait]:
        core = self.core
        core.status = {}
        yield from self._request(core.status_request, lambda: bool(core.status), 2.0)
        yield from self._goodbye(1.0)

    def _goodbye(self, timeout: float) -> Iterator[_Wait]:
        core = self.core
        if core.session is None or "bye" in core.acks:
            return
        bye = core.bye()
        yield from self._request(lambda: bye, lambda: "bye" in core.acks, timeout)
