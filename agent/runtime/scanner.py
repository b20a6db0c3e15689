"""The status scanner: read the site, normalise, return one `SiteStatus` (diffing is the caller's).

Each part (pools, daemons, directories, schedules, peer probe) fails on its own: its error goes in
`SiteStatus.errors` and the rest of the scan stands. When the cluster does not answer at all, the
previous images and directories are kept rather than dropped (errors carry a scope, and the caller's
`carry_forward` keeps the previous entries of every failed scope), so a dead cluster or one failed
pool read never reads as "every image was removed".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from agent.ceph import fs_mirror
from agent.ceph.asok import AdminSocket
from agent.ceph.cephfs_io import FsMounts
from agent.ceph.cluster import CephCluster
from agent.ceph.probe import probe_peer
from agent.ceph.rbd_peer import peer_attributes
from agent.ceph.rbd_scan import PoolRead, mirrored_pools, read_pool
from agent.config import AgentConfig
from agent.status.daemons import cephfs_mirror_daemons, pool_daemon_health, rbd_mirror_daemons
from agent.status.diff import (
    SCOPE_CEPHFS_MIRROR,
    SCOPE_CLUSTER,
    SCOPE_RBD,
    SCOPE_RBD_MIRROR,
    SCOPE_SCHEDULES,
    fs_scope,
    pool_scope,
    scope_error,
)
from agent.status.fs import dir_statuses
from agent.status.pools import pool_summary
from agent.status.rbd import image_status
from agent.status.schedules import fs_schedules, rbd_schedules
from schemas.errors import CephDRError
from schemas.ids import SiteName
from schemas.status import (
    DaemonStatus,
    DirStatus,
    Health,
    ImageStatus,
    PoolSummary,
    ScheduleStatus,
    SiteStatus,
)

log = logging.getLogger(__name__)

# mgr_service_beacon_grace: the mgr forgets a daemon silent for this long; so do we
BEACON_GRACE_S = 60.0


class Scanner:
    def __init__(
        self, site: SiteName, cluster: CephCluster, cfg: AgentConfig, mounts: FsMounts | None = None
    ) -> None:
        self.site = site
        self.cluster = cluster
        self.cfg = cfg
        self._peer_reach: dict[str, bool | None] = {}
        self._probed_at = 0.0
        # libcephfs mounts, shared with the command handlers when the runtime passes its own
        self._own_mounts = mounts is None
        self._mounts = mounts if mounts is not None else FsMounts(cluster)
        # (fs, path, snapshot) -> creation time; a snapshot's time never changes
        self._snap_times: dict[tuple[str, str, str], float] = {}

    async def scan(self, prev: SiteStatus | None) -> SiteStatus:
        now = time.time()
        if not await self.cluster.probe(deadline=min(5.0, self.cfg.ceph.timeouts.op)):
            why = f"cluster unreachable: {self.cluster.last_error or 'no answer from the monitors'}"
            return SiteStatus(
                site=self.site,
                taken_at=now,
                cluster_reachable=False,
                peer_reachable=dict(prev.peer_reachable) if prev else {},
                errors=[scope_error(SCOPE_CLUSTER, why)],
            )
        errors: list[str] = []
        daemons, pool_health = await self._daemons(errors)
        pools, images, reads = await self._rbd(prev, now, errors, pool_health)
        dirs = await self._dirs(now, errors)
        schedules = await self._schedules([r.pool for r in reads], dirs, errors)
        if time.monotonic() - self._probed_at >= self.cfg.agent.peer_probe_interval:
            self._peer_reach = await self._probe_peers(reads)
            self._probed_at = time.monotonic()
        return SiteStatus(
            site=self.site,
            taken_at=now,
            cluster_reachable=True,
            peer_reachable=dict(self._peer_reach),
            pools=pools,
            images=images,
            dirs=dirs,
            daemons=daemons,
            schedules=schedules,
            errors=errors,
        )

    async def _rbd(
        self, prev: SiteStatus | None, now: float, errors: list[str], pool_health: Callable[[int], Health]
    ) -> tuple[list[PoolSummary], list[ImageStatus], list[PoolRead]]:
        previous: dict[tuple[str, str], ImageStatus] = (
            {(str(i.pool), str(i.image)): i for i in prev.images} if prev else {}
        )
        try:
            names = list(self.cfg.status.pools) or await mirrored_pools(self.cluster)
        except CephDRError as err:
            errors.append(scope_error(SCOPE_RBD, f"listing pools: {err.message}"))
            return [], [], []
        summaries, images, reads = [], [], []
        for pool in names:
            try:
                read = await read_pool(self.cluster, pool)
            except CephDRError as err:
                errors.append(scope_error(pool_scope(pool), err.message))
                continue
            reads.append(read)
            peer_names = {p["mirror_uuid"]: p["site_name"] for p in read.peers if p.get("mirror_uuid")}
            default_peer = read.peers[0]["site_name"] if len(read.peers) == 1 else None
            pool_images = []
            for raw in read.statuses:
                info = read.info.get(raw.get("id", ""), {})
                st = image_status(
                    raw,
                    pool=pool,
                    mode=info.get("mode"),
                    primary=info.get("primary"),
                    now=now,
                    peer_names=peer_names,
                    default_peer_site=default_peer,
                    previous=previous.get((pool, str(raw.get("name", "")))),
                )
                pool_images.append(st)
            images += pool_images
            summaries.append(
                pool_summary(
                    pool, read.mode, read.summary, pool_images, daemon_health=pool_health(read.pool_id)
                )
            )
        return summaries, sorted(images, key=lambda i: (i.pool, i.image)), reads

    async def _daemons(self, errors: list[str]) -> tuple[list[DaemonStatus], Callable[[int], Health]]:
        out: list[DaemonStatus] = []
        dump: dict[str, Any] = {}
        svc: dict[str, Any] = {}
        try:
            dump = await self.cluster.mgr_json({"prefix": "service dump"}, what="service dump") or {}
            svc = await self.cluster.mgr_json({"prefix": "service status"}, what="service status") or {}
            out += rbd_mirror_daemons(dump, svc, now=time.time(), beacon_grace_s=BEACON_GRACE_S)
        except CephDRError as err:
            errors.append(scope_error(SCOPE_RBD_MIRROR, err.message))
        if self.cfg.status.filesystems:
            try:
                out += cephfs_mirror_daemons(await fs_mirror.daemon_status(self.cluster))
            except CephDRError as err:
                errors.append(scope_error(SCOPE_CEPHFS_MIRROR, err.message))

        def health(pool_id: int) -> Health:
            return pool_daemon_health(dump, svc, pool_id) if dump else Health.UNKNOWN

        return out, health

    async def _dirs(self, now: float, errors: list[str]) -> list[DirStatus]:
        asok_path = self.cfg.ceph.cephfs_mirror_asok
        out: list[DirStatus] = []
        for fs in self.cfg.status.filesystems:
            try:
                entry = await fs_mirror.get_fs(self.cluster, fs)
                if not entry.mirroring or not entry.peers:
                    continue
                paths = await fs_mirror.dir_paths(self.cluster, entry)
                for uuid, peer in sorted(entry.peers.items()):
                    raw: Any = {}
                    if asok_path:
                        sock = AdminSocket(asok_path, self.cluster.executor)
                        try:
                            raw = await sock.json(f"fs mirror peer status {fs}@{entry.fscid} {uuid}")
                        except CephDRError as err:
                            errors.append(scope_error(SCOPE_CEPHFS_MIRROR, f"admin socket: {err.message}"))
                    remote = peer.get("remote", {}) if isinstance(peer, dict) else {}
                    out += dir_statuses(
                        fs,
                        raw or {},
                        peer_uuid=uuid,
                        peer_site=remote.get("cluster_name"),
                        snap_times=await self._synced_snap_times(fs, raw or {}, errors),
                        paths=paths,
                        now=now,
                    )
            except CephDRError as err:
                errors.append(scope_error(fs_scope(fs), err.message))
        return sorted(out, key=lambda d: (d.fs, d.path))

    async def _synced_snap_times(
        self, fs: str, peer_status: Any, errors: list[str]
    ) -> dict[str, dict[str, float]]:
        """Creation times of each directory's last synced snapshot (for its RPO lag), cached."""
        out: dict[str, dict[str, float]] = {}
        if not isinstance(peer_status, dict):
            return out
        for path, entry in peer_status.items():
            snap = entry.get("last_synced_snap") if isinstance(entry, dict) else None
            name = snap.get("name") if isinstance(snap, dict) else None
            if not isinstance(name, str):
                continue
            key = (fs, str(path), name)
            if key not in self._snap_times:
                mount = self._mounts.get(fs)
                try:
                    t = await mount.snapshot_time(str(path), name)
                except CephDRError as err:
                    errors.append(scope_error(fs_scope(fs), f"snapshot time of {path}@{name}: {err.message}"))
                    continue
                if t is None:
                    continue
                self._snap_times[key] = t
            out.setdefault(str(path), {})[name] = self._snap_times[key]
        return out

    def close(self) -> None:
        if self._own_mounts:
            self._mounts.close()

    async def _schedules(
        self, pools: list[str], dirs: list[DirStatus], errors: list[str]
    ) -> list[ScheduleStatus]:
        out: list[ScheduleStatus] = []
        for pool in pools:
            spec = f"{pool}/"
            try:
                raw = await self.cluster.mgr_json(
                    {"prefix": "rbd mirror snapshot schedule list", "level_spec": spec}, what="schedule list"
                )
                out += rbd_schedules(raw, level_spec=spec)
            except CephDRError as err:
                errors.append(scope_error(SCOPE_SCHEDULES, f"rbd schedules of {pool}: {err.message}"))
        for fs, path in sorted({(d.fs, d.path) for d in dirs}):
            try:
                raw = await self.cluster.mgr_json(
                    {"prefix": "fs snap-schedule status", "path": path, "fs": fs}, what="snap-schedule status"
                )
                out += fs_schedules(raw)
            except CephDRError as err:
                if err.code != "not_found":
                    errors.append(scope_error(SCOPE_SCHEDULES, f"fs schedules of {fs}:{path}: {err.message}"))
        return out

    async def _probe_peers(self, reads: list[PoolRead]) -> dict[str, bool | None]:
        """Per peer site: one probe with the first pool's stored credentials for that site."""
        result: dict[str, bool | None] = {}
        for read in reads:
            for peer in read.peers:
                site = str(peer.get("site_name") or peer.get("uuid"))
                if site in result:
                    continue
                try:
                    mon_host, key = await peer_attributes(self.cluster, read.pool, str(peer["uuid"]))
                except CephDRError:
                    result[site] = None  # no stored credentials (e.g. a tx-only peer): cannot tell
                    continue
                if not mon_host or not key:
                    result[site] = None
                    continue
                result[site] = await probe_peer(
                    self.cluster.executor,
                    client_name=str(peer.get("client_name") or "client.rbd-mirror-peer"),
                    mon_host=mon_host,
                    key=key,
                    deadline=5.0,
                )
        return result
