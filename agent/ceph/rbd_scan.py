"""Everything the status scanner reads from one RBD pool, in ONE pool-thread call.

One iterator over `mirror_image_status_list` per pool (not a call per image) plus the info list,
the summary and the peers: a scan of a 1000-image pool is a handful of round trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import rados
import rbd

from agent.ceph.cluster import CephCluster
from agent.ceph.rbd_image import materialise_status
from agent.ceph.rbd_peer import peer_dict
from agent.ceph.rbd_util import IMAGE_MODES, POOL_MODES, open_pool


@dataclass
class PoolRead:
    pool: str
    mode: str
    pool_id: int = -1
    statuses: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # image id -> {mode, primary, ...}
    summary: list[tuple[int, int]] = field(default_factory=list)
    peers: list[dict[str, Any]] = field(default_factory=list)  # no keys: uuid, site_name, mirror_uuid...


def _read(r: rados.Rados, pool: str) -> PoolRead:
    api = rbd.RBD()
    with open_pool(r, pool) as ioctx:
        mode = POOL_MODES.get(api.mirror_mode_get(ioctx), "unknown")
        out = PoolRead(pool=pool, mode=mode, pool_id=ioctx.get_pool_id())
        if mode == "disabled":
            return out
        out.statuses = [materialise_status(s) for s in api.mirror_image_status_list(ioctx)]
        for image_id, info in api.mirror_image_info_list(ioctx):
            info = dict(info)
            info["mode"] = IMAGE_MODES.get(info.get("mode", -1))
            out.info[image_id] = info
        out.summary = [(int(s), int(c)) for s, c in api.mirror_image_status_summary(ioctx)]
        out.peers = [peer_dict(p) for p in api.mirror_peer_list(ioctx)]
        return out


async def read_pool(cluster: CephCluster, pool: str, *, deadline: float | None = None) -> PoolRead:
    return await cluster.call(lambda r: _read(r, pool), what=f"scan pool {pool}", deadline=deadline)


async def mirrored_pools(cluster: CephCluster) -> list[str]:
    """Pools with mirroring enabled (used when the config names none)."""

    def run(r: rados.Rados) -> list[str]:
        api, found = rbd.RBD(), []
        for name in r.list_pools():
            with open_pool(r, name) as ioctx:
                try:
                    if api.mirror_mode_get(ioctx) != rbd.RBD_MIRROR_MODE_DISABLED:
                        found.append(name)
                except rbd.Error:  # not an RBD pool (cephfs data, .mgr): skip it
                    continue
        return found

    return await cluster.call(run, what="list mirrored pools")
