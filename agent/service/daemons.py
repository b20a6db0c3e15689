"""`daemon.status`: health of this site's rbd-mirror and cephfs-mirror daemons."""

from __future__ import annotations

import time

from agent.ceph import daemons
from agent.context import AgentContext
from agent.service.registry import router
from schemas.daemon import DaemonHealth, GetDaemonStatus

# Admin socket paths keyed "rbd-mirror" / "cephfs-mirror", until AgentContext carries them


@router.command("daemon.status", request=GetDaemonStatus, reply=DaemonHealth)
async def daemon_status(ctx: AgentContext, req: GetDaemonStatus) -> DaemonHealth:
    """Health of the rbd-mirror and cephfs-mirror daemons (service map + admin sockets)."""
    now = time.time()
    found, dirs = await daemons.daemon_statuses(ctx.cluster, asoks=dict(ctx.asok), now=now)
    return DaemonHealth(site=ctx.site, checked_at=now, daemons=found, dirs=dirs if req.dirs else [])
