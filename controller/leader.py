"""Leadership: drives the lease (controller/lease.py decides, this module does the KV calls) and
switches the controller between standby and leader.

`lead` is called when the lease is taken and `step_down` when it is lost or given up; the caller
owns what leading means (serving, resuming operations, periodic loops). A loss calls `step_down`
at once: the lease's end is a point in time this loop sleeps until, not something it waits to be
told by a renew that may never answer. On shutdown the leader steps down first and then deletes
the key, so a standby takes over without waiting for it to expire and never while this one acts.

Every change is a `LeaderEvent` on `<prefix>.ctl.evt.leader`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from controller.lease import Acquire, Lease, Lost, Renew, Wait
from controller.store import LeaseStore
from schemas.errors import CephDRError, Conflict
from schemas.lease import LeaderChange, LeaderEvent, LeaseRecord

log = logging.getLogger(__name__)

# the deadline of a create or a release: a standby's look must not stall its loop for long
CALL_TIMEOUT = 5.0


def new_holder_id() -> str:
    """Unique per process lifetime: a restarted controller is a new holder, never the old one."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Leadership:
    def __init__(
        self,
        leases: LeaseStore,
        lease: Lease,
        holder: str,
        *,
        lead: Callable[[], Coroutine[Any, Any, None]],
        step_down: Callable[[], Coroutine[Any, Any, None]],
        emit: Callable[[LeaderEvent], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = leases
        self.lease = lease
        self.holder = holder
        self._lead = lead
        self._step_down = step_down
        self._emit = emit
        self.clock = clock
        self.acquired_at = 0.0
        self._term: asyncio.Task[None] | None = None

    def is_leader(self) -> bool:
        return self.lease.held(self.clock())

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: take the lease when free, renew it while held, step down when lost."""
        log.info("controller %s up; standing by for the leader lease (%gs)", self.holder, self.lease.ttl)
        try:
            while not stop.is_set():
                if self._term is not None and self._term.done() and not self._term.cancelled():
                    exc = self._term.exception()
                    if exc is not None:
                        await self._give_up(f"could not start leading: {exc}", "lost")
                        continue
                d = self.lease.decide(self.clock())
                if isinstance(d, Wait):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), d.seconds)
                elif isinstance(d, Acquire):
                    await self._acquire()
                elif isinstance(d, Renew):
                    await self._renew(d)
                elif isinstance(d, Lost):
                    await self._lost(d.reason)
        finally:
            if self._term is not None:
                await self._give_up("controller shutting down", "released")

    def _record(self) -> LeaseRecord:
        return LeaseRecord(
            holder=self.holder, acquired_at=self.acquired_at, renewed_at=time.time(), ttl=self.lease.ttl
        )

    async def _acquire(self) -> None:
        sent = self.clock()
        self.acquired_at = time.time()
        try:
            rev = await asyncio.wait_for(self.leases.acquire(self._record()), CALL_TIMEOUT)
        except Conflict:
            self.lease.taken(self.clock())
            return
        except (CephDRError, TimeoutError) as exc:
            log.warning("cannot look at the leader lease: %s", exc)
            self.lease.failed(self.clock())
            return
        if not self.lease.acquired(sent, self.clock(), rev):
            log.warning("took the leader lease too late to use it; giving it back")
            await self._release(rev)
            return
        log.warning("leader lease acquired by %s", self.holder)
        self._event("acquired", "the lease was free")
        self._term = asyncio.create_task(self._lead(), name="lead")

    async def _renew(self, d: Renew) -> None:
        sent = self.clock()
        try:
            rev = await asyncio.wait_for(self.leases.renew(self._record(), d.revision), d.deadline)
        except Conflict:
            await self._lost("the lease changed under us (expired or taken by another controller)")
            return
        except (CephDRError, TimeoutError) as exc:
            log.warning("leader lease renew failed: %s; retrying until it ends", exc or "deadline passed")
            self.lease.failed(self.clock())
            return
        if not self.lease.renewed(sent, self.clock(), rev):
            await self._lost("renewed after the lease had ended")

    async def _lost(self, reason: str) -> None:
        rev = self.lease.revision
        self.lease.dropped(self.clock())
        log.error("leader lease lost: %s; stopping at once", reason)
        await self._stop_term()
        self._event("lost", reason)
        if rev is not None:
            # if the key is still ours a standby need not wait for it to expire
            await self._release(rev)

    async def _give_up(self, reason: str, change: LeaderChange) -> None:
        rev = self.lease.revision
        # not the leader from now on (the runner stops writing), but the key goes only after
        # this controller has stopped acting
        self.lease.dropped(self.clock())
        await self._stop_term()
        if rev is not None:
            await self._release(rev)
        log.warning("leader lease given up: %s", reason)
        self._event(change, reason)

    async def _stop_term(self) -> None:
        term, self._term = self._term, None
        if term is None:
            return
        term.cancel()
        with contextlib.suppress(BaseException):
            await term
        try:
            await self._step_down()
        except Exception:
            log.exception("stepping down failed")

    async def _release(self, rev: int) -> None:
        try:
            await asyncio.wait_for(self.leases.release(rev), CALL_TIMEOUT)
        except (CephDRError, TimeoutError) as exc:
            log.warning("could not release the leader lease (it expires by itself): %s", exc)

    def _event(self, change: LeaderChange, reason: str) -> None:
        self._emit(LeaderEvent(at=time.time(), holder=self.holder, change=change, reason=reason))
