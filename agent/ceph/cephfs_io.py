"""libcephfs access: one long-lived mount per file system, every call in the Ceph executor.

Used for what the mgr commands do not give: the snapshots of a mirrored directory with their
creation times (RPO) and metadata, taking and removing snapshots (metadata included, for the
`forge` preparation of a failover target), renaming a directory aside (`fresh`), and whether this
file system is a mirror target (`ceph.mirror.info` on its root). A mount that fails with a
connection-type error is dropped and remade on the next call.
"""

from __future__ import annotations

import errno as E
import logging
import math
import stat
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import cephfs

from agent.ceph.cluster import CephCluster, shutdown_detached
from schemas.errors import CephDRError
from schemas.fs import FsSnapshotInfo

log = logging.getLogger(__name__)
T = TypeVar("T")
_DROP = {E.ESHUTDOWN, E.ENOTCONN, 108, E.ETIMEDOUT}
# set by the mgr `mirroring` module on the root of a peer's file system when it becomes a mirror
# target ("cluster_id=<fsid> fs_id=<n>"), cleared by peer_remove on the source (FINDINGS B.1)
MIRROR_INFO_XATTR = b"ceph.mirror.info"


Snapshot = FsSnapshotInfo  # name, id, created (ceph.snap.btime), metadata


class FsMount:
    """A libcephfs mount of one file system of the site (`cluster` supplies conf, user, executor)."""

    def __init__(self, cluster: CephCluster, fs: str) -> None:
        self.cluster = cluster
        self.fs = fs
        self._fs: Any = None
        self._lock = threading.Lock()

    def _mounted(self) -> Any:
        with self._lock:
            if self._fs is not None:
                return self._fs
            t = self.cluster.timeouts
            conf = {
                "client_mount_timeout": str(math.ceil(t.connect)),
                "rados_mon_op_timeout": str(math.ceil(t.mon_op)),
                "rados_osd_op_timeout": str(math.ceil(t.osd_op)),
                "log_to_stderr": "false",
                "err_to_stderr": "false",
            }
            if self.cluster.keyring:
                conf["keyring"] = self.cluster.keyring
            h = cephfs.LibCephFS(
                conffile=self.cluster.conffile, auth_id=self.cluster.name.removeprefix("client.")
            )
            for k, v in conf.items():
                h.conf_set(k, v)
            try:
                h.mount(filesystem_name=self.fs.encode())
            except BaseException:
                shutdown_detached(h, "cephfs")
                raise
            self._fs = h
            return h

    def _drop(self) -> threading.Thread | None:
        with self._lock:
            h, self._fs = self._fs, None
        return shutdown_detached(h, "cephfs") if h is not None else None

    async def call(self, fn: Callable[[Any], T], *, what: str, deadline: float | None = None) -> T:
        try:
            return await self.cluster.executor.call(
                lambda: fn(self._mounted()), deadline=deadline or self.cluster.timeouts.op, what=what
            )
        except CephDRError as err:
            if err.details.get("errno") in _DROP or err.code == "deadline_exceeded":
                self._drop()
            raise

    async def snapshots(self, path: str) -> list[Snapshot]:
        """The snapshots of directory `path`, oldest first (by snap id)."""

        def run(fs: Any) -> list[Snapshot]:
            snapdir = f"{path.rstrip('/')}/.snap"
            names: list[str] = []
            d = fs.opendir(snapdir.encode())
            try:
                while (ent := fs.readdir(d)) is not None:
                    name = ent.d_name.decode()
                    if name not in (".", "..") and not name.startswith("_"):  # "_x_<ino>": a parent's snap
                        names.append(name)
            finally:
                fs.closedir(d)
            out = []
            for n in names:
                full = _snap_path(path, n)
                out.append(_snapshot(fs, n, full, fs.snap_info(full)))
            return sorted(out, key=lambda s: (s.id is None, s.id or 0, s.name))

        return await self.call(run, what=f"cephfs snapshots {self.fs}:{path}")

    async def snapshot(self, path: str, name: str) -> Snapshot | None:
        """Snapshot `name` of directory `path`, or None when it does not exist."""
        full = _snap_path(path, name)

        def run(fs: Any) -> Snapshot | None:
            try:
                info = fs.snap_info(full)
            except cephfs.ObjectNotFound:
                return None
            return _snapshot(fs, name, full, info)

        return await self.call(run, what=f"cephfs snapshot {self.fs}:{path}@{name}")

    async def snapshot_time(self, path: str, name: str) -> float | None:
        """When snapshot `name` of directory `path` was taken (`ceph.snap.btime`)."""
        full = _snap_path(path, name)
        return await self.call(
            lambda fs: _snap_btime(fs, full), what=f"cephfs snapshot time {self.fs}:{path}"
        )

    async def make_snapshot(self, path: str, name: str, metadata: dict[str, str] | None = None) -> None:
        """Snapshot directory `path` as `name`; `metadata` is stored with it (libcephfs mksnap)."""
        if metadata:
            md = dict(metadata)
            await self.call(
                lambda fs: fs.mksnap(path.encode(), name.encode(), 0o755, md),
                what=f"cephfs mksnap {self.fs}:{path}@{name}",
            )
            return
        await self.call(
            lambda fs: fs.mkdir(_snap_path(path, name), 0o755), what=f"cephfs mksnap {self.fs}:{path}@{name}"
        )

    async def remove_snapshot(self, path: str, name: str) -> None:
        await self.call(
            lambda fs: fs.rmsnap(path.encode(), name.encode()), what=f"cephfs rmsnap {self.fs}:{path}@{name}"
        )

    async def is_dir(self, path: str) -> bool | None:
        """True: a directory; False: something else; None: nothing at `path`."""

        def run(fs: Any) -> bool | None:
            try:
                return stat.S_ISDIR(fs.stat(path.encode()).st_mode)
            except cephfs.ObjectNotFound:
                return None

        return await self.call(run, what=f"cephfs stat {self.fs}:{path}")

    async def rename(self, src: str, dst: str) -> None:
        """Rename `src` to `dst` (a directory keeps its snapshots). An existing EMPTY directory
        `dst` would be replaced (POSIX), so callers check that `dst` does not exist first."""
        await self.call(
            lambda fs: fs.rename(src.encode(), dst.encode()), what=f"cephfs rename {self.fs}:{src}"
        )

    async def mirror_target_of(self) -> str | None:
        """The `ceph.mirror.info` of this file system's root ("cluster_id=<fsid> fs_id=<n>") when it
        is the target of a mirror peer, else None."""

        def run(fs: Any) -> str | None:
            try:
                return bytes(fs.getxattr(b"/", MIRROR_INFO_XATTR)).decode(errors="replace")
            except cephfs.NoData:
                return None

        return await self.call(run, what=f"cephfs mirror info {self.fs}")

    def close(self, wait: float = 0.0) -> None:
        """Unmount, waiting up to `wait` seconds. Before a process exits, wait: a client that
        vanishes without unmounting keeps its caps until the MDS finds its session stale (about a
        minute, `session_timeout`), and meanwhile any operation needing those caps blocks, e.g. the
        mgr's `peer_remove` clearing `ceph.mirror.info` on the root, or cephfs-mirror creating a
        directory in it (seen on 16.2.15: 50-55 s "slow request" on the MDS)."""
        t = self._drop()
        if t is not None and wait > 0:
            t.join(wait)


