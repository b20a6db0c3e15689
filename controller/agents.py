"""Calling site agents from the controller: typed, with a deadline on every request (adapter).

Long agent commands (bulk promote/demote) answer `Accepted`; `run_long` then polls `op.get`
until the agent's operation ends, within the caller's deadline. Polling (not the op events) keeps
this correct across a controller restart and a lost event.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypeVar

import msgspec
from nats.aio.client import Client as NATS

from bus.client import request
from bus.connect import PermissionLog
from bus.subjects import agent_prefix
from schemas.common import Accepted
from schemas.errors import DeadlineExceeded, from_body
from schemas.ops import OpRecord
from schemas.status import SiteStatus

T = TypeVar("T")


class Agents:
    def __init__(
        self,
        nc: NATS,
        *,
        prefix: str,
        timeout: float = 30.0,
        permissions: PermissionLog | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.nc = nc
        self.prefix = prefix
        self.timeout = timeout
        self.permissions = permissions
        self.poll_s = poll_s

    def subject(self, site: str, endpoint: str) -> str:
        return f"{agent_prefix(site, self.prefix)}.{endpoint}"

    async def call(
        self, site: str, endpoint: str, body: dict[str, Any], reply: type[T], *, timeout: float | None = None
    ) -> T:
        return await request(
            self.nc,
            self.subject(site, endpoint),
            body,
            reply=reply,
            timeout=timeout or self.timeout,
            permissions=self.permissions,
        )

    async def status(self, site: str, *, fresh: bool = True) -> SiteStatus:
        return await self.call(site, "status", {"fresh": fresh}, SiteStatus)

    async def run_long(
        self, site: str, endpoint: str, body: dict[str, Any], result: type[T], *, timeout: float
    ) -> T:
        """Start a long agent command and wait (polling) for its result; its error is raised."""
        deadline = time.monotonic() + timeout
        acc = await self.call(site, endpoint, body, Accepted)
        while True:
            rec = await self.call(site, "op.get", {"op_id": acc.op_id}, OpRecord)
            if rec.state == "succeeded":
                return msgspec.convert(rec.result, result)
            if rec.state == "failed":
                assert rec.error is not None
                raise from_body(rec.error)
            if time.monotonic() >= deadline:
                raise DeadlineExceeded(
                    f"{endpoint} on {site} did not finish within {timeout:g}s ({rec.done}/{rec.total})",
                    where=self.subject(site, endpoint),
                )
            await asyncio.sleep(self.poll_s)
