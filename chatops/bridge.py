"""The bot's link to NATS: one asyncio loop on a thread of its own, owned here.

errbot calls commands on its own worker threads and knows nothing of asyncio; nats-py needs one
running loop for the connection's life. So the connection lives on a dedicated loop thread, and
every call from errbot is a coroutine submitted to it and waited for with a deadline (the request
deadline plus a margin for the hop); a stuck call ends as `DeadlineExceeded`, never as a hung chat
worker. Events arrive on the loop thread and are posted through one extra thread, in order, so a
slow chat server never blocks the NATS loop.

The first connect is retried in the background: a bot started while NATS is down answers
"unavailable" until it is up, instead of failing to load.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from bus.client import request
from bus.connect import PermissionLog, connect, inbox_prefix_for
from chatops.render import event as render_event
from schemas.errors import DeadlineExceeded, Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
HOP_MARGIN_S = 2.0


class Bridge:
    def __init__(
        self,
        servers: str,
        *,
        credentials: str = "",
        tls: ssl.SSLContext | None = None,
        prefix: str = "cephdr",
        name: str = "cephdr-chatops",
        role: str = "chatops",
        timeout: float = 10.0,
        steps: bool = True,
    ) -> None:
        self.servers = servers
        self.credentials = credentials
        self.tls = tls
        self.prefix = prefix
        self.name = name
        self.role = role
        self.timeout = timeout
        self.steps = steps
        self.perms = PermissionLog()
        self.nc: NATS | None = None
        self._post: Callable[[str], None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cephdr-nats-loop", daemon=True)
        self._poster = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cephdr-post")
        self._connected = threading.Event()
        self._connector: concurrent.futures.Future[None] | None = None

    # -- life
    def start(self, post: Callable[[str], None] | None = None) -> None:
        """Start the loop thread and connect (retried until it works); `post` gets channel text."""
        self._post = post
        self._thread.start()
        self._connector = asyncio.run_coroutine_threadsafe(self._connect_forever(), self._loop)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        if self._connector is not None:
            self._connector.cancel()
        fut = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
        try:
            fut.result(timeout=timeout)
        except (concurrent.futures.TimeoutError, Exception) as exc:
            log.warning("closing the NATS connection: %s", exc or type(exc).__name__)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._poster.shutdown(wait=False, cancel_futures=True)

    async def _close(self) -> None:
        if self.nc is not None:
            await asyncio.wait_for(self.nc.drain(), timeout=3)

    async def _connect_forever(self) -> None:
        while True:
            try:
                self.nc = await connect(
                    self.servers,
                    name=self.name,
                    credentials=self.credentials,
                    tls=self.tls,
                    # least privilege: the role's credentials may only read replies on its inbox
                    inbox_prefix=inbox_prefix_for(self.role),
                    permissions=self.perms,
                    connect_timeout=3,
                )
                break
            except Exception as exc:
                log.warning("cannot reach NATS at %s yet: %s", self.servers, exc or type(exc).__name__)
                await asyncio.sleep(2)
        if self._post is not None:
            await self.nc.subscribe(f"{self.prefix}.ctl.evt.>", cb=self._on_event)
            await self.nc.flush(timeout=int(self.timeout) or 1)
        self._connected.set()

    # -- events
    async def _on_event(self, msg: Msg) -> None:
        kind = msg.subject.rsplit(".", 1)[-1]
        text = render_event(kind, msg.data, steps=self.steps)
        if text is not None and self._post is not None:
            self._poster.submit(self._safe_post, text)

    def _safe_post(self, text: str) -> None:
        assert self._post is not None
        try:
            self._post(text)
        except Exception:
            log.exception("posting an event to the channel failed")

    # -- requests (desk.Caller)
    def call(self, endpoint: str, body: Any, reply: type[T]) -> T:
        if not self._connected.is_set() or self.nc is None:
            raise Unavailable(f"the bot is not connected to NATS ({self.servers}) yet", where=endpoint)
        subject = f"{self.prefix}.ctl.{endpoint}"
        coro = request(self.nc, subject, body, reply=reply, timeout=self.timeout, permissions=self.perms)
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout=self.timeout + HOP_MARGIN_S)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise DeadlineExceeded(f"no reply on {subject} within {self.timeout:g}s", where=subject) from None
