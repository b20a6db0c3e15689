"""CephFS steps: mirroring, sealed peering (receiver creates the token), snapshots, reversal."""

from __future__ import annotations

from typing import Any

from controller.actions.base import (
    Env,
    Outcome,
    Step,
    action,
    agent_command,
    one_command,
    poll_until,
)
from schemas.common import Done
from schemas.errors import Conflict
from schemas.fs import FsDirs, FsPeers, FsSnapshot, FsSnapshots, SealedFsBootstrap


@action("fs.mirror.enable")
async def fs_mirror_enable(env: Env, step: Step) -> Outcome:
    return await one_command(env, step, "fs.mirror.enable", fs=step.args["fs"])


@action("fs.dir.add")
async def fs_dir_add(env: Env, step: Step) -> Outcome:
    return await one_command(env, step, "fs.dir.add", fs=step.args["fs"], path=step.args["path"])


@action("fs.dir.remove")
async def fs_dir_remove(env: Env, step: Step) -> Outcome:
    return await one_command(env, step, "fs.dir.remove", fs=step.args["fs"], path=step.args["path"])


async def _fs_peers(env: Env, site: str, fs: str) -> FsPeers:
    return await env.agents.call(site, "fs.peer.list", {"fs": fs}, FsPeers)


@action("fs.peer.remove")
async def fs_peer_remove(env: Env, step: Step) -> Outcome:
    a = step.args
    peers = await _fs_peers(env, step.site, a["fs"])
    gone = [p for p in peers.peers if p.site_name == a["peer_site"]]
    for p in gone:
        await agent_command(env, step, "fs.peer.remove", fs=a["fs"], peer=p.uuid, confirm=p.uuid)
    return Outcome(f"{a['fs']} on {step.site}: {len(gone)} peer(s) {a['peer_site']} removed", bool(gone))


@action("fs.peer.connect")
async def fs_peer_connect(env: Env, step: Step) -> Outcome:
    """CephFS mirrors source -> target: the receiving target creates the token (and its user),
    sealed for the source agent, which imports it."""
    a = step.args
    src, dst, fs = a["source"], a["target"], a["fs"]
    peers = await _fs_peers(env, src, fs)
    if any(p.site_name == dst for p in peers.peers):
        return Outcome(f"{fs}: {src} already mirrors to {dst}", changed=False)
    sealed = await env.agents.call(
        dst,
        "fs.peer.bootstrap.create",
        {
            "request_id": step.rid(),
            "fs": fs,
            "recipient_public_key": env.sites.public_key(src),
            "recipient_site": src,
            "site_name": dst,
        },
        SealedFsBootstrap,
    )
    d = await env.agents.call(
        src,
        "fs.peer.bootstrap.import",
        {
            "request_id": step.rid(),
            "fs": fs,
            "sealed": sealed.sealed,
            "sender_public_key": env.sites.public_key(dst),
        },
        Done,
    )
    return Outcome(d.message, d.changed)


@action("fs.snapshot")
async def fs_snapshot(env: Env, step: Step) -> Outcome:
    a = step.args
    body = {"request_id": step.rid(), "fs": a["fs"], "path": a["path"], "name": a["name"]}
    r = await env.agents.call(step.site, "fs.snapshot.create", body, FsSnapshot)
    return Outcome(
        f"snapshot {a['name']} of {a['fs']}:{a['path']} on {step.site}", r.changed, result={"id": r.id}
    )


@action("fs.dir.prepare")
async def fs_dir_prepare(env: Env, step: Step) -> Outcome:
    """Prepare the old primary's directory to receive from the new one (FINDINGS B.1)."""
    a = step.args

    async def still_mirrored_here() -> list[str]:
        # a removed directory stays in the mirror list for a few seconds; prepare refuses until then
        listed = await env.agents.call(step.site, "fs.dir.list", {"fs": a["fs"]}, FsDirs)
        return [f"{a['path']} still mirrored out of {step.site}" for d in listed.dirs if d.path == a["path"]]

    await poll_until(env, step, still_mirrored_here, timeout_s=120)
    how: dict[str, Any] = {"method": a["method"], "confirm": f"{a['fs']}:{a['path']}"}
    if a["method"] == "forge":
        at = {"fs": a["fs"], "path": a["path"]}
        listed = await env.agents.call(a["source"], "fs.snapshot.list", at, FsSnapshots)
        snap = next((x for x in listed.snapshots if x.name == a["snapshot"]), None)
        if snap is None or snap.id is None:
            raise Conflict(
                f"{a['source']} has no snapshot {a['snapshot']} of {a['fs']}:{a['path']}",
                where=step.record.name,
            )
        how |= {"snapshot": a["snapshot"], "primary_snap_id": snap.id}
    else:
        how["aside_suffix"] = step.op.op_id[:64]
    return await one_command(env, step, "fs.dir.prepare", fs=a["fs"], path=a["path"], **how)
