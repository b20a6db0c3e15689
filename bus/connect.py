"""Connecting to NATS the same way everywhere: named, never giving up, errors logged, not printed.

A denied publish or subscribe does not raise in nats-py: the server's `-ERR 'Permissions
Violation ...'` reaches only the error callback, and the caller's request just times out. We keep
the recent violations so `bus.client` can turn such a timeout into a clear `PermissionDenied`.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)

_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "([^"]+)"', re.IGNORECASE)


@dataclass
class PermissionLog:
    """Recent permission violations reported by the server (subject lower-cased by nats-py)."""

    recent: deque[tuple[float, str, str]] = field(default_factory=lambda: deque(maxlen=64))

    def record(self, text: str) -> bool:
        m = _VIOLATION.search(text)
        if not m:
            return False
        self.recent.append((time.monotonic(), m.group(1).lower(), m.group(2).lower()))
        return True

    def denied(self, subject: str, since: float) -> str | None:
        """The operation ("publish"/"subscription") denied for `subject` after `since`, if any."""
        s = subject.lower()
        for at, op, subj in reversed(self.recent):
            if at >= since and (subj == s or _matches(subj, s)):
                return op
        return None


def _matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)


def inbox_prefix_for(name: str) -> str:
    """`_INBOX_<name>`: lets the server scope who may read which replies (issue: least privilege)."""
    return "_INBOX_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


async def connect(
    servers: list[str] | str,
    *,
    name: str,
    credentials: str = "",
    inbox_prefix: str | None = None,
    permissions: PermissionLog | None = None,
    connect_timeout: float = 3.0,
    forever: bool = True,
) -> NATS:
    perms = permissions if permissions is not None else PermissionLog()

    async def on_error(e: Exception) -> None:
        text = str(e)
        if perms.record(text):
            log.error("nats: %s", text)
        else:
            log.warning("nats error: %s", text or type(e).__name__)

    async def on_disconnect() -> None:
        log.info("nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected")

    kwargs: dict[str, object] = {}
    if credentials:
        path = Path(credentials)
        if path.suffix == ".creds":
            kwargs["user_credentials"] = str(path)
        else:
            kwargs["nkeys_seed"] = str(path)
    return await nats.connect(
        servers if isinstance(servers, list) else [servers],
        name=name,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        connect_timeout=connect_timeout,
        max_reconnect_attempts=-1 if forever else 3,
        reconnect_time_wait=1,
        ping_interval=20,
        max_outstanding_pings=3,
        inbox_prefix=inbox_prefix or inbox_prefix_for(name),
        **kwargs,
    )
