"""`daemon.status` against the real mirror daemons of both sites."""

from __future__ import annotations

import fs_fixtures
import pytest
from helpers.agent_ctx import Agent, InlineOps, make_cluster
from helpers.wait import async_wait_for
from nacl.public import PrivateKey

from agent.context import AgentContext
from agent.identity import Identity
from lab.model import LabInfo
from schemas.daemon import DaemonHealth
from schemas.ids import SiteName
from schemas.status import Health

pytestmark = pytest.mark.system

# the fixtures live in fs_fixtures.py (conftest.py is shared with the RBD tests)
fs_agents = fs_fixtures.fs_agents


@pytest.mark.parametrize("site", ["site-a", "site-b"])
async def test_both_mirror_daemons_up(fs_agents: dict[str, Agent], site: str) -> None:
    agent = fs_agents[site]

    async def healthy() -> DaemonHealth | None:
        h: DaemonHealth = await agent.req("daemon.status")
        kinds = {d.kind for d in h.daemons if d.up}
        # rbd-mirror reports the pools it replays through the service map only after its first
        # status update (mgr_stats_period): right after a lab comes up, `serves` is still empty
        serving = any("rbd" in d.serves for d in h.daemons if d.kind == "rbd-mirror")
        return h if kinds == {"rbd-mirror", "cephfs-mirror"} and serving else None

    h = await async_wait_for(healthy, timeout=120, interval=1, what=f"{site} mirror daemons up, serving rbd")
    assert h.site == site
    for d in h.daemons:
        assert d.version == "16.2.15" and d.hostname
        assert d.health in (Health.OK, Health.WARNING), d  # WARNING: a failed dir of another test
    rbd = next(d for d in h.daemons if d.kind == "rbd-mirror")
    assert "rbd" in rbd.serves


async def test_dead_admin_socket_reports_that_daemon_down(lab: LabInfo) -> None:
    # a running agent's socket paths cannot be broken from outside: call the handler in-process
    s = lab.site("site-a")
    ops = InlineOps(site=s.name)
    ctx = AgentContext(
        SiteName(s.name),
        make_cluster(s.conf, s.keyring),
        ops,
        Identity(PrivateKey.generate()),
        asok={"rbd-mirror": s.rbd_mirror_asok, "cephfs-mirror": "/nonexistent/cephfs-mirror.asok"},
    )
    try:
        h: DaemonHealth = await Agent(ctx, ops, ctx.identity).req("daemon.status")  # type: ignore[arg-type]
    finally:
        ctx.cluster.close()
        ctx.cluster.executor.shutdown()
    fsm = [d for d in h.daemons if d.kind == "cephfs-mirror"]
    assert fsm and not fsm[0].up and fsm[0].health is Health.ERROR
    assert any("admin socket" in r and "does not exist" in r for r in fsm[0].details)
    assert any(d.kind == "rbd-mirror" and d.up for d in h.daemons)  # the rest still answered
