"""Calling a cephdr endpoint: every request has a deadline, and every failure comes back as the
error tree (a micro error reply is rebuilt from its JSON body; no responders is `Unavailable`; a
timeout caused by a permission denial is reported as `PermissionDenied`, not as a timeout).
"""

from __future__ import annotations

import time
from typing import Any, TypeVar, overload

import msgspec
from nats.aio.client import Client as NATS
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
        msg = await nc.request(subject, data, timeout=timeout, headers=headers)
    except NoRespondersError:
        raise Unavailable(
            f"nobody serves {subject} (agent or controller not running?)", where=subject
        ) from None
    except NatsTimeout:
        if permissions is not None:
            op = permissions.denied(subject, since=started)
            if op is not None:
                raise PermissionDenied(
                    f"the NATS server denied this identity {op} on {subject}", where=subject
                ) from None
        raise DeadlineExceeded(f"no reply on {subject} within {timeout:g}s", where=subject) from None
    raise_for_reply(msg.data, msg.headers, subject)
    if reply is None:
        return msgspec.json.decode(msg.data) if msg.data else None
    try:
        return msgspec.json.decode(msg.data, type=reply)
    except msgspec.DecodeError as exc:
        raise Internal(f"unexpected reply on {subject}: {exc}", where=subject) from None


__all__ = ["CephDRError", "raise_for_reply", "request"]
