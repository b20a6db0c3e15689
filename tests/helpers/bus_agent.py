"""The lab's REAL agents, reached over NATS, behind the same `req(name, **body)` interface as
`agent_ctx.Agent`: workflow tests written against one run against the other.

A long command answers `Accepted`; `req` then follows the agent's op events until the operation
ends, keeps its progress and result (as `InlineOps` does), and raises the op's error if it failed.
The identity is the lab agent's own key file, so a test can open what was sealed for that agent.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import msgspec
from nats.aio.client import Client as NATS

import agent.service.all  # noqa: F401  (registers every endpoint: reply and result types)
from agent.identity import Identity
from agent.service.registry import router
from bus.client import request
from bus.subjects import agent_prefix, event_subject
from schemas.errors import DeadlineExceeded, from_body
from schemas.ops import OpEvent

REQUEST_TIMEOUT = 60.0
OP_TIMEOUT = 900.0


@dataclass
class BusOps:
    results: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)


@dataclass
class BusAgent:
    site: str
    nc: NATS
    identity: Identity
    ctx: SimpleNamespace  # .site, .cluster (a test-side connection, for oracle-style I/O only)
    ops: BusOps = field(default_factory=BusOps)

    async def req(self, name: str, /, *, timeout: float = REQUEST_TIMEOUT, **body: Any) -> Any:
        ep = router.endpoints[name]
        subject = f"{agent_prefix(self.site)}.{name}"
        if not ep.long:
            return await request(self.nc, subject, body, reply=ep.reply, timeout=timeout)
        events: asyncio.Queue[OpEvent] = asyncio.Queue()

        async def on_event(msg: Any) -> None:
            events.put_nowait(msgspec.json.decode(msg.data, type=OpEvent))

        sub = await self.nc.subscribe(event_subject(self.site, "op"), cb=on_event)
        try:
            accepted = await request(self.nc, subject, body, reply=ep.reply, timeout=timeout)
            op_id = accepted.op_id
            progress = self.ops.progress.setdefault(op_id, [])
            loop = asyncio.get_running_loop()
            deadline = loop.time() + OP_TIMEOUT
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    raise DeadlineExceeded(f"operation {op_id} did not finish in {OP_TIMEOUT:g}s")
                try:
                    ev = await asyncio.wait_for(events.get(), timeout=left)
                except TimeoutError:
                    continue
                rec = ev.op
                if rec.op_id != op_id:
                    continue
                if rec.total:
                    progress.append((rec.done, rec.total, rec.message))
                if rec.state == "failed":
                    assert rec.error is not None
                    raise from_body(rec.error)
                if rec.state == "succeeded":
                    assert ep.result is not None
                    self.ops.results[op_id] = msgspec.convert(rec.result, ep.result)
                    return accepted
        finally:
            await sub.unsubscribe()
