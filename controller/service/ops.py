"""Controller operations: `cephdr.ctl.op.{get,list,cancel,retry}`."""

from __future__ import annotations

from controller.context import ControllerContext
from controller.service.registry import router
from schemas.common import Accepted
from schemas.ctl import ListOps, OpCommand, OpList, OpRecord, OpRef
from schemas.errors import NotFound


@router.command("op.get", request=OpRef, reply=OpRecord)
async def get(ctx: ControllerContext, req: OpRef) -> OpRecord:
    """Where an operation stands: every step with its state, message and error."""
    op = ctx.runner.current.get(req.op_id) or await ctx.store.op(req.op_id)
    if op is None:
        raise NotFound(f"no operation {req.op_id}", where="$.op_id")
    return op


@router.command("op.list", request=ListOps, reply=OpList)
async def list_(ctx: ControllerContext, req: ListOps) -> OpList:
    """Recent operations, newest first (optionally of one group)."""
    ops = [o for o in await ctx.store.ops() if req.group is None or o.group == req.group]
    return OpList(ops=ops[: req.limit])


@router.command("op.cancel", request=OpCommand, reply=OpRecord)
async def cancel(ctx: ControllerContext, req: OpCommand) -> OpRecord:
    """Cancel an operation that has not yet changed the primary (refused after that point)."""
    return await ctx.runner.cancel(req.op_id)


@router.command("op.retry", request=OpCommand, reply=Accepted, long=True, result=OpRecord)
async def retry(ctx: ControllerContext, req: OpCommand) -> Accepted:
    """Run a failed operation again from the step that failed."""
    op = await ctx.runner.retry(req.op_id)
    return Accepted(op_id=op.op_id, events_subject=ctx.events_subject)
