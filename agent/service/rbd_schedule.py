"""Mirror snapshot schedule endpoints (mgr rbd_support): add / remove / list / status."""

from __future__ import annotations

from agent.ceph import rbd_image, rbd_schedule
from agent.context import AgentContext
from agent.service.registry import router
from schemas.common import Done
from schemas.errors import Conflict
from schemas.rbd import (
    AddSchedule,
    ListSchedules,
    RemoveSchedule,
    ScheduledImage,
    ScheduleEntry,
    ScheduleList,
    ScheduleStatusReply,
    ScheduleStatusRequest,
)


async def _count_at(ctx: AgentContext, spec: str) -> int:
    return sum(1 for e in await rbd_schedule.schedule_list(ctx.cluster, spec) if e["level_spec"] == spec)


@router.command("rbd.schedule.add", request=AddSchedule, reply=Done)
async def schedule_add(ctx: AgentContext, req: AddSchedule) -> Done:
    """Add a mirror snapshot schedule at pool, namespace or image level; idempotent."""
    await rbd_schedule.check_level(ctx.cluster, req.pool, req.namespace, req.image)
    if req.image and not req.namespace:
        info = await rbd_image.image_info(ctx.cluster, req.pool, req.image)
        if info["mode"] != "snapshot":
            raise Conflict(
                f"{req.pool}/{req.image} is not mirrored in snapshot mode: schedules only apply to"
                " snapshot-mode images",
                where="$.image",
            )
    spec = req.level_spec()
    before = await _count_at(ctx, spec)
    await rbd_schedule.schedule_add(ctx.cluster, spec, req.interval, req.start_time)
    what = f"every {req.interval}" + (f" from {req.start_time}" if req.start_time else "")
    if await _count_at(ctx, spec) == before:
        return Done(changed=False, message=f"{spec} already has the schedule {what}")
    return Done(changed=True, message=f"{spec}: mirror snapshot {what}")


@router.command("rbd.schedule.remove", request=RemoveSchedule, reply=Done)
async def schedule_remove(ctx: AgentContext, req: RemoveSchedule) -> Done:
    """Remove one mirror snapshot schedule of a level, or all of them when no interval is given."""
    await rbd_schedule.check_level(ctx.cluster, req.pool, req.namespace, req.image)
    spec = req.level_spec()
    before = await _count_at(ctx, spec)
    if before:
        await rbd_schedule.schedule_remove(ctx.cluster, spec, req.interval, req.start_time)
    removed = before - (await _count_at(ctx, spec) if before else 0)
    if not removed:
        return Done(changed=False, message=f"{spec} has no such schedule")
    return Done(changed=True, message=f"{spec}: {removed} schedule(s) removed")


@router.command("rbd.schedule.list", request=ListSchedules, reply=ScheduleList)
async def schedule_list(ctx: AgentContext, req: ListSchedules) -> ScheduleList:
    """Mirror snapshot schedules at a level, below it, and the parent level that applies to it."""
    await rbd_schedule.check_level(ctx.cluster, req.pool, req.namespace, req.image)
    entries = await rbd_schedule.schedule_list(ctx.cluster, req.level_spec())
    return ScheduleList(schedules=[ScheduleEntry(**e) for e in entries])


@router.command("rbd.schedule.status", request=ScheduleStatusRequest, reply=ScheduleStatusReply)
async def schedule_status(ctx: AgentContext, req: ScheduleStatusRequest) -> ScheduleStatusReply:
    """Next scheduled mirror snapshot of each image under a level (empty until rbd_support refreshed)."""
    await rbd_schedule.check_level(ctx.cluster, req.pool, req.namespace, req.image)
    items = await rbd_schedule.schedule_status(ctx.cluster, req.level_spec())
    return ScheduleStatusReply(scheduled=[ScheduledImage(**i) for i in items])
