"""Bulk promote / demote of many images of a pool: long operations (`Accepted`, then progress).

The whole request is checked before anything changes (unknown or unmirrored images → an error and
no op). Then each image runs under `asyncio.Semaphore(concurrency)` with its own bounded retry;
one image failing does not stop the others, and the result lists every image's outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from agent.ceph import rbd_image
from agent.context import AgentContext, Progress
from agent.service.guards import require_confirmation
from agent.service.rbd_image import demote_image, promote_image
from agent.service.registry import router
from schemas.common import Accepted
from schemas.errors import CephDRError, Conflict, NotFound
from schemas.ids import ImageName, PoolName
from schemas.rbd import BulkDemote, BulkPromote, BulkResult, ImageOutcome

_SHOWN = 20  # names listed in an error message; all of them go in details


async def _resolve(ctx: AgentContext, pool: str, requested: list[ImageName]) -> list[ImageName]:
    """The images to act on: the requested ones (deduplicated, all mirror-enabled) or, when none
    are named, every mirror-enabled image of the pool."""
    mirrored = await rbd_image.mirror_image_info_list(ctx.cluster, pool)
    if not requested:
        return [ImageName(n) for n in sorted(mirrored)]
    images = list(dict.fromkeys(requested))
    unmirrored = [i for i in images if i not in mirrored]
    if unmirrored:
        existing = await rbd_image.list_images(ctx.cluster, pool)
        missing = [i for i in unmirrored if i not in existing]
        if missing:
            raise NotFound(
                f"{len(missing)} image(s) not found in pool {pool}: {', '.join(missing[:_SHOWN])}",
                where="$.images",
                details={"missing": missing},
            )
        raise Conflict(
            f"mirroring is not enabled on {len(unmirrored)} image(s) of pool {pool}:"
            f" {', '.join(unmirrored[:_SHOWN])}",
            where="$.images",
            details={"not_mirrored": unmirrored},
        )
    return images


async def _run_all(
    pool: PoolName,
    images: list[ImageName],
    action: Literal["promote", "demote"],
    concurrency: int,
    one: Callable[[str], Awaitable[bool]],
    progress: Progress,
) -> BulkResult:
    sem = asyncio.Semaphore(concurrency)
    done = 0
    total = len(images)

    async def run(image: ImageName) -> ImageOutcome:
        nonlocal done
        async with sem:
            try:
                changed = await one(image)
                outcome = ImageOutcome(image=image, ok=True, changed=changed)
                note = f"{action}d" if changed else "already in state"
            except CephDRError as err:
                outcome = ImageOutcome(image=image, ok=False, error=err.body())
                note = f"failed: {err.code}"
        done += 1
        await progress(done, total, f"{pool}/{image}: {note}")
        return outcome

    await progress(0, total, f"{action} of {total} image(s) of pool {pool}")
    results = list(await asyncio.gather(*(run(i) for i in images)))
    ok = sum(1 for r in results if r.ok)
    return BulkResult(pool=pool, action=action, total=total, succeeded=ok, failed=total - ok, results=results)


@router.command("rbd.images.promote", request=BulkPromote, reply=Accepted, long=True, result=BulkResult)
async def images_promote(ctx: AgentContext, req: BulkPromote) -> Accepted:
    """Promote many images of a pool (all mirrored ones when none named); force needs confirm = pool."""
    if req.force:
        require_confirmation(req.confirm, req.pool, "forced promote of many images")
    images = await _resolve(ctx, req.pool, req.images)

    async def one(image: str) -> bool:
        return await promote_image(ctx, req.pool, image, force=req.force, wait_s=req.wait_s)

    async def work(progress: Progress) -> BulkResult:
        return await _run_all(req.pool, images, "promote", req.concurrency, one, progress)

    return await ctx.ops.start("rbd.images.promote", req.pool, work)


@router.command("rbd.images.demote", request=BulkDemote, reply=Accepted, long=True, result=BulkResult)
async def images_demote(ctx: AgentContext, req: BulkDemote) -> Accepted:
    """Demote many images of a pool (all mirrored ones when none named)."""
    images = await _resolve(ctx, req.pool, req.images)

    async def one(image: str) -> bool:
        return await demote_image(ctx, req.pool, image, wait_s=req.wait_s)

    async def work(progress: Progress) -> BulkResult:
        return await _run_all(req.pool, images, "demote", req.concurrency, one, progress)

    return await ctx.ops.start("rbd.images.demote", req.pool, work)
