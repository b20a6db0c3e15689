"""RBD image endpoints: enable/disable mirroring, mirror snapshot, promote/demote/resync, status.

Promote right after the peer's demote is refused for a few seconds (EBUSY, or EROFS while the
local replayer still holds the image: FINDINGS step 7 / B.2). Those arrive as `Busy`, and
`with_retry` tries again with a fresh image handle until `wait_s` runs out. A micro endpoint serves
one request at a time, so single-image waits are capped at 10 s; bulk operations run as long ops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from agent.ceph import rbd_image, rbd_peer
from agent.context import AgentContext
from agent.service.guards import require_confirmation
from agent.service.registry import router
from agent.status.normalize import image_status
from schemas.common import Done
from schemas.errors import Busy, Conflict
from schemas.rbd import (
    DemoteImage,
    DisableImageMirroring,
    EnableImageMirroring,
    ImageRef,
    MirrorSnapshot,
    PromoteImage,
    ResyncImage,
    SnapshotTaken,
)
from schemas.status import ImageStatus

# one attempt: a forced promote takes 5-9 s on the lab (FINDINGS step 5)
PROMOTE_ATTEMPT_S = 20.0
DEMOTE_ATTEMPT_S = 15.0


async def with_retry(attempt: Callable[[], Awaitable[bool]], *, wait_s: float, what: str) -> bool:
    """Run `attempt` until it stops raising `Busy` or `wait_s` has passed (then re-raise it)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + wait_s
    delay, tries = 0.25, 0
    while True:
        tries += 1
        try:
            return await attempt()
        except Busy as err:
            if loop.time() + delay > end:
                raise Busy(
                    f"{what} still refused after {tries} tries in {wait_s:g}s ({err.message});"
                    " the peer's demotion may not have propagated yet: retry later",
                    where=err.where,
                    details={**err.details, "tries": tries},
                ) from err
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def promote_image(ctx: AgentContext, pool: str, image: str, *, force: bool, wait_s: float) -> bool:
    """Promote with bounded retries; False when it was already primary."""
    return await with_retry(
        lambda: rbd_image.promote_once(ctx.cluster, pool, image, force=force, deadline=PROMOTE_ATTEMPT_S),
        wait_s=wait_s,
        what=f"promote of {pool}/{image}",
    )


async def demote_image(ctx: AgentContext, pool: str, image: str, *, wait_s: float) -> bool:
    """Demote with bounded retries; False when it was already non-primary."""
    return await with_retry(
        lambda: rbd_image.demote_once(ctx.cluster, pool, image, deadline=DEMOTE_ATTEMPT_S),
        wait_s=wait_s,
        what=f"demote of {pool}/{image}",
    )


@router.command("rbd.image.enable", request=EnableImageMirroring, reply=Done)
async def image_enable(ctx: AgentContext, req: EnableImageMirroring) -> Done:
    """Enable mirroring of an image in journal or snapshot mode (journal: turns journaling on)."""
    changed, message = await rbd_image.enable(ctx.cluster, req.pool, req.image, req.mode)
    return Done(changed=changed, message=message)


@router.command("rbd.image.disable", request=DisableImageMirroring, reply=Done)
async def image_disable(ctx: AgentContext, req: DisableImageMirroring) -> Done:
    """Disable mirroring of an image (force, for a non-primary image, needs confirm = pool/image)."""
    spec = f"{req.pool}/{req.image}"
    if req.force:
        require_confirmation(req.confirm, spec, "forced mirroring disable")
    if await rbd_image.disable(ctx.cluster, req.pool, req.image, force=req.force):
        return Done(changed=True, message=f"{spec}: mirroring disabled")
    return Done(changed=False, message=f"{spec}: mirroring already disabled")


@router.command("rbd.image.snapshot", request=MirrorSnapshot, reply=SnapshotTaken)
async def image_snapshot(ctx: AgentContext, req: MirrorSnapshot) -> SnapshotTaken:
    """Take a mirror snapshot of a primary snapshot-mode image now."""
    snap_id = await rbd_image.create_snapshot(ctx.cluster, req.pool, req.image)
    return SnapshotTaken(pool=req.pool, image=req.image, snap_id=snap_id)


@router.command("rbd.image.promote", request=PromoteImage, reply=Done)
async def image_promote(ctx: AgentContext, req: PromoteImage) -> Done:
    """Promote an image to primary here, retrying transient refusals for up to wait_s."""
    spec = f"{req.pool}/{req.image}"
    if req.force:
        require_confirmation(req.confirm, spec, "forced promote")
    if await promote_image(ctx, req.pool, req.image, force=req.force, wait_s=req.wait_s):
        return Done(changed=True, message=f"{spec} promoted to primary" + (" (forced)" if req.force else ""))
    return Done(changed=False, message=f"{spec} is already primary here")


@router.command("rbd.image.demote", request=DemoteImage, reply=Done)
async def image_demote(ctx: AgentContext, req: DemoteImage) -> Done:
    """Demote a primary image to non-primary here."""
    spec = f"{req.pool}/{req.image}"
    if await demote_image(ctx, req.pool, req.image, wait_s=req.wait_s):
        return Done(changed=True, message=f"{spec} demoted to non-primary")
    return Done(changed=False, message=f"{spec} is already non-primary here")


@router.command("rbd.image.resync", request=ResyncImage, reply=Done)
async def image_resync(ctx: AgentContext, req: ResyncImage) -> Done:
    """Flag a non-primary image for full resync from the primary (confirm = pool/image)."""
    spec = f"{req.pool}/{req.image}"
    require_confirmation(req.confirm, spec, "resync (discards the local copy)")
    await rbd_image.resync(ctx.cluster, req.pool, req.image)
    return Done(changed=True, message=f"{spec} flagged for resync; rbd-mirror re-copies it from the primary")


@router.command("rbd.image.status", request=ImageRef, reply=ImageStatus)
async def image_status_get(ctx: AgentContext, req: ImageRef) -> ImageStatus:
    """Mirroring status of one image: role, state, description parsed, peers, RPO lag."""
    info, raw = await rbd_image.image_status(ctx.cluster, req.pool, req.image)
    if not info["enabled"]:
        raise Conflict(f"mirroring is not enabled on {req.pool}/{req.image}", where="$.image")
    peers = await rbd_peer.mirror_peer_list(ctx.cluster, req.pool)
    return image_status(
        raw,
        pool=req.pool,
        mode=info["mode"],
        primary=info["primary"],
        now=time.time(),
        peer_names={p["mirror_uuid"]: p["site_name"] for p in peers if p["mirror_uuid"]},
        default_peer_site=peers[0]["site_name"] if len(peers) == 1 else None,
    )
