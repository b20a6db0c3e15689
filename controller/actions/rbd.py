"""RBD steps: bulk demote/promote, resync, pool and image mirroring, sealed pool peering."""

from __future__ import annotations

import asyncio
from typing import Any

from controller import checks
from controller.actions.base import (
    Env,
    Outcome,
    Step,
    action,
    agent_command,
    one_command,
)
from schemas.common import Done
from schemas.errors import Unavailable
from schemas.rbd import BulkResult, PoolMirrorInfo, SealedBootstrap


def _bulk_outcome(res: BulkResult, verb: str, site: str) -> Outcome:
    failed = [r for r in res.results if not r.ok]
    if failed:
        detail = "; ".join(f"{r.image}: {r.error.message if r.error else 'failed'}" for r in failed[:5])
        raise Unavailable(
            f"{verb} on {site}: {res.failed} of {res.total} failed: {detail}",
            details={"failed": [r.image for r in failed]},
        )
    changed = sum(r.changed for r in res.results)
    return Outcome(
        f"{verb} {res.pool} on {site}: {changed} changed, {res.total - changed} already done",
        changed=bool(changed),
        result={"changed": changed, "total": res.total},
    )


@action("rbd.demote")
async def rbd_demote(env: Env, step: Step) -> Outcome:
    a = step.args
    body = {"request_id": step.rid(), "pool": a["pool"], "images": a["images"], "wait_s": 30.0}
    res = await env.agents.run_long(
        step.site, "rbd.images.demote", body, BulkResult, timeout=env.long_timeout
    )
    return _bulk_outcome(res, "demote", step.site)


@action("rbd.promote")
async def rbd_promote(env: Env, step: Step) -> Outcome:
    a = step.args
    body: dict[str, Any] = {
        "request_id": step.rid(),
        "pool": a["pool"],
        "images": a["images"],
        "wait_s": a.get("wait_s", 30.0),
    }
    if a.get("force"):
        body |= {"force": True, "confirm": a["pool"]}
    res = await env.agents.run_long(
        step.site, "rbd.images.promote", body, BulkResult, timeout=env.long_timeout
    )
    return _bulk_outcome(res, "force-promote" if a.get("force") else "promote", step.site)


@action("rbd.resync")
async def rbd_resync(env: Env, step: Step) -> Outcome:
    todo = checks.needs_resync(await env.agents.status(step.site), step.args["rbd"])
    for pool, image in todo:
        await agent_command(env, step, "rbd.image.resync", pool=pool, image=image, confirm=f"{pool}/{image}")
    names = [f"{p}/{i}" for p, i in todo]
    return Outcome(
        f"resync flagged on {step.site}: {', '.join(names) or 'none needed'}",
        changed=bool(todo),
        result={"resynced": names},
    )


@action("rbd.pool.enable")
async def rbd_pool_enable(env: Env, step: Step) -> Outcome:
    a = step.args
    return await one_command(
        env, step, "rbd.pool.enable", pool=a["pool"], mode=a["mode"], site_name=step.site
    )


@action("rbd.image.enable")
async def rbd_image_enable(env: Env, step: Step) -> Outcome:
    a = step.args
    return await one_command(env, step, "rbd.image.enable", pool=a["pool"], image=a["image"], mode=a["mode"])


async def _rbd_peers(env: Env, site: str, pool: str) -> set[str]:
    info = await env.agents.call(site, "rbd.pool.info", {"pool": pool}, PoolMirrorInfo)
    return {p.site_name for p in info.peers}


@action("rbd.peer.connect")
async def rbd_peer_connect(env: Env, step: Step) -> Outcome:
    a = step.args
    src, dst, pool = a["source"], a["target"], a["pool"]
    have_src, have_dst = await asyncio.gather(_rbd_peers(env, src, pool), _rbd_peers(env, dst, pool))
    if (dst in have_src and src in have_dst) or (a["direction"] == "rx-only" and src in have_dst):
        return Outcome(f"{pool}: {src} and {dst} already peered", changed=False)
    sealed = await env.agents.call(
        src,
        "rbd.peer.bootstrap.create",
        {
            "request_id": step.rid(),
            "pool": pool,
            "recipient_site": dst,
            "recipient_public_key": env.sites.public_key(dst),
            "site_name": src,
        },
        SealedBootstrap,
    )
    # the sender's key as the controller knows it (heartbeats), not as the reply claims: the
    # recipient's Box open then proves the blob came from that agent
    d = await env.agents.call(
        dst,
        "rbd.peer.bootstrap.import",
        {
            "request_id": step.rid(),
            "pool": pool,
            "sealed": sealed.sealed,
            "sender_public_key": env.sites.public_key(src),
            "direction": a["direction"],
            "site_name": dst,
        },
        Done,
    )
    return Outcome(d.message, d.changed)
