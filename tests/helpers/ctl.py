"""The lab's controller as an operator's client sees it: requests on `cephdr.ctl.*`, and
following an operation to its end."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from nats.aio.client import Client as NATS

import controller.service.all  # noqa: F401  (registers endpoints: reply types)
from bus.client import request
from controller.service.registry import router
from schemas.ctl import FleetStatus, OpRecord

T = TypeVar("T")
OP_TIMEOUT = 1200.0


@dataclass
class Ctl:
    """The lab's controller, as an operator's client sees it."""

    nc: NATS

    async def req(self, name: str, *, timeout: float = 60.0, **body: Any) -> Any:
        ep = router.endpoints[name]
        return await request(self.nc, f"cephdr.ctl.{name}", body, reply=ep.reply, timeout=timeout)

    async def wait_op(self, op_id: str, *, timeout: float = OP_TIMEOUT) -> OpRecord:
        """Follow an operation until it ends (or `timeout`): its final record."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                op: OpRecord = await self.req("op.get", op_id=op_id, timeout=10)
                if op.state != "running":
                    return op
            except Exception as exc:  # a controller restarting in the test: keep asking
                if loop.time() > deadline:
                    raise AssertionError(f"operation {op_id}: {exc}") from exc
            if loop.time() > deadline:
                raise AssertionError(f"operation {op_id} still running after {timeout:g}s: {op.message}")
            await asyncio.sleep(1)


def rid() -> str:
    return f"test-{uuid.uuid4().hex[:16]}"


def describe(op: OpRecord) -> str:
    """An operation's steps, one per line: what a failing assertion shows."""
    lines = [f"{op.op_id} {op.state}: {op.message}"]
    for s in op.steps:
        lines.append(f"  {s.state:8} {s.name} | {s.message[:200]}")
    return "\n".join(lines)


async def group_healthy(ctl: Ctl, group: str, primary: str) -> FleetStatus | None:
    """The fleet status once `group` is primary on `primary`, without alerts, every member primary
    there and replaying on the other site; None before (a probe for async_wait_for)."""
    st: FleetStatus = await ctl.req("status", group=group)
    gs = st.groups[0]
    if gs.primary != primary or gs.alerts or gs.health != "ok":
        return None
    other = "site-b" if primary == "site-a" else "site-a"
    for m in gs.members:
        if m.sites[primary].role != "primary" or m.sites[other].state != "replaying":
            return None
    return st
