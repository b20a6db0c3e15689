"""The fencing step: write the epoch naming the primary, then record it in the group."""

from __future__ import annotations

import time

from msgspec.structs import replace

from controller.actions.base import (
    Env,
    Outcome,
    Step,
    action,
    group_record,
)
from schemas.errors import Conflict, Unavailable
from schemas.fencing import FenceMember, FenceRecord, FsFenceMember
from schemas.group import GroupRecord, Owed
from schemas.ids import SiteName


@action("fence.epoch")
async def fence_epoch(env: Env, step: Step) -> Outcome:
    """Write the group's epoch naming `primary`, then record it in the group. Idempotent: the same
    epoch and primary again changes nothing; a newer epoch written by someone else is a conflict."""
    a = step.args
    epoch, primary = int(a["epoch"]), SiteName(a["primary"])
    rec, rev = await group_record(env, step)
    current = await env.store.fence(rec.name)
    if current is not None and (
        current.epoch > epoch or (current.epoch == epoch and current.primary != primary)
    ):
        raise Conflict(
            f"group {rec.name} is at epoch {current.epoch} (primary {current.primary}) already",
            where=step.record.name,
        )
    members = await _fence_members(env, rec, primary)
    fs_members = [FsFenceMember(fs=m.fs, dirs=list(m.dirs)) for m in rec.spec.fs]
    fence = FenceRecord(
        group=rec.spec.name,
        epoch=epoch,
        primary=primary,
        rbd=members,
        fs=fs_members,
        updated_at=time.time(),
        reason=f"{step.op.kind} {step.op.op_id}",
    )
    changed = current is None or (current.epoch, current.primary, current.rbd, current.fs) != (
        epoch,
        primary,
        members,
        fs_members,
    )
    if changed:
        await env.store.put_fence(fence)
    owed = rec.owed
    if a.get("owed_by"):
        owed = Owed(
            site=a["owed_by"],
            since_epoch=epoch,
            reason=f"failed away from by {step.op.op_id}: must fence, resync, then fail back",
        )
    elif a.get("clear_owed"):
        owed = None
    new = replace(rec, primary=primary, epoch=epoch, owed=owed)
    moved = new != rec
    if moved:
        await env.store.put_group(replace(new, updated_at=time.time()), rev)
    return Outcome(f"epoch {epoch}: {primary} primary", changed=changed or moved, result={"epoch": epoch})


async def _fence_members(env: Env, rec: GroupRecord, primary: str) -> list[FenceMember]:
    out = []
    whole = [m for m in rec.spec.rbd if m.whole_pool]
    st = None
    if whole:  # the images a whole-pool member holds now, as the new primary sees them
        try:
            st = await env.agents.status(primary)
        except Unavailable:
            st = await env.store.site_status(primary)
    for m in rec.spec.rbd:
        if m.images:
            images = list(m.images)
        else:
            images = sorted(i.image for i in (st.images if st else []) if i.pool == m.pool)
        out.append(FenceMember(pool=m.pool, images=images))
    return out
