"""Automatic failover: `cephdr.ctl.auto.{pause,resume,get}`.

A pause holds the autopilot (maintenance): no automatic failover or failback starts while it
stands; decisions are still made and published, with the pause as their reason. Requests by an
operator are never held. Without `group` the pause is fleet-wide.
"""

from __future__ import annotations

import time

from msgspec.structs import replace

from controller.context import ControllerContext
from controller.service.groups import get
from controller.service.registry import router
from schemas.common import Done
from schemas.ctl import GroupRef
from schemas.group import GroupRecord
from schemas.ids import GroupName
from schemas.policy import AutoState, GetAuto, GroupAuto, Pause, PauseAuto, ResumeAuto


@router.command("auto.pause", request=PauseAuto, reply=Done)
async def pause(ctx: ControllerContext, req: PauseAuto) -> Done:
    """Hold automatic failover and failback, for one group or (without `group`) for all."""
    held = Pause(at=time.time(), by=req.actor or "", reason=req.reason)
    if req.group is None:
        already = await ctx.store.auto_pause() is not None
        await ctx.store.put_auto_pause(held)
        return Done(changed=not already, message="automatic actions paused for every group")
    rec = await get(ctx, GroupRef(group=req.group))
    await ctx.runner.update_group(rec.spec.name, lambda g: replace(g, paused=held))
    return Done(changed=rec.paused is None, message=f"automatic actions paused for {req.group}")


@router.command("auto.resume", request=ResumeAuto, reply=Done)
async def resume(ctx: ControllerContext, req: ResumeAuto) -> Done:
    """Lift a pause (fleet-wide without `group`; a group's own pause stays until lifted too)."""
    if req.group is None:
        was = await ctx.store.auto_pause() is not None
        await ctx.store.put_auto_pause(None)
        return Done(changed=was, message="fleet-wide pause lifted")
    rec = await get(ctx, GroupRef(group=req.group))

    def lift(g: GroupRecord) -> GroupRecord:
        return replace(g, paused=None)

    await ctx.runner.update_group(rec.spec.name, lift)
    return Done(changed=rec.paused is not None, message=f"pause of {req.group} lifted")


@router.command("auto.get", request=GetAuto, reply=AutoState)
async def state(ctx: ControllerContext, req: GetAuto) -> AutoState:
    """The autopilot's view: the fleet-wide pause, each group's policy, pause and last decision."""
    groups = [await get(ctx, GroupRef(group=req.group))] if req.group else await ctx.store.groups()
    return AutoState(
        paused=await ctx.store.auto_pause(),
        groups=[
            GroupAuto(
                group=GroupName(g.spec.name),
                policy=g.spec.auto,
                paused=g.paused,
                last=ctx.decisions.get(g.spec.name),
                auto_failovers=list(g.auto_failovers),
            )
            for g in groups
        ],
    )
