"""CephFS snapshot mirroring through the mgr `mirroring` module (Pacific 16.2.15 command set).

Every call is an mgr/mon command through `CephCluster` (deadline, error mapping). The module's own
errors are often generic ("failed to enable mirroring", EINVAL), so the facts a caller needs (does
the file system exist, is mirroring on, which peers) are read from the FSMap first and turned into
precise errors here.

`fs snapshot mirror ls` does not exist in 16.2.15: the mirrored directories are the omap keys
`dir_map_<path>` of object `cephfs_mirror` in the file system's metadata pool (where the module
keeps them, mirroring/fs/dir_map/load.py); only the keys are read, never the pickled values.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import msgspec
import rados

from agent.ceph.cluster import CephCluster
from schemas.errors import CephDRError, Conflict, Internal, InvalidRequest, NotFound
from schemas.fs import FsDir, FsPeer

MODULE = "mirroring"
MIRROR_OBJECT = "cephfs_mirror"
DIR_MAP_PREFIX = "dir_map_"
TOKEN_KEYS = frozenset({"fsid", "filesystem", "user", "site_name", "key", "mon_host"})

ONE_DIRECTION = (
    "CephFS mirroring in Ceph Pacific runs in one direction per file system pair, and {fs} is "
    "already the mirror target of that peer cluster. To reverse the direction, first remove the "
    "peer on the other site (fs.peer.remove there), then import again"
)


class FsEntry(msgspec.Struct, frozen=True, kw_only=True):
    """A file system of this cluster, from the FSMap."""

    name: str
    fscid: int
    metadata_pool_id: int
    mirroring: bool  # `mirror_info` present: snapshot mirroring enabled
    peers: dict[str, dict[str, Any]]  # uuid -> {"remote": {client_name, cluster_name, fs_name}}


async def fs_map(cluster: CephCluster) -> list[FsEntry]:
    dump = await cluster.mon_json({"prefix": "fs dump"}, what="fs dump")
    out: list[FsEntry] = []
    for f in (dump or {}).get("filesystems", []):
        mdsmap = f.get("mdsmap", {})
        mi = f.get("mirror_info")
        out.append(
            FsEntry(
                name=str(mdsmap.get("fs_name")),
                fscid=int(f.get("id", -1)),
                metadata_pool_id=int(mdsmap.get("metadata_pool", -1)),
                mirroring=isinstance(mi, dict),  # 16.2.15: absent when off, {"peers": {}} when on
                peers=dict((mi or {}).get("peers", {})),
            )
        )
    return out


async def get_fs(cluster: CephCluster, fs: str) -> FsEntry:
    """The file system `fs`, or `NotFound` naming the ones that exist."""
    all_fs = await fs_map(cluster)
    for e in all_fs:
        if e.name == fs:
            return e
    have = ", ".join(sorted(e.name for e in all_fs)) or "none"
    raise NotFound(f"file system {fs!r} does not exist on this site (file systems: {have})", where="$.fs")


async def mgr(cluster: CephCluster, cmd: dict[str, Any], *, deadline: float | None = None) -> bytes:
    """An mgr command of the mirroring module; a disabled module becomes a clear `Conflict`."""
    try:
        return await cluster.mgr_command(cmd, deadline=deadline)
    except InvalidRequest as err:
        raise module_off(err, MODULE) from None


def module_off(err: CephDRError, module: str) -> CephDRError:
    if "No handler found" in err.message or "unrecognized command" in err.message.lower():
        return Conflict(
            f"mgr module {module!r} is not enabled on this cluster; an operator must run "
            f"`ceph mgr module enable {module}` (the agent never toggles mgr modules: the mgr restarts)",
            where=err.where,
            details={"module": module},
        )
    return err


async def enable(cluster: CephCluster, fs: str) -> bool:
    """Enable mirroring on `fs`; False when it already was."""
    entry = await get_fs(cluster, fs)
    if entry.mirroring:
        return False
    await mgr(cluster, {"prefix": "fs snapshot mirror enable", "fs_name": fs}, deadline=20.0)
    return True


async def disable(cluster: CephCluster, fs: str) -> bool:
    entry = await get_fs(cluster, fs)
    if not entry.mirroring:
        return False
    await mgr(cluster, {"prefix": "fs snapshot mirror disable", "fs_name": fs}, deadline=20.0)
    return True


async def peer_list(cluster: CephCluster, fs: str) -> list[FsPeer] | None:
    """The peers of `fs` (None when mirroring is off). Only the non-secret fields are kept."""
    entry = await get_fs(cluster, fs)
    if not entry.mirroring:
        return None
    raw = json.loads(await mgr(cluster, {"prefix": "fs snapshot mirror peer_list", "fs_name": fs}) or b"{}")
    peers = []
    for uuid, p in sorted((raw or {}).items()):
        peers.append(
            FsPeer(
                uuid=str(uuid),
                site_name=str(p.get("site_name", "")),
                client_name=str(p.get("client_name", "")),
                fs_name=str(p.get("fs_name", "")),
                mon_host=p.get("mon_host") if isinstance(p.get("mon_host"), str) else None,
            )
        )
    return peers


async def bootstrap_create(cluster: CephCluster, fs: str, client_name: str, site_name: str) -> str:
    """Create (or reuse) `client_name` and return the base64 token. The token is a SECRET."""
    await get_fs(cluster, fs)
    try:
        out = await mgr(
            cluster,
            {
                "prefix": "fs snapshot mirror peer_bootstrap create",
                "fs_name": fs,
                "client_name": client_name,
                "site_name": site_name,
            },
            deadline=20.0,
        )
    except InvalidRequest as err:
        # the module hides the cause ("failed to bootstrap peer"); the usual one is a user that
        # exists with other caps, which `fs authorize` refuses
        raise Conflict(
            f"peer bootstrap create failed ({err.message}); if {client_name} already exists with "
            "other caps, remove it or choose another client_name",
            where=err.where,
            details=err.details,
        ) from None
    try:
        token = json.loads(out)["token"]
    except (ValueError, KeyError, TypeError):
        raise Internal("peer_bootstrap create answered without a token") from None
    if not isinstance(token, str):
        raise Internal("peer_bootstrap create answered without a token")
    return token


def check_token(token: str) -> dict[str, str]:
    """Decode a bootstrap token enough to validate it; returns its NON-secret fields only."""
    try:
        d = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidRequest("the opened blob is not a CephFS bootstrap token", where="$.sealed") from None
    if not isinstance(d, dict) or not d.keys() >= TOKEN_KEYS:
        raise InvalidRequest("the opened blob is not a CephFS bootstrap token", where="$.sealed")
    return {k: str(d[k]) for k in ("fsid", "filesystem", "user", "site_name", "mon_host")}


async def bootstrap_import(cluster: CephCluster, fs: str, token: str) -> bool:
    """Add the token's cluster as peer of `fs`; False when that peer was already there."""
    info = check_token(token)
    entry = await get_fs(cluster, fs)
    if not entry.mirroring:
        raise Conflict(
            f"mirroring is not enabled on file system {fs!r}: fs.mirror.enable first", where="$.fs"
        )
    for p in entry.peers.values():
        r = p.get("remote", {})
        if (r.get("client_name"), r.get("cluster_name"), r.get("fs_name")) == (
            info["user"],
            info["site_name"],
            info["filesystem"],
        ):
            return False
    if entry.peers:
        raise Conflict(
            f"file system {fs!r} already has a peer; Pacific supports a single peer per file system",
            where="$.fs",
            details={"peers": sorted(entry.peers)},
        )
    try:
        await mgr(
            cluster,
            {"prefix": "fs snapshot mirror peer_bootstrap import", "fs_name": fs, "token": token},
            deadline=60.0,  # the mgr connects to the remote cluster and mounts its file system
        )
    except InvalidRequest as err:
        if "active peer" in err.message:
            raise Conflict(ONE_DIRECTION.format(fs=repr(fs)), where="$.fs", details=err.details) from None
        raise
    except Conflict as err:
        if "peer mirrorred by" in err.message or "already an active peer" in err.message:
            raise Conflict(
                f"the peer's file system {info['filesystem']!r} is already the mirror target of "
                f"another cluster ({err.message}); remove that peer there first",
                where="$.sealed",
                details=err.details,
            ) from None
        raise
    return True


