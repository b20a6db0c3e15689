"""Connecting to NATS the same way everywhere: named, never giving up, errors logged, not printed.

A denied publish or subscribe does not raise in nats-py: the server's `-ERR 'Permissions
Violation ...'` reaches only the error callback, and the caller's request just times out. We keep
the recent violations (and wake whoever waits on one) so `bus.client` can turn such a denial into
a clear `PermissionDenied` at once, not a timeout.

Identity: a credentials file written by `cephdr nats-config` is `<role>.nk` (an nkey seed); the
client then uses the inbox prefix `_INBOX_<role>`, the only one its permissions let it read.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.aio.client import Client as NATS

from bus import permissions as bus_permissions
from bus.config import NatsConfig
from schemas.errors import InvalidRequest

log = logging.getLogger(__name__)

_VIOLATION = re.compile(r'permissions violation for (publish|subscription) to "([^"]+)"', re.IGNORECASE)


@dataclass
class PermissionLog:
    """Recent permission violations reported by the server (subjects lower-cased by nats-py)."""

    recent: deque[tuple[float, str, str]] = field(default_factory=lambda: deque(maxlen=64))
    inbox_prefix: str = ""  # this connection's, set by `connect`
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def record(self, text: str) -> bool:
        m = _VIOLATION.search(text)
        if not m:
            return False
        self.recent.append((time.monotonic(), m.group(1).lower(), m.group(2).lower()))
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
        self._waiters.clear()
        return True

    def next_violation(self) -> asyncio.Future[None]:
        """Done when the server reports the next violation on this connection."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return fut

    def denied(self, subject: str, since: float) -> str | None:
        """The operation ("publish"/"subscription") denied for `subject` after `since`, if any."""
        s = subject.lower()
        for at, op, subj in reversed(self.recent):
            if at >= since and (subj == s or _matches(subj, s)):
                return op
        return None

    def inbox_denied(self, since: float) -> str | None:
        """The subscription to this connection's own inbox denied after `since` (the replies of
        every request), if it was."""
        pre = self.inbox_prefix.lower() + "."
        for at, op, subj in reversed(self.recent):
            if at >= since and op == "subscription" and pre != "." and subj.startswith(pre):
                return subj
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
    return bus_permissions.inbox_prefix(name)


def tls_context(ca: str, cert: str = "", key: str = "") -> ssl.SSLContext:
    """Verifies the server against `ca`; with `cert` and `key`, also shows a client certificate
    (mutual TLS). A missing or bad file is an `InvalidRequest` naming it."""
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca or None)
        if cert or key:
            ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidRequest(f"cannot load TLS files (ca {ca!r}, cert {cert!r}): {exc}",
                             where=cert or ca) from None
    return ctx


async def connect(
    servers: list[str] | str,
    *,
    name: str,
    credentials: str = "",
    inbox_prefix: str | None = None,
    permissions: PermissionLog | None = None,
    connect_timeout: float = 3.0,
    forever: bool = True,
    tls: ssl.SSLContext | None = None,
) -> NATS:
    """`credentials`: a `<role>.nk` seed file (or a `.creds` JWT file); the inbox prefix follows
    the role unless given. `tls`: see `tls_context` (a `tls://` server URL also turns TLS on)."""
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
        if inbox_prefix is None:
            inbox_prefix = inbox_prefix_for(bus_permissions.role_of_credentials(str(path)))
    if tls is not None:
        kwargs["tls"] = tls
    perms.inbox_prefix = inbox_prefix or inbox_prefix_for(name)
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
        inbox_prefix=perms.inbox_prefix,
        **kwargs,
    )


async def connect_config(
    cfg: NatsConfig,
    *,
    name: str,
    permissions: PermissionLog | None = None,
    connect_timeout: float = 3.0,
    forever: bool = True,
) -> NATS:
    """`connect` with everything a `[nats]` config section says (servers, credentials, TLS)."""
    tls = tls_context(cfg.tls_ca, cfg.tls_cert, cfg.tls_key) if cfg.tls_ca or cfg.tls_cert else None
    return await connect(cfg.servers, name=name, credentials=cfg.credentials, permissions=permissions,
                         connect_timeout=connect_timeout, forever=forever, tls=tls)
