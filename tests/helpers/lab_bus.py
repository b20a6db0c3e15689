"""Connecting a test to the lab's NATS as one of the lab's roles (with the credentials the lab made
for that role, when its NATS requires them). Every system test connects through here, so switching
the lab to least-privilege identities changes one place."""

from __future__ import annotations

import itertools

from nats.aio.client import Client as NATS

from bus.connect import PermissionLog, connect
from lab.model import LabInfo

_seq = itertools.count(1)


async def lab_nats(lab: LabInfo, role: str = "operator", *, name: str = "",
                   permissions: PermissionLog | None = None) -> NATS:
    """A connection as `role`; `name` (default: the role plus a counter) also picks the inbox prefix."""
    return await connect(lab.nats_url, name=name or f"{role}-test-{next(_seq)}",
                         credentials=lab.creds(role), permissions=permissions,
                         connect_timeout=5, forever=False)
