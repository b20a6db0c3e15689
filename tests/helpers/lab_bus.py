"""Connecting a test to the lab's NATS as one of the lab's roles, with the credentials (and, for a
lab brought up with --tls, the client certificate) the lab made for that role. Every system test
connects through here.

Roles (bus/permissions.py): "operator" (controller requests, agents' read-only endpoints, events,
reading the state), "controller" (commands agents, writes KV), "agent-<site>", "chatops",
"viewer", and the lab-only "tap" (reads everything on the bus, publishes nothing).
"""

from __future__ import annotations

import itertools

from nats.aio.client import Client as NATS

from bus.connect import PermissionLog, connect_config
from lab.model import LabInfo

_seq = itertools.count(1)


async def lab_nats(lab: LabInfo, role: str = "operator", *, name: str = "",
                   permissions: PermissionLog | None = None) -> NATS:
    """A connection as `role` (its inbox prefix is the role's: `_INBOX_<role>`)."""
    return await connect_config(lab.nats_config(role), name=name or f"{role}-test-{next(_seq)}",
                                permissions=permissions, connect_timeout=5, forever=False)
