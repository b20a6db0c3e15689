"""libcephfs access: one long-lived mount per file system, every call in the Ceph executor.

Used for what the mgr commands do not give: the snapshots of a mirrored directory with their
creation times (RPO), and taking a snapshot (`mkdir DIR/.snap/NAME`). A mount that fails with a
connection-type error is dropped and remade on the next call.
"""

from __future__ import annotations

import errno as E
import logging
import math
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import cephfs
import msgspec

from agent.ceph.cluster import CephCluster, shutdown_detached
from schemas.errors import CephDRError

log = logging.getLogger(__name__)
T = TypeVar("T")
_DROP = {E.ESHUTDOWN, E.ENOTCONN, 108, E.ETIMEDOUT}


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of a directory; `created` is the snapshot's ctime (unix seconds)."""

    name: str
    id: int | None = None
    created: float | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


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

    def _drop(self) -> None:
        with self._lock:
            h, self._fs = self._fs, None
        if h is not None:
            shutdown_detached(h, "cephfs")

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
                full = f"{snapdir}/{n}".encode()
                info = fs.snap_info(full)
                out.append(
                    Snapshot(
                        name=n,
                        id=int(info["id"]) if info.get("id") is not None else None,
                        created=_snap_btime(fs, full),
                        metadata={str(k): str(v) for k, v in (info.get("metadata") or {}).items()},
                    )
                )
            return sorted(out, key=lambda s: (s.id is None, s.id or 0, s.name))

        return await self.call(run, what=f"cephfs snapshots {self.fs}:{path}")

    async def snapshot_time(self, path: str, name: str) -> float | None:
        """When snapshot `name` of directory `path` was taken (`ceph.snap.btime`)."""
        full = f"{path.rstrip('/')}/.snap/{name}".encode()
        return await self.call(
            lambda fs: _snap_btime(fs, full), what=f"cephfs snapshot time {self.fs}:{path}"
        )

    async def make_snapshot(self, path: str, name: str) -> None:
        await self.call(
            lambda fs: fs.mkdir(f"{path.rstrip('/')}/.snap/{name}".encode(), 0o755),
            what=f"cephfs mksnap {self.fs}:{path}@{name}",
        )

    def close(self) -> None:
        self._drop()


def _snap_btime(fs: Any, snap_path: bytes) -> float | None:
    """The snapshot's creation time. `ceph.snap.btime` is exact (seen on 16.2.15); the stat ctime of
    the snapshot directory is only the directory's last change before it, so it is the fallback."""
    try:
        return float(fs.getxattr(snap_path, b"ceph.snap.btime").decode())
    except (cephfs.Error, ValueError):
        st = fs.stat(snap_path)
        return st.st_ctime.timestamp() if st.st_ctime else None
