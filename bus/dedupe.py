"""A repeated `request_id` returns the first outcome instead of acting twice.

Kept in memory, bounded (LRU) and time-limited. A retryable failure is not remembered, so a retry
with the same id does act again: that is what "retryable" promises the caller. A request id reused
with a different request is refused, since answering it with another request's outcome would lie.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from schemas.errors import CephDRError, Conflict


@dataclass
class _Entry:
    fingerprint: str
    at: float
    future: asyncio.Future[bytes]


class Deduper:
    def __init__(self, *, max_entries: int = 10_000, ttl_s: float = 24 * 3600) -> None:
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_s

    @staticmethod
    def fingerprint(payload: bytes) -> str:
        return hashlib.sha256(payload).hexdigest()

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if len(self._entries) <= self._max and now - entry.at < self._ttl:
                break
            del self._entries[key]

    async def run(
        self, endpoint: str, request_id: str, fingerprint: str, act: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """Return `act()`'s encoded reply, or the remembered one (or raise the remembered error)."""
        now = time.monotonic()
        self._expire(now)
        key = (endpoint, request_id)
        entry = self._entries.get(key)
        if entry is not None:
            if entry.fingerprint != fingerprint:
                raise Conflict(
                    f"request_id {request_id!r} was already used for a different {endpoint} request",
                    where="$.request_id",
                )
            # shield: a caller that goes away must not cancel the first caller's outcome
            return await asyncio.shield(entry.future)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._entries[key] = _Entry(fingerprint, now, fut)
        try:
            reply = await act()
        except CephDRError as err:
            if err.retryable:
                del self._entries[key]
            fut.set_exception(err)
            fut.exception()  # mark retrieved: the waiter may not exist
            raise
        except BaseException as exc:
            del self._entries[key]
            fut.set_exception(exc)
            fut.exception()
            raise
        fut.set_result(reply)
        return reply
