"""Agent handlers against the real lab: one `AgentContext` per site (helpers.agent_ctx), handlers
called directly with requests decoded from JSON as the bus would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from helpers.agent_ctx import Agent, InlineOps, make_cluster
from nacl.public import PrivateKey

from agent.context import AgentContext
from agent.identity import Identity
from lab.model import LabInfo
from schemas.ids import SiteName


@pytest.fixture(scope="session")
async def agents(lab: LabInfo) -> AsyncIterator[dict[str, Agent]]:
    out: dict[str, Agent] = {}
    for s in lab.sites:
        ops = InlineOps(site=s.name)
        ident = Identity(PrivateKey.generate())
        cluster = make_cluster(s.conf, s.keyring)
        out[s.name] = Agent(AgentContext(SiteName(s.name), cluster, ops, ident), ops, ident)
    yield out
    for a in out.values():
        a.ctx.cluster.close()
        a.ctx.cluster.executor.shutdown()


@pytest.fixture
def rid() -> Callable[[], str]:
    """A fresh request_id per call."""
    return lambda: f"test-{uuid.uuid4().hex[:16]}"
