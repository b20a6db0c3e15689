"""CephFS snapshot endpoints, and preparing a directory for a reversed failover:
`fs.snapshot.create`, `fs.snapshot.list`, `fs.dir.prepare`.

Every libcephfs call goes through the site's `FsMount` (executor, deadline, error mapping). What
`fs.dir.prepare` may remove is decided by the pure `agent.fs_prepare`.
"""

from __future__ import annotations

import time

from agent.ceph import fs_mirror
from agent.ceph.cephfs_io import FsMount
from agent.context import AgentContext
from agent.fs_prepare import PRIMARY_SNAP_ID, forge_plan, overlapping
from agent.service.guards import require_confirmation
from agent.service.registry import router
from schemas.common import Done
from schemas.errors import Conflict, Internal, InvalidRequest, NotFound
from schemas.fs import (
    CreateFsSnapshot,
    FsSnapshot,
    FsSnapshotInfo,
    FsSnapshots,
    ListFsSnapshots,
    PrepareFsDir,
    aside_path,
)


async def _mount(ctx: AgentContext, fs: str) -> FsMount:
    await fs_mirror.get_fs(ctx.cluster, fs)  # a clear not_found at $.fs, before libcephfs mounts
    return ctx.fs_mount(fs)


def _no_dir(fs: str, path: str) -> NotFound:
    return NotFound(f"directory {path} does not exist in file system {fs} on this site", where="$.path")


async def _snapshots(mount: FsMount, path: str) -> list[FsSnapshotInfo]:
    try:
        return await mount.snapshots(path)
    except NotFound:
        raise _no_dir(mount.fs, path) from None


@router.command("fs.snapshot.create", request=CreateFsSnapshot, reply=FsSnapshot)
async def snapshot_create(ctx: AgentContext, req: CreateFsSnapshot) -> FsSnapshot:
    """Snapshot a directory now; an existing snapshot of that name is returned unchanged."""
    mount = await _mount(ctx, req.fs)
    changed = False
    snap = await mount.snapshot(req.path, req.name)
    if snap is None:
        if await mount.mirror_target_of() is not None:
            mirrored = [s.name for s in await _snapshots(mount, req.path) if PRIMARY_SNAP_ID in s.metadata]
            if mirrored:
                raise Conflict(
                    f"{req.path} receives snapshots by mirroring on this site ({len(mirrored)} mirrored "
                    "snapshots, and a peer mirrors into this file system): a local snapshot would stop "
                    "cephfs-mirror; take it on the primary site",
                    where="$.path",
                )
        try:
            await mount.make_snapshot(req.path, req.name)
            changed = True
        except NotFound:
            raise _no_dir(req.fs, req.path) from None
        except Conflict as err:
            if err.details.get("errno_name") != "EEXIST":  # EEXIST: made meanwhile, by a repeat
                raise
        snap = await mount.snapshot(req.path, req.name)
        if snap is None:
            raise Internal(f"snapshot {req.name} of {req.path} was made but cannot be read back")
    return FsSnapshot(
        fs=req.fs,
        path=req.path,
        changed=changed,
        name=snap.name,
        id=snap.id,
        created=snap.created,
        metadata=snap.metadata,
    )


@router.command("fs.snapshot.list", request=ListFsSnapshots, reply=FsSnapshots)
async def snapshot_list(ctx: AgentContext, req: ListFsSnapshots) -> FsSnapshots:
    """The snapshots of a directory, oldest first, with ids, times and mirror metadata."""
    mount = await _mount(ctx, req.fs)
    return FsSnapshots(fs=req.fs, path=req.path, snapshots=await _snapshots(mount, req.path))


@router.command("fs.dir.prepare", request=PrepareFsDir, reply=Done)
async def dir_prepare(ctx: AgentContext, req: PrepareFsDir) -> Done:
    """Prepare a directory of the old primary to become the mirror target (forge or fresh)."""
    require_confirmation(req.confirm, req.target, f"preparing a directory as a mirror target ({req.method})")
    entry = await fs_mirror.get_fs(ctx.cluster, req.fs)
    if entry.mirroring:
        hit = overlapping(req.path, await fs_mirror.dir_paths(ctx.cluster, entry))
        if hit is not None:
            # the mgr keeps a removed directory listed (and served) while it unmaps it, a few
            # seconds; its dirmap state does not say so, hence no retryable variant of this error
            d = await fs_mirror.dirmap(ctx.cluster, req.fs, hit)
            raise Conflict(
                f"this site mirrors {hit} out ({d.state}); a directory this site mirrors, or a parent "
                "or child of one, cannot be prepared as a target: fs.dir.remove it here first, then "
                "wait until fs.dir.list no longer shows it",
                where="$.path",
                details={"mirrored": hit, "state": d.state},
            )
    mount = ctx.fs_mount(req.fs)
    if req.method == "forge":
        return await _forge(mount, req)
    return await _fresh(mount, req)


async def _forge(mount: FsMount, req: PrepareFsDir) -> Done:
    assert req.snapshot is not None and req.primary_snap_id is not None  # PrepareFsDir checks it
    plan = forge_plan(await _snapshots(mount, req.path), req.path, req.snapshot, req.primary_snap_id)
    for name in plan.remove:
        try:
            await mount.remove_snapshot(req.path, name)
        except NotFound:
            continue  # removed meanwhile (a concurrent repeat): the goal holds
    if plan.remake:
        try:
            await mount.make_snapshot(req.path, req.snapshot, {PRIMARY_SNAP_ID: str(req.primary_snap_id)})
        except NotFound:
            raise _no_dir(req.fs, req.path) from None
    return Done(changed=plan.changed, message=plan.message)


async def _fresh(mount: FsMount, req: PrepareFsDir) -> Done:
    kind = await mount.is_dir(req.path)
    if kind is None:
        return Done(changed=False, message=f"{req.path} does not exist on this site; nothing to move aside")
    if not kind:
        raise Conflict(f"{req.path} is not a directory", where="$.path")
    suffix = req.aside_suffix or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        dst = aside_path(req.path, suffix)
    except ValueError as err:
        raise InvalidRequest(str(err), where="$.path") from None
    if await mount.is_dir(dst) is not None:
        raise Conflict(f"{dst} already exists; choose another aside_suffix", where="$.aside_suffix")
    n = len(await _snapshots(mount, req.path))
    await mount.rename(req.path, dst)
    return Done(
        changed=True,
        message=f"moved {req.path} aside to {dst} with its {n} snapshots; "
        f"cephfs-mirror will copy everything into a new {req.path}",
    )
