"""The leader lease as a pure state machine: given the time (a monotonic clock the caller reads)
and the outcomes of the KV calls, when to try to take the lease, when to renew it, and when it
counts as lost. No I/O, no clock of its own: `controller/leader.py` does the calls.

The lease is a key in a KV bucket whose max age is the lease time (`ttl`), so the NATS server
expires it. A holder cannot read the server's clock, so it counts its lease from the moment it
*sent* the write that succeeded: the server stamped that write later, so it expires it later
than `sent + ttl` on the server's clock. `margin` covers the two clocks running at slightly
different rates and the holder's own loop noticing late. Past `sent + ttl - margin` the lease is
lost, whatever a renew still in flight may answer: the holder stops acting before any standby
can take over.

Who holds the key is decided by the server alone: taking it is a create (fails if it exists),
renewing is an update at the last revision (fails if anyone wrote in between, including the
server expiring it). A renew refused that way is a loss at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Acquire:
    """Try to create the key (standby)."""


@dataclass(frozen=True)
class Renew:
    revision: int
    deadline: float  # seconds the call may take: past them the lease is lost anyway


@dataclass(frozen=True)
class Lost:
    reason: str


Decision = Wait | Acquire | Renew | Lost


class Lease:
    def __init__(
        self, ttl: float, renew: float, *, margin: float | None = None, poll: float | None = None
    ) -> None:
        if not 0 < renew * 2 < ttl:
            raise ValueError(f"renew ({renew:g}s) must be less than half of ttl ({ttl:g}s)")
        self.ttl = ttl
        self.renew_every = renew
        self.margin = min(2.0, ttl / 5) if margin is None else margin
        if not 0 <= self.margin < ttl - renew:
            raise ValueError(f"margin ({self.margin:g}s) leaves no time to renew")
        # a standby looks this often; a leader retries a failed renew this often
        self.poll = min(1.0, renew) if poll is None else poll
        self.revision: int | None = None
        self.valid_until = -math.inf
        self.renew_at = -math.inf
        self.next_try = -math.inf

    def held(self, now: float) -> bool:
        """Whether this process may act now. Reads the clock's verdict, not the last decision: a
        loop that was starved past the lease's end does not act on a stale belief."""
        return self.revision is not None and now < self.valid_until

    def decide(self, now: float) -> Decision:
        if self.revision is None:
            if now >= self.next_try:
                return Acquire()
            return Wait(self.next_try - now)
        if now >= self.valid_until:
            return Lost(f"not renewed within {self.ttl - self.margin:g}s")
        if now >= self.renew_at:
            return Renew(self.revision, deadline=self.valid_until - now)
        return Wait(min(self.renew_at, self.valid_until) - now)

    # -- outcomes
    def acquired(self, sent_at: float, now: float, revision: int) -> bool:
        """The create succeeded. False if it answered too late to count (the caller gives the
        key back): nothing was done under it, and a lease that ends as it begins is worthless."""
        valid = sent_at + self.ttl - self.margin
        if now >= valid:
            self.next_try = now + self.poll
            return False
        self.revision, self.valid_until, self.renew_at = revision, valid, sent_at + self.renew_every
        return True

    def taken(self, now: float) -> None:
        """The create failed: another controller holds the key. Look again later."""
        self.next_try = now + self.poll

    def renewed(self, sent_at: float, now: float, revision: int) -> bool:
        """The update succeeded. False if the lease had already ended by our clock: the holder
        stopped acting then, and must not start again on a late answer."""
        if not self.held(now):
            self.dropped(now)
            return False
        # a write sent earlier than the one that set the current end never shortens nor extends it
        self.valid_until = max(self.valid_until, sent_at + self.ttl - self.margin)
        self.renew_at = max(self.renew_at, sent_at + self.renew_every)
        self.revision = revision
        return True

    def failed(self, now: float) -> None:
        """A call errored or timed out (NATS unreachable, say). A standby looks again later; a
        leader retries its renew soon, and loses the lease when its time is up (`decide`)."""
        if self.revision is None:
            self.next_try = now + self.poll
        else:
            self.renew_at = min(now + self.poll, self.valid_until)

    def dropped(self, now: float) -> None:
        """The lease is gone (refused renew, time up, released): back to standby."""
        self.revision = None
        self.valid_until = -math.inf
        self.renew_at = -math.inf
        self.next_try = now + self.poll
