"""CephFS snapshot schedule endpoints: `fs.schedule.*`, `fs.retention.*` (mgr snap_schedule)."""

from __future__ import annotations

from agent.ceph import fs_schedule
from agent.context import AgentContext
from agent.service.registry import router
from schemas.common import Done
from schemas.fs import (
    AddFsRetention,
    AddFsSchedule,
    FsSchedules,
    FsScheduleStatus,
    RemoveFsRetention,
    RemoveFsSchedule,
    retention_spec,
)


@router.command("fs.schedule.add", request=AddFsSchedule, reply=Done)
async def schedule_add(ctx: AgentContext, req: AddFsSchedule) -> Done:
    """Add a snapshot schedule to a directory (Pacific: "M" = minutes)."""
    changed = await fs_schedule.add(ctx.cluster, req.fs, req.path, req.schedule, req.start)
    what = f"every {req.schedule} on {req.path}"
    return Done(changed=changed, message=f"snapshots {what}" if changed else f"already scheduled: {what}")


@router.command("fs.schedule.remove", request=RemoveFsSchedule, reply=Done)
async def schedule_remove(ctx: AgentContext, req: RemoveFsSchedule) -> Done:
    """Remove snapshot schedules of a directory."""
    changed = await fs_schedule.remove(ctx.cluster, req.fs, req.path, req.schedule, req.start)
    return Done(
        changed=changed,
        message=f"schedule removed from {req.path}" if changed else f"no such schedule on {req.path}",
    )


@router.command("fs.schedule.status", request=FsScheduleStatus, reply=FsSchedules)
async def schedule_status(ctx: AgentContext, req: FsScheduleStatus) -> FsSchedules:
    """The snapshot schedules of a directory, with retention and counters."""
    return FsSchedules(
        fs=req.fs, path=req.path, schedules=await fs_schedule.status(ctx.cluster, req.fs, req.path)
    )


@router.command("fs.retention.add", request=AddFsRetention, reply=Done)
async def retention_add(ctx: AgentContext, req: AddFsRetention) -> Done:
    """Add a retention rule to a scheduled directory (e.g. 24h, 7d, 10n)."""
    spec = retention_spec(req.retention)
    changed = await fs_schedule.retention_add(ctx.cluster, req.fs, req.path, req.retention)
    return Done(
        changed=changed, message=f"retention {spec} on {req.path}" + ("" if changed else " already set")
    )


@router.command("fs.retention.remove", request=RemoveFsRetention, reply=Done)
async def retention_remove(ctx: AgentContext, req: RemoveFsRetention) -> Done:
    """Remove retention rules from a scheduled directory."""
    spec = retention_spec(req.retention)
    changed = await fs_schedule.retention_remove(ctx.cluster, req.fs, req.path, req.retention)
    return Done(
        changed=changed, message=f"retention {spec} removed" if changed else f"retention {spec} was not set"
    )
