"""Agent workflows against the lab's REAL agents, over NATS: every `req` is a request on
`cephdr.agent.<site>.<endpoint>` served by the `cephdr agent` process the lab started, which
talks to real Ceph. Long commands are followed through their op events. Nothing is faked.

`agents[site].ctx.cluster` is a separate, test-side librados connection for oracle-style checks
(reading data back); the product path never uses it. `helpers.agent_ctx.Agent` (handlers called
in-process) remains for the cases a running agent cannot stage, such as a dead cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.agent_ctx import make_cluster
from helpers.bus_agent import BusAgent
from helpers.lab_bus import lab_nats

from agent.identity import Identity
from lab import agents as lab_agents
from lab.model import LabInfo


@pytest.fixture(scope="session")
async def agents(lab: LabInfo) -> AsyncIterator[dict[str, BusAgent]]:
    assert lab.agents, "the lab runs no agents (was it brought up with --no-agents?)"
    nc = await lab_nats(lab, "controller")  # commands the agents, as the controller does
    out: dict[str, BusAgent] = {}
    for s in lab.sites:
        cfg = lab_agents.config_for(lab, s)
        identity = Identity.load_or_create(Path(cfg.agent.identity_file))
        out[s.name] = BusAgent(
            site=s.name,
            nc=nc,
            identity=identity,
            ctx=SimpleNamespace(site=s.name, cluster=make_cluster(s.conf, s.keyring)),
        )
    yield out
    for a in out.values():
        a.ctx.cluster.close()
        a.ctx.cluster.executor.shutdown()
    await nc.close()


@pytest.fixture
def rid() -> Callable[[], str]:
    """A fresh request_id per call."""
    return lambda: f"test-{uuid.uuid4().hex[:16]}"