async def peer_remove(cluster: CephCluster, fs: str, uuid: str) -> bool:
    entry = await get_fs(cluster, fs)
    if not entry.mirroring or uuid not in entry.peers:
        return False
    # the mgr connects to the peer to clear its one-direction lock (ceph.mirror.info xattr)
    await mgr(
        cluster, {"prefix": "fs snapshot mirror peer_remove", "fs_name": fs, "peer_uuid": uuid}, deadline=60.0
    )
    return True


async def dir_add(cluster: CephCluster, fs: str, path: str) -> bool:
    await _require_mirroring(cluster, fs)
    try:
        await mgr(cluster, {"prefix": "fs snapshot mirror add", "fs_name": fs, "path": path})
    except Conflict as err:
        if err.details.get("errno_name") == "EEXIST":
            return False
        raise
    except InvalidRequest as err:
        if "of tracked path" in err.message:
            raise Conflict(
                f"cannot mirror {path}: {err.message}", where="$.path", details=err.details
            ) from None
        raise
    return True


async def dir_remove(cluster: CephCluster, fs: str, path: str) -> bool:
    entry = await get_fs(cluster, fs)
    if not entry.mirroring:
        return False
    try:
        await mgr(cluster, {"prefix": "fs snapshot mirror remove", "fs_name": fs, "path": path})
    except NotFound:
        return False
    except InvalidRequest as err:
        if "under removal" in err.message:  # a previous remove is still being applied
            return False
        raise
    return True