class FsMounts:
    """One `FsMount` per file system of the site, made on first use; `close` drops them all."""

    def __init__(self, cluster: CephCluster) -> None:
        self.cluster = cluster
        self._mounts: dict[str, FsMount] = {}
        self._lock = threading.Lock()

    def get(self, fs: str) -> FsMount:
        with self._lock:
            m = self._mounts.get(fs)
            if m is None:
                m = self._mounts[fs] = FsMount(self.cluster, fs)
            return m

    def close(self, wait: float = 0.0) -> None:
        """Unmount all, in parallel, waiting up to `wait` seconds in all (see `FsMount.close`)."""
        with self._lock:
            mounts, self._mounts = list(self._mounts.values()), {}
        threads = [t for t in (m._drop() for m in mounts) if t is not None]
        deadline = time.monotonic() + wait
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


def _snap_path(path: str, name: str) -> bytes:
    return f"{path.rstrip('/')}/.snap/{name}".encode()


def _snapshot(fs: Any, name: str, full: bytes, info: dict[str, Any]) -> Snapshot:
    return Snapshot(
        name=name,
        id=int(info["id"]) if info.get("id") is not None else None,
        created=_snap_btime(fs, full),
        metadata={str(k): str(v) for k, v in (info.get("metadata") or {}).items()},
    )


def _snap_btime(fs: Any, snap_path: bytes) -> float | None:
    """The snapshot's creation time. `ceph.snap.btime` is exact (seen on 16.2.15); the stat ctime of
    the snapshot directory is only the directory's last change before it, so it is the fallback."""
    try:
        return float(fs.getxattr(snap_path, b"ceph.snap.btime").decode())
    except (cephfs.Error, ValueError):
        st = fs.stat(snap_path)
        return st.st_ctime.timestamp() if st.st_ctime else None
