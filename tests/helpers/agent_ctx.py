"""An agent's handlers without the bus, for system tests: an `AgentContext` per site.

The op runner here runs a long command's work inline (the test gets the result right after the
`Accepted`); the identity is the real NaCl one with a fresh key per session.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

import agent.service.rbd_bulk
import agent.service.rbd_image
import agent.service.rbd_peer
import agent.service.rbd_pool
import agent.service.rbd_schedule  # noqa: F401  (registers the RBD endpoints)
from agent.ceph.cluster import CephCluster
from agent.ceph.executor import CephExecutor
from agent.config import Timeouts
from agent.context import AgentContext, Progress
from agent.identity import Identity
from agent.service.registry import router
from bus.codec import decode_request
from schemas.common import Accepted
from schemas.ids import OpId


@dataclass
class InlineOps:
    """Runs the work of a long command before answering; keeps results and progress for asserts."""

    site: str
    results: dict[str, msgspec.Struct] = field(default_factory=dict)
    progress: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)

    async def start(
        self, kind: str, target: str, work: Callable[[Progress], Awaitable[msgspec.Struct]]
    ) -> Accepted:
        op_id = f"{kind}-{uuid.uuid4().hex[:8]}"
        events = self.progress.setdefault(op_id, [])

        async def progress(done: int, total: int, msg: str) -> None:
            events.append((done, total, msg))

        self.results[op_id] = await work(progress)
        return Accepted(op_id=OpId(op_id), events_subject=f"cephdr.evt.{self.site}.op")


@dataclass
class Agent:
    """One site's agent, as handlers see it; `req` calls an endpoint the way the bus does
    (the JSON request is decoded and validated against the endpoint's request type first)."""

    ctx: AgentContext
    ops: InlineOps
    identity: Identity

    async def req(self, name: str, /, **body: Any) -> Any:
        ep = router.endpoints[name]
        # the same decoding the bus boundary does: bad input is InvalidRequest with a `where`
        request = decode_request(msgspec.json.encode(body), ep.request)
        reply = await ep.handler(self.ctx, request)
        assert isinstance(reply, ep.reply), (name, reply)
        return reply


def make_cluster(conf: str, keyring: str | None = None, *, timeouts: Timeouts | None = None) -> CephCluster:
    return CephCluster(
        conffile=conf,
        keyring=keyring,
        executor=CephExecutor(max_workers=8, max_pending=32),
        timeouts=timeouts or Timeouts(connect=10, op=15, mon_op=15, osd_op=30),
    )
