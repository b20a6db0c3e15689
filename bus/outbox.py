"""Events leave through an outbox so a NATS outage delays them instead of losing them.

`put` never blocks the caller (a scan must not wait for the bus). The sender publishes to
JetStream with a `Nats-Msg-Id`, retrying with back-off until the server acknowledges; the stream's
duplicate window turns a retry after a lost ack into a no-op. If the queue overflows during a long
outage the oldest events go first, counted in `dropped` (the full status stays in KV regardless).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Msg:
    subject: str
    payload: bytes
    msg_id: str | None
    persist: bool


class Outbox:
    def __init__(self, nc: NATS, js: JetStreamContext, *, max_queue: int = 10_000) -> None:
        self.nc = nc
        self.js = js
        self._queue: deque[_Msg] = deque()
        self._max = max_queue
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.dropped = 0
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def put(self, subject: str, payload: bytes, *, msg_id: str | None = None, persist: bool = True) -> None:
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event outbox full: %d events dropped so far", self.dropped)
        self._queue.append(_Msg(subject, payload, msg_id, persist))
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def flush(self, within: float) -> bool:
        """Wait until everything queued was sent; False if the deadline passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            msg = self._queue[0]
            try:
                await self._send(msg)
            except Exception as exc:
                log.warning("event publish to %s failed (%s); retrying in %.1fs", msg.subject, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.2
            self.sent += 1
            if self._queue and self._queue[0] is msg:
                self._queue.popleft()

    async def _send(self, msg: _Msg) -> None:
        if msg.persist:
            headers = {"Nats-Msg-Id": msg.msg_id} if msg.msg_id else None
            await self.js.publish(msg.subject, msg.payload, headers=headers, timeout=2.0)
        else:
            await self.nc.publish(msg.subject, msg.payload)
