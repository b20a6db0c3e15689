"""Calling a cephdr endpoint: every request has a deadline, and every failure comes back as the
error tree (a micro error reply is rebuilt from its JSON body; no responders is `Unavailable`; a
permission denial is `PermissionDenied` as soon as the server reports it, not a timeout).

nats-py reports a denial only to the connection's error callback (`bus.connect.PermissionLog`):
a denied request would just time out, a denied publish or subscribe would pass silently. With a
`PermissionLog`, `request` races the reply against the next reported violation, and `publish` and
`subscribe` make a round trip to the server (flush) and look for a violation of their subject.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from bus.codec import encode
from bus.connect import PermissionLog
from schemas.errors import (
    CephDRError,
    DeadlineExceeded,
    ErrorReply,
    Internal,
    PermissionDenied,
    Unavailable,
    from_body,
)

T = TypeVar("T")

ERROR_CODE_HEADER = "Nats-Service-Error-Code"


def raise_for_reply(data: bytes, headers: dict[str, str] | None, subject: str) -> None:
    if not headers or ERROR_CODE_HEADER not in headers:
        return
    try:
        body = msgspec.json.decode(data, type=ErrorReply).error
    except msgspec.DecodeError:
        raise Internal(
            f"{subject} failed ({headers.get(ERROR_CODE_HEADER)}): {headers.get('Nats-Service-Error', '')}",
            where=subject,
        ) from None
    raise from_body(body)


@overload
async def request(
    nc: NATS,
    subject: str,
    payload: object,
    *,
    reply: type[T],
    timeout: float,
    permissions: PermissionLog | None = None,
    headers: dict[str, str] | None = None,
) -> T: ...


@overload
async def request(
    nc: NATS,
    subject: str,
    payload: object,
    *,
    reply: None = None,
    timeout: float,
    permissions: PermissionLog | None = None,
    headers: dict[str, str] | None = None,
) -> Any: ...


async def request(
    nc: NATS,
    subject: str,
    payload: object,
    *,
    reply: type[T] | None = None,
    timeout: float,
    permissions: PermissionLog | None = None,
    headers: dict[str, str] | None = None,
) -> T | Any:
    """Send `payload` (a Struct, dict or raw bytes) and decode the reply into `reply` (or plain JSON)."""
    data = payload if isinstance(payload, bytes) else encode(payload)
    started = time.monotonic()
    try:
        msg = await _request_or_denied(nc, subject, data, timeout, headers, permissions, started)
    except NoRespondersError:
        raise Unavailable(
            f"nobody serves {subject} (agent or controller not running?)", where=subject
        ) from None
    except NatsTimeout:
        if permissions is not None:
            _raise_if_denied(permissions, subject, started)
        raise DeadlineExceeded(f"no reply on {subject} within {timeout:g}s", where=subject) from None
    raise_for_reply(msg.data, msg.headers, subject)
    if reply is None:
        return msgspec.json.decode(msg.data) if msg.data else None
    try:
        return msgspec.json.decode(msg.data, type=reply)
    except msgspec.DecodeError as exc:
        raise Internal(f"unexpected reply on {subject}: {exc}", where=subject) from None


async def _request_or_denied(
    nc: NATS,
    subject: str,
    data: bytes,
    timeout: float,
    headers: dict[str, str] | None,
    permissions: PermissionLog | None,
    started: float,
) -> Msg:
    call = asyncio.ensure_future(nc.request(subject, data, timeout=timeout, headers=headers))
    if permissions is None:
        return await call
    try:
        while True:
            violation = permissions.next_violation()
            waits: list[asyncio.Future[Any]] = [call, violation]
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if call in done:
                violation.cancel()
                return call.result()
            _raise_if_denied(permissions, subject, started)  # else: someone else's violation
    finally:
        if not call.done():
            call.cancel()


def _raise_if_denied(permissions: PermissionLog, subject: str, since: float) -> None:
    op = permissions.denied(subject, since=since)
    if op is not None:
        raise PermissionDenied(f"permission denied: this NATS identity may not {_verb(op)} {subject}",
                               where=subject)
    inbox = permissions.inbox_denied(since)
    if inbox is not None:
        raise PermissionDenied(
            f"permission denied: this NATS identity may not read replies on {inbox} (is its "
            f"inbox prefix {permissions.inbox_prefix!r} the one its credentials allow? a credentials "
            "file from `cephdr nats-config` must keep its name <role>.nk)",
            where=subject,
        )


def _verb(op: str) -> str:
    return "publish to" if op == "publish" else "subscribe to"


async def _settle(nc: NATS, timeout: float) -> None:
    """A round trip to the server: any -ERR it sent about what we sent before has been handled
    (nats-py runs the error callback inline while reading, before the PONG).

    nats-py writes a PING straight to the socket, ahead of commands still queued for its flusher
    (seen: the PONG came back before the server had read the publish), so the queue is written
    out first."""
    await nc._flush_pending(force_flush=True)
    await nc.flush(timeout=max(1, int(timeout)))


async def publish(
    nc: NATS,
    subject: str,
    data: bytes,
    *,
    permissions: PermissionLog,
    timeout: float = 5.0,
    headers: dict[str, str] | None = None,
) -> None:
    """A core publish that raises `PermissionDenied` when the server refuses it."""
    started = time.monotonic()
    await nc.publish(subject, data, headers=headers)
    await _settle(nc, timeout)
    _raise_if_denied(permissions, subject, started)


async def subscribe(
    nc: NATS,
    subject: str,
    *,
    cb: Callable[[Msg], Awaitable[None]],
    permissions: PermissionLog,
    timeout: float = 5.0,
) -> Subscription:
    """A subscription that raises `PermissionDenied` (and is dropped) when the server refuses it."""
    started = time.monotonic()
    sub = await nc.subscribe(subject, cb=cb)
    await _settle(nc, timeout)
    try:
        _raise_if_denied(permissions, subject, started)
    except PermissionDenied:
        await sub.unsubscribe()
        raise
    return sub


__all__ = ["CephDRError", "publish", "raise_for_reply", "request", "subscribe"]
