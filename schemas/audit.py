"""The audit trail: one record per command an agent or the controller served, on
`<prefix>.audit.agent.<site>` / `<prefix>.audit.ctl` (stream `CEPHDR_AUDIT`).

`sender` is the identity as far as the server proves it: the inbox prefix of the reply subject.
Every role may subscribe only to its own `_INBOX_<name>` prefix, so only that identity can have
read the reply; a client that forged another's prefix would never see its answer. `actor` is the
human behind the request as the caller claims it (CLI user, chat user): informative, not proof.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

AuditService = Literal["agent", "ctl"]


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True, tag="cephdr.audit.v1", tag_field="type"):
    """What was asked, by whom, and how it ended. `request` has secrets (sealed bootstrap tokens,
    keys, seeds) replaced by "<redacted>"; a request that did not decode is not kept at all (its
    bytes could be anything), only its size."""

    at: float  # wall clock when the request arrived
    service: AuditService
    site: str | None = None  # the agent's site; None for the controller
    subject: str
    endpoint: str
    sender: str  # inbox prefix of the reply subject ("" if the request asked for no reply)
    actor: str | None = None
    request_id: str | None = None
    request: dict[str, Any] | None = None
    request_bytes: int = 0
    outcome: str  # "ok" or the error code from schemas/errors.py
    status: int = 200
    message: str = ""  # the error message sent back (never a traceback: see schemas/errors.py)
    duration_ms: float