async def _require_mirroring(cluster: CephCluster, fs: str) -> FsEntry:
    entry = await get_fs(cluster, fs)
    if not entry.mirroring:
        raise Conflict(
            f"mirroring is not enabled on file system {fs!r}: fs.mirror.enable first", where="$.fs"
        )
    return entry


async def dir_paths(cluster: CephCluster, entry: FsEntry) -> list[str]:
    """The mirrored directories of a file system, from the module's omap (see module doc)."""

    def read(r: rados.Rados) -> list[str]:
        pool = r.pool_reverse_lookup(entry.metadata_pool_id)
        if pool is None:
            return []
        with r.open_ioctx(pool) as ioctx:
            keys: list[str] = []
            start = ""
            while True:
                with rados.ReadOpCtx() as op:
                    it, _ = ioctx.get_omap_vals(op, start, DIR_MAP_PREFIX, 256)
                    try:
                        ioctx.operate_read_op(op, MIRROR_OBJECT)
                    except rados.ObjectNotFound:
                        return []
                    batch = [k for k, _v in it]
                if not batch:
                    return keys
                keys.extend(k[len(DIR_MAP_PREFIX) :] for k in batch)
                start = batch[-1]

    return sorted(await cluster.call(read, what=f"fs mirror dirs {entry.name}"))


async def dirmap(cluster: CephCluster, fs: str, path: str) -> FsDir:
    try:
        raw = json.loads(
            await mgr(cluster, {"prefix": "fs snapshot mirror dirmap", "fs_name": fs, "path": path}) or b"{}"
        )
    except NotFound:
        return FsDir(path=path, state="unknown", reason="not tracked by the mgr")
    inst = raw.get("instance_id")
    return FsDir(
        path=path,
        state=str(raw.get("state") or "unknown"),
        instance_id=str(inst) if inst is not None else None,
        reason=raw.get("reason") if isinstance(raw.get("reason"), str) else None,
    )


async def dir_list(cluster: CephCluster, fs: str) -> list[FsDir] | None:
    """Mirrored directories with their dirmap state (None when mirroring is off)."""
    entry = await get_fs(cluster, fs)
    if not entry.mirroring:
        return None
    return [await dirmap(cluster, fs, p) for p in await dir_paths(cluster, entry)]


async def daemon_status(cluster: CephCluster) -> list[dict[str, Any]]:
    """`fs snapshot mirror daemon status`: per cephfs-mirror daemon, its file systems and peers."""
    out = await mgr(cluster, {"prefix": "fs snapshot mirror daemon status"})
    data = json.loads(out or b"[]")
    return data if isinstance(data, list) else []
