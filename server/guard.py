"""Per-source and per-session budgets: a flood is dropped before it is decoded.

A session's own traffic (valid messages from the address the session is bound to) does not
cost its source: it costs the session (:class:`Bucket`, ``SESSION_RATE``; ``set``,
``reset``, ``transport``, ``status`` also ``CONTROL_RATE``). Everything else costs its
source, for each message (every element of a bundle) one token plus one per datagram sent in
answer (a ``hello`` costs 21: it is answered with 20): messages from an address no session is
bound to (``hello``, ``ping``, ``resume``, garbage, messages for sessions that do not exist)
and messages a bound address sends that are refused (undecodable, unknown address, bad token,
another session's messages). A datagram is admitted while its source has a token, and what
it caused is charged afterwards, into debt (down to ``-MAX_DEBT_BURSTS`` bursts): a bundle
of many hellos silences its source for as long as its replies are worth. Within a datagram,
messages beyond the budget left are dropped unanswered. Each source (IP and port) has a
token bucket of ``burst`` tokens refilled at ``rate`` per second; while it is empty the
source's datagrams are dropped after one dictionary lookup, unread, and counted
(``rate_limited``, per source address) — except from an address a session is bound to: those
are decoded and only the session's own authenticated messages pass, so garbage sent with a
performer's (spoofed) address never silences the performer.

So a flooder costs the receive loop about as much as a ``recvfrom``, a spoofed source cannot
make the server send more datagrams than its budget, and a performer's session keeps
its datagrams flowing whatever arrives beside them. The table of buckets is bounded (the
least recently seen source is forgotten first, which only gives it a fresh budget) and
sources whose budget has refilled are forgotten once a second (:meth:`forget_full`).
"""

from __future__ import annotations

from collections import OrderedDict

Address = tuple[str, int]

#: Datagrams per second and burst allowed to a source outside its session's valid traffic.
DEFAULT_RATE = 100.0
DEFAULT_BURST = 200.0
#: Sources whose budget is remembered.
MAX_SOURCES = 4096
#: How deep in debt (in bursts) a source can go by what one datagram caused.
MAX_DEBT_BURSTS = 10
#: A session's own messages per second (plus one per reply) and burst.
SESSION_RATE = 10000.0
SESSION_BURST = 10000.0
#: A session's expensive messages (set, reset, transport, status) per second and burst.
CONTROL_RATE = 20.0
CONTROL_BURST = 40.0


class Bucket:
    """One token bucket that can go into debt (a session's own budget)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = now

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now

    def admit(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= 1.0

    def charge(self, now: float, cost: float = 1.0) -> None:
        self._refill(now)
        self.tokens = max(-MAX_DEBT_BURSTS * self.burst, self.tokens - cost)


class SourceGuard:
    """Token buckets per source address, bounded in number."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: float = DEFAULT_BURST,
                 max_sources: int = MAX_SOURCES) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 per second and burst >= 1, got {rate}, {burst}")
        if max_sources < 1:
            raise ValueError(f"max_sources must be >= 1, got {max_sources}")
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self._buckets: OrderedDict[Address, list[float]] = OrderedDict()  # [tokens, time]

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, address: Address, now: float) -> list[float]:
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = self._buckets[address] = [self.burst, now]
            while len(self._buckets) > self.max_sources:
                self._buckets.popitem(last=False)
            return bucket
        self._buckets.move_to_end(address)
        elapsed = now - bucket[1]
        if elapsed > 0:
            bucket[0] = min(self.burst, bucket[0] + elapsed * self.rate)
            bucket[1] = now
        return bucket

    def admit(self, address: Address, now: float) -> bool:
        """Whether a datagram from ``address`` may be read (its budget is not spent)."""
        bucket = self._buckets.get(address)
        if bucket is None:
            return True
        return self._bucket(address, now)[0] >= 1.0

    def charge(self, address: Address, now: float, cost: float = 1.0) -> None:
        """Spend ``cost`` of ``address``'s budget, into debt if need be."""
        bucket = self._bucket(address, now)
        bucket[0] = max(-MAX_DEBT_BURSTS * self.burst, bucket[0] - cost)

    def forget_full(self, now: float) -> int:
        """Forget sources whose budget has refilled completely (they are back to what an
        unseen source gets), so that many short-lived sources leave nothing behind."""
        full = [a for a, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate >= self.burst]
        for address in full:
            del self._buckets[address]
        return len(full)

    def tokens(self, address: Address, now: float) -> float:
        """The budget left to ``address`` now (``burst`` for a source never seen)."""
        bucket = self._buckets.get(address)
        return self.burst if bucket is None else self._bucket(address, now)[0]
