"""Status on demand and the agent's long operations."""

from __future__ import annotations

from agent.context import AgentContext
from agent.service.registry import router
from schemas.agent import GetStatus
from schemas.errors import Unavailable
from schemas.ops import GetOp, ListOps, OpList, OpRecord
from schemas.status import SiteStatus


@router.command("status", request=GetStatus, reply=SiteStatus)
async def status(ctx: AgentContext, req: GetStatus) -> SiteStatus:
    """The site's full mirroring status: pools, images, directories, daemons, schedules, RPO lag."""
    if ctx.status is None:
        raise Unavailable("the status scanner is not running", where="status")
    return await ctx.status.current(fresh=req.fresh)


@router.command("op.get", request=GetOp, reply=OpRecord)
async def op_get(ctx: AgentContext, req: GetOp) -> OpRecord:
    """Where one long operation stands (progress, result or error)."""
    return ctx.ops.get(req.op_id)


@router.command("op.list", request=ListOps, reply=OpList)
async def op_list(ctx: AgentContext, req: ListOps) -> OpList:
    """Recent long operations of this agent, newest first."""
    return OpList(ops=ctx.ops.list(req.limit))
