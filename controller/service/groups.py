"""Protection groups: `cephdr.ctl.group.{apply,get,list,delete,reconcile}`."""

from __future__ import annotations

import secrets
import time

from msgspec.structs import replace

from controller.context import ControllerContext
from controller.ops import machine, plans
from controller.service.registry import router
from schemas.common import Accepted, Done
from schemas.ctl import (
    ApplyGroup,
    DeleteGroup,
    GroupApplied,
    GroupEvent,
    GroupList,
    GroupRef,
    ListGroups,
    OpRecord,
    ReconcileGroup,
)
from schemas.errors import Busy, Conflict, InvalidRequest, NotFound, require_confirmation
from schemas.group import GroupRecord, GroupSpec
from schemas.ids import OpId


def new_op_id(kind: str) -> OpId:
    return OpId(f"{kind[:4]}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}")


def _members(spec: GroupSpec) -> set[str]:
    out = {f"rbd:{m.pool}/{i}" for m in spec.rbd for i in m.images}
    out |= {f"rbd:{m.pool}/*" for m in spec.rbd if m.whole_pool}
    out |= {f"fs:{m.fs}:{d}" for m in spec.fs for d in m.dirs}
    return out


def _overlap(a: GroupSpec, b: GroupSpec) -> set[str]:
    """Members two groups would share (an image in two groups could be fenced by either)."""
    ma, mb = _members(a), _members(b)
    pools_a = {m.pool for m in a.rbd if m.whole_pool}
    pools_b = {m.pool for m in b.rbd if m.whole_pool}
    shared = ma & mb
    shared |= {x for x in mb if x.startswith("rbd:") and x[4:].split("/")[0] in pools_a}
    shared |= {x for x in ma if x.startswith("rbd:") and x[4:].split("/")[0] in pools_b}
    return shared


async def _validate(ctx: ControllerContext, spec: GroupSpec, current: GroupRecord | None) -> None:
    known = ctx.sites.names()
    for i, s in enumerate(spec.sites):
        if s not in known:
            raise InvalidRequest(
                f"no agent has reported site {s} (known sites: {', '.join(known) or 'none'})",
                where=f"$.spec.sites[{i}]",
            )
    if current is not None and sorted(current.spec.sites) != sorted(spec.sites):
        raise Conflict(
            f"group {spec.name} is between {current.spec.sites}; a group's sites cannot change "
            "(delete it and apply a new one)",
            where="$.spec.sites",
        )
    for other in await ctx.store.groups():
        if other.spec.name == spec.name:
            continue
        shared_fs = {m.fs for m in spec.fs} & {m.fs for m in other.spec.fs}
        if shared_fs:
            raise Conflict(
                f"file system {', '.join(sorted(shared_fs))} is in group {other.spec.name}: CephFS mirrors a "
                "file-system pair in one direction only, so all its directories fail over together; "
                "put them in one group",
                where="$.spec.fs",
                details={"group": other.spec.name},
            )
        shared = _overlap(spec, other.spec)
        if shared:
            raise Conflict(
                f"member(s) already in group {other.spec.name}: {', '.join(sorted(shared))}",
                where="$.spec",
                details={"group": other.spec.name},
            )


async def start_op(ctx: ControllerContext, op: OpRecord) -> Accepted:
    await ctx.runner.start(op)
    return Accepted(op_id=op.op_id, events_subject=ctx.events_subject)


@router.command("group.apply", request=ApplyGroup, reply=GroupApplied)
async def apply(ctx: ControllerContext, req: ApplyGroup) -> GroupApplied:
    """Create or update a protection group, then reconcile it (progress on cephdr.ctl.evt.op)."""
    spec = req.spec
    got = await ctx.store.group(spec.name)
    current = got[0] if got else None
    await _validate(ctx, spec, current)
    now = time.time()
    if current is None:
        rec = GroupRecord(spec=spec, primary=spec.primary, created_at=now, updated_at=now)
        await ctx.store.put_group(rec, None)
        changed, note = True, f"group {spec.name} created with {spec.primary} primary"
    else:
        if current.active_op:
            raise Busy(
                f"group {spec.name} is busy with operation {current.active_op}",
                where="$.spec.name",
                details={"active_op": current.active_op},
            )
        # the primary in a spec is the initial one: after a failover the group's primary stands
        same = replace(spec, primary=current.spec.primary) == current.spec
        rec = (
            current
            if same
            else replace(
                current,
                spec=replace(spec, primary=current.spec.primary),
                generation=current.generation + 1,
                updated_at=now,
            )
        )
        if not same:
            assert got is not None
            await ctx.store.put_group(rec, got[1])
        changed = not same
        note = f"group {spec.name} {'updated' if changed else 'unchanged'}; primary is {current.primary}"
    op = machine.new_op(
        new_op_id("reconcile"),
        "reconcile",
        spec.name,
        plans.reconcile(rec),
        now=now,
        request_id=req.request_id,
        actor=req.actor,
    )
    await ctx.runner.start(op)
    if changed:
        ctx.runner.emit("group", GroupEvent(at=now, group=spec.name, change="applied", message=note))
    return GroupApplied(
        group=rec, changed=changed, op_id=op.op_id, message=note + f"; reconciling ({op.op_id})"
    )


@router.command("group.get", request=GroupRef, reply=GroupRecord)
async def get(ctx: ControllerContext, req: GroupRef) -> GroupRecord:
    """One protection group: spec, primary, epoch, running and last operation."""
    got = await ctx.store.group(req.group)
    if got is None:
        raise NotFound(f"no group {req.group}", where="$.group")
    return got[0]


@router.command("group.list", request=ListGroups, reply=GroupList)
async def list_(ctx: ControllerContext, req: ListGroups) -> GroupList:
    """Every protection group."""
    return GroupList(groups=await ctx.store.groups())


@router.command("group.delete", request=DeleteGroup, reply=Done)
async def delete(ctx: ControllerContext, req: DeleteGroup) -> Done:
    """Stop managing a group (confirm = group name); Ceph's mirroring stays as it is."""
    got = await ctx.store.group(req.group)
    if got is None:
        return Done(changed=False, message=f"no group {req.group}")
    require_confirmation(req.confirm, req.group, "deleting a protection group")
    if got[0].active_op:
        raise Busy(f"group {req.group} is busy with operation {got[0].active_op}", where="$.group")
    await ctx.store.delete_fence(req.group)
    await ctx.store.delete_group(req.group)
    ctx.runner.emit(
        "group",
        GroupEvent(
            at=time.time(),
            group=req.group,
            change="deleted",
            message=f"group {req.group} deleted; Ceph mirroring left as it was",
        ),
    )
    return Done(changed=True, message=f"group {req.group} deleted; mirroring in Ceph left as it was")


@router.command("group.reconcile", request=ReconcileGroup, reply=Accepted, long=True, result=OpRecord)
async def reconcile(ctx: ControllerContext, req: ReconcileGroup) -> Accepted:
    """Reconcile a group now: mirroring, peers, schedules on the primary only, drift repaired."""
    rec = await get(ctx, GroupRef(group=req.group))
    op = machine.new_op(
        new_op_id("reconcile"),
        "reconcile",
        req.group,
        plans.reconcile(rec),
        now=time.time(),
        request_id=req.request_id,
        actor=req.actor,
    )
    return await start_op(ctx, op)
