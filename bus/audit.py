"""Recording every served command in the audit stream, without ever holding the command up.

`bus.service` hands each `Outcome` to an `AuditTrail`, which turns it into an `AuditRecord` with
secrets redacted and queues it on its own outbox (bounded, oldest dropped, retried with back-off,
de-duplicated by `Nats-Msg-Id`): a slow, absent or refusing JetStream delays or loses audit
records, never a reply.

Why the service writes the record rather than the server capturing requests (a stream on the
command subjects): a captured request would keep its sealed bootstrap token unredacted, and would
have no outcome. `Nats-Request-Info` (the server-stamped sender) exists only on service imports
between accounts, and cephdr's roles share one account; the sender is therefore the inbox prefix
of the reply subject, which only that role may subscribe to (see schemas/audit.py).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from bus.codec import encode
from bus.outbox import Outbox
from schemas.audit import AuditRecord, AuditService

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

    from bus.service import Outcome

REDACTED = "<redacted>"

# field names whose values are secrets whatever they look like (public keys are not)
_SECRET_FIELD = re.compile(r"(^|_)(sealed|token|secret|seed|password|passwd|keyring|credentials?|key)$", re.I)
# values that are secrets wherever they appear: a cephx key, an nkey seed, a bootstrap token
# (base64 JSON), a sealed box, a creds file's JWT / seed block
_SECRET_VALUE = re.compile(
    r"AQ[A-Za-z0-9+/]{36}==|S[UOACNPX][A-Z2-7]{56}|eyJ[A-Za-z0-9+/=_-]{20,}|-----BEGIN [A-Z ]+-----"
)


def is_secret_field(name: str) -> bool:
    return bool(_SECRET_FIELD.search(name)) and not name.lower().endswith("public_key")


def scrub(text: str) -> str:
    """`text` with every secret-looking value replaced."""
    return _SECRET_VALUE.sub(REDACTED, text)


def redact(value: Any) -> Any:
    """A JSON-like value with secret fields and secret-looking strings replaced, recursively."""
    if isinstance(value, dict):
        return {
            k: REDACTED if is_secret_field(str(k)) and v is not None else redact(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def sender_of(reply: str) -> str:
    """The inbox prefix of a reply subject: `_INBOX_ops_alice.abc.1` -> `_INBOX_ops_alice`."""
    return reply.split(".", 1)[0] if reply else ""


def audit_subject(service_prefix: str) -> str:
    """`cephdr.agent.site-a` -> `cephdr.audit.agent.site-a`; `cephdr.ctl` -> `cephdr.audit.ctl`."""
    root, _, rest = service_prefix.partition(".")
    return f"{root}.audit.{rest}" if rest else f"{root}.audit"


def build_record(o: Outcome, *, service: AuditService, site: str | None) -> AuditRecord:
    request: dict[str, Any] | None = None
    if o.request is not None:
        raw = msgspec.to_builtins(o.request)
        request = redact(raw) if isinstance(raw, dict) else None
    err = o.error
    return AuditRecord(
        at=o.at,
        service=service,
        site=site,
        subject=o.subject,
        endpoint=o.endpoint,
        sender=sender_of(o.reply),
        actor=getattr(o.request, "actor", None),
        request_id=getattr(o.request, "request_id", None),
        request=request,
        request_bytes=o.size,
        outcome="ok" if err is None else err.code,
        status=200 if err is None else err.status,
        message="" if err is None else scrub(err.message),
        duration_ms=round(o.duration_s * 1000, 3),
    )


class AuditTrail:
    """The audit sink of one service host: `await trail(outcome)` only queues."""

    def __init__(
        self, nc: NATS, subject: str, *, service: AuditService, site: str | None, max_queue: int = 10_000
    ) -> None:
        self.subject = subject
        self.service: AuditService = service
        self.site = site
        # its own outbox: a backlog of audit records never delays events, nor the other way round
        self.outbox = Outbox(nc, nc.jetstream(timeout=2.0), max_queue=max_queue)

    def start(self) -> None:
        self.outbox.start()

    async def stop(self, within: float = 2.0) -> None:
        await self.outbox.flush(within)
        await self.outbox.stop()

    async def __call__(self, o: Outcome) -> None:
        rec = build_record(o, service=self.service, site=self.site)
        self.outbox.put(self.subject, encode(rec), msg_id=uuid.uuid4().hex)

    @property
    def dropped(self) -> int:
        return self.outbox.dropped
