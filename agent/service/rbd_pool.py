"""RBD pool endpoints: mirroring mode, pool info, site name."""

from __future__ import annotations

from agent.ceph import rbd_pool
from agent.context import AgentContext
from agent.service.guards import require_confirmation, require_pool
from agent.service.registry import router
from schemas.common import Done
from schemas.rbd import (
    DisablePoolMirroring,
    EnablePoolMirroring,
    PeerInfo,
    PoolInfoRequest,
    PoolMirrorInfo,
    SetSiteName,
)


@router.command("rbd.pool.enable", request=EnablePoolMirroring, reply=Done)
async def pool_enable(ctx: AgentContext, req: EnablePoolMirroring) -> Done:
    """Enable mirroring on a pool in image or pool mode (optionally setting the site name)."""
    await require_pool(ctx.cluster, req.pool)
    done = []
    if req.site_name is not None and await rbd_pool.set_site_name(ctx.cluster, req.site_name):
        done.append(f"site name set to {req.site_name}")
    if await rbd_pool.set_pool_mirror_mode(ctx.cluster, req.pool, req.mode):
        done.append(f"pool {req.pool} mirroring enabled in {req.mode} mode")
    if not done:
        return Done(changed=False, message=f"pool {req.pool} already mirrored in {req.mode} mode")
    return Done(changed=True, message="; ".join(done))


@router.command("rbd.pool.disable", request=DisablePoolMirroring, reply=Done)
async def pool_disable(ctx: AgentContext, req: DisablePoolMirroring) -> Done:
    """Disable mirroring on a pool (needs no peers and no mirror-enabled images; confirm = pool)."""
    require_confirmation(req.confirm, req.pool, "disabling mirroring")
    if await rbd_pool.set_pool_mirror_mode(ctx.cluster, req.pool, "disabled"):
        return Done(changed=True, message=f"pool {req.pool} mirroring disabled")
    return Done(changed=False, message=f"pool {req.pool} mirroring already disabled")


@router.command("rbd.pool.info", request=PoolInfoRequest, reply=PoolMirrorInfo)
async def pool_info(ctx: AgentContext, req: PoolInfoRequest) -> PoolMirrorInfo:
    """Mirroring mode, site name, mirror uuid and peers of a pool (never peer keys)."""
    info = await rbd_pool.pool_info(ctx.cluster, req.pool)
    return PoolMirrorInfo(
        pool=req.pool,
        mode=info["mode"],
        site_name=info["site_name"],
        mirror_uuid=info["mirror_uuid"],
        peers=[PeerInfo(**p) for p in info["peers"]],
    )


@router.command("rbd.site_name.set", request=SetSiteName, reply=Done)
async def site_name_set(ctx: AgentContext, req: SetSiteName) -> Done:
    """Set this cluster's mirroring site name (what peers call it)."""
    if await rbd_pool.set_site_name(ctx.cluster, req.site_name):
        return Done(changed=True, message=f"site name set to {req.site_name}")
    return Done(changed=False, message=f"site name already {req.site_name}")
