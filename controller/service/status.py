"""Fleet and group status, and sites: `cephdr.ctl.status`, `cephdr.ctl.site.list`."""

from __future__ import annotations

import asyncio

from controller.context import ControllerContext
from controller.service.registry import router
from controller.view import group_status
from schemas.ctl import FleetStatus, GetStatus, GroupStatus, ListSites, SiteInfo, SiteList
from schemas.errors import NotFound
from schemas.status import SiteStatus


@router.command("site.list", request=ListSites, reply=SiteList)
async def sites(ctx: ControllerContext, req: ListSites) -> SiteList:
    """Every site: agent version, public key, last heartbeat, cluster and peer reachability; and
    which controller (lease holder) answered."""
    return SiteList(sites=[ctx.sites.info(s) for s in ctx.sites.names()], leader=ctx.leader)


async def group_statuses(ctx: ControllerContext, group: str | None) -> list[GroupStatus]:
    groups = await ctx.store.groups()
    if group is not None:
        groups = [g for g in groups if g.name == group]
        if not groups:
            raise NotFound(f"no group {group}", where="$.group")
    wanted = sorted({s for g in groups for s in g.spec.sites})
    got = await asyncio.gather(*(ctx.store.site_status(s) for s in wanted))
    statuses: dict[str, SiteStatus | None] = dict(zip(wanted, got, strict=True))
    infos: dict[str, SiteInfo] = {s: ctx.sites.info(s) for s in wanted}
    out = []
    for g in groups:
        last = None
        if g.active_op or g.last_op:
            last = ctx.runner.current.get(g.active_op or g.last_op or "") or await ctx.store.op(
                g.active_op or g.last_op or ""
            )
        out.append(group_status(g, {s: statuses[s] for s in g.spec.sites}, infos, last))
    return out


@router.command("status", request=GetStatus, reply=FleetStatus)
async def status(ctx: ControllerContext, req: GetStatus) -> FleetStatus:
    """The fleet (or one group): sites, each member on each site, primary, RPO lag, alerts."""
    groups = await group_statuses(ctx, req.group)
    return FleetStatus(sites=[ctx.sites.info(s) for s in ctx.sites.names()], groups=groups)
