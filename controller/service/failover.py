"""Failover and failback: `cephdr.ctl.failover`, `cephdr.ctl.failback`.

Both answer `Accepted` at once with the operation id; progress is on `cephdr.ctl.evt.op` and in
`cephdr.ctl.op.get`. A planned failover never escalates to a forced one: when its prechecks fail
it fails, having changed nothing, and says why.

A failover or failback preempts a reconcile that holds the group (the periodic one may have
started just before the site died and would wait on it for minutes); a reconcile changes nothing a
failover depends on and is cancelled at a step boundary. Any other operation makes the request
`busy`.
"""

from __future__ import annotations

import contextlib
import time

from controller.context import ControllerContext
from controller.ops import machine, plans
from controller.service.groups import get, new_op_id, start_op
from controller.service.registry import router
from schemas.common import Accepted
from schemas.ctl import Failback, Failover, GroupRef, OpKind, OpRecord
from schemas.errors import Busy, Conflict, InvalidRequest, NotFound, require_confirmation
from schemas.group import GroupRecord
from schemas.ids import SiteName


@router.command("failover", request=Failover, reply=Accepted, long=True, result=OpRecord)
async def failover(ctx: ControllerContext, req: Failover) -> Accepted:
    """Fail a group over (planned; `force` + confirm = group name when the primary is lost)."""
    rec = await get(ctx, GroupRef(group=req.group))
    target = SiteName(req.to) if req.to else rec.secondary
    if target not in rec.spec.sites:
        raise InvalidRequest(
            f"{target} is not a site of group {req.group} ({', '.join(rec.spec.sites)})", where="$.to"
        )
    if req.force:
        require_confirmation(
            req.confirm, req.group, "a forced failover (the primary's unreplicated writes are lost)"
        )
    if target == rec.primary:
        raise Conflict(f"{target} is already the primary of {req.group} (epoch {rec.epoch})", where="$.to")
    if rec.owed is not None and rec.owed.site == target:
        raise Conflict(
            f"{target} was failed away from and has not been resynced: use failback, not failover",
            where="$.to",
        )
    return await start_failover(ctx, rec, target, force=req.force, request_id=req.request_id, actor=req.actor)


async def start_failover(
    ctx: ControllerContext,
    rec: GroupRecord,
    target: SiteName,
    *,
    force: bool,
    request_id: str | None,
    actor: str | None,
) -> Accepted:
    """Start a validated failover (the request handler and the autopilot both end here)."""
    rec = await _free(ctx, rec, "failover")  # last: a refused request must change nothing
    kind: OpKind = "unplanned_failover" if force else "planned_failover"
    op_id = new_op_id("unplanned" if force else "planned")
    plan = (
        plans.unplanned_failover(rec, target) if force else plans.planned_failover(rec, target, op_id=op_id)
    )
    op = machine.new_op(
        op_id,
        kind,
        rec.spec.name,
        plan,
        now=time.time(),
        source=rec.primary,
        target=target,
        epoch=rec.epoch + 1,
        request_id=request_id,
        actor=actor,
    )
    return await start_op(ctx, op)


@router.command("failback", request=Failback, reply=Accepted, long=True, result=OpRecord)
async def failback(ctx: ControllerContext, req: Failback) -> Accepted:
    """Bring a group back to the site an unplanned failover left: fence check, resync, catch up,
    then a planned failover back."""
    rec = await get(ctx, GroupRef(group=req.group))
    if rec.owed is None:
        raise Conflict(
            f"group {req.group} has no failback pending (primary {rec.primary}, epoch {rec.epoch}); "
            "use a planned failover to move it",
            where="$.group",
        )
    owed = rec.owed
    if not rec.spec.two_way:
        raise Conflict(
            f"group {req.group} is one-way (two_way = false): nothing replicates back to "
            f"{owed.site}, so a failback would lose what {rec.primary} wrote; make it two-way first",
            where="$.group",
        )
    return await start_failback(ctx, rec, request_id=req.request_id, actor=req.actor)


async def start_failback(
    ctx: ControllerContext, rec: GroupRecord, *, request_id: str | None, actor: str | None
) -> Accepted:
    """Start a validated failback (the request handler and the autopilot both end here)."""
    assert rec.owed is not None
    owed = rec.owed
    rec = await _free(ctx, rec, "failback")  # last: a refused request must change nothing
    op_id = new_op_id("failback")
    op = machine.new_op(
        op_id,
        "failback",
        rec.spec.name,
        plans.failback(rec, op_id=op_id),
        now=time.time(),
        source=rec.primary,
        target=owed.site,
        epoch=rec.epoch + 1,
        request_id=request_id,
        actor=actor,
    )
    return await start_op(ctx, op)


async def _free(ctx: ControllerContext, rec: GroupRecord, by: str) -> GroupRecord:
    """The group with no operation holding it: a reconcile is cancelled, anything else is `busy`."""
    for _ in range(3):
        if rec.active_op is None:
            return rec
        active = ctx.runner.current.get(rec.active_op) or await ctx.store.op(rec.active_op)
        if active is None or active.kind != "reconcile" or active.state in machine.FINISHED:
            break
        with contextlib.suppress(NotFound, Conflict):  # it ended meanwhile: read the group again
            await ctx.runner.cancel(active.op_id, reason=f"preempted by a {by}")
        rec = await get(ctx, GroupRef(group=rec.spec.name))
    if rec.active_op is None:
        return rec
    raise Busy(
        f"group {rec.spec.name} is busy with operation {rec.active_op}",
        where="$.group",
        details={"active_op": rec.active_op},
    )
