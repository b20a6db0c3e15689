"""Pool-level RBD mirroring: mode, site name, mirror uuid, summary (as `rbd mirror pool ...`)."""

from __future__ import annotations

from typing import Any

import rados
import rbd

from agent.ceph.cluster import CephCluster
from agent.ceph.rbd_util import POOL_MODE_VALUES, POOL_MODES, open_pool
from schemas.errors import Conflict


async def pool_exists(cluster: CephCluster, pool: str) -> bool:
    return await cluster.call(lambda r: bool(r.pool_exists(pool)), what=f"pool exists {pool}")


async def set_pool_mirror_mode(cluster: CephCluster, pool: str, mode: str) -> bool:
    """Set the pool's mirror mode; False when it already was `mode`.

    Disabling is refused here, with the reason, while peers or mirror-enabled images remain
    (librbd answers EBUSY/EINVAL, which would read as "retry later")."""

    def run(r: rados.Rados) -> bool:
        api = rbd.RBD()
        with open_pool(r, pool) as ioctx:
            current = POOL_MODES.get(api.mirror_mode_get(ioctx), "disabled")
            if current == mode:
                return False
            if mode == "disabled":
                peers = list(api.mirror_peer_list(ioctx))
                if peers:
                    raise Conflict(
                        f"pool {pool} still has {len(peers)} mirror peer(s); remove them first"
                        " (rbd.peer.remove)",
                        where="$.pool",
                    )
                if current == "image":
                    enabled = sum(1 for _ in api.mirror_image_info_list(ioctx))
                    if enabled:
                        raise Conflict(
                            f"{enabled} image(s) of pool {pool} are mirror-enabled; disable them first"
                            " (rbd.image.disable)",
                            where="$.pool",
                        )
            api.mirror_mode_set(ioctx, POOL_MODE_VALUES[mode])
            return True

    return await cluster.call(run, what=f"mirror mode set {pool} {mode}")


async def site_name(cluster: CephCluster) -> str:
    return await cluster.call(lambda r: str(rbd.RBD().mirror_site_name_get(r)), what="site name get")


async def set_site_name(cluster: CephCluster, name: str) -> bool:
    """Set this cluster's mirroring site name; False when it already was `name`."""

    def run(r: rados.Rados) -> bool:
        api = rbd.RBD()
        if api.mirror_site_name_get(r) == name:
            return False
        api.mirror_site_name_set(r, name)
        return True

    return await cluster.call(run, what="site name set")


async def fsid(cluster: CephCluster) -> str:
    return await cluster.call(lambda r: str(r.get_fsid()), what="fsid")


async def pool_info(cluster: CephCluster, pool: str) -> dict[str, Any]:
    """{mode, site_name, mirror_uuid, peers: [...]} of a pool, in one call; no keys."""
    from agent.ceph.rbd_peer import peer_dict

    def run(r: rados.Rados) -> dict[str, Any]:
        api = rbd.RBD()
        with open_pool(r, pool) as ioctx:
            mode = POOL_MODES.get(api.mirror_mode_get(ioctx), "disabled")
            uuid = api.mirror_uuid_get(ioctx) if mode != "disabled" else ""
            peers = [peer_dict(p) for p in api.mirror_peer_list(ioctx)] if mode != "disabled" else []
            return {
                "mode": mode,
                "site_name": api.mirror_site_name_get(r),
                "mirror_uuid": uuid,
                "peers": peers,
            }

    return await cluster.call(run, what=f"mirror pool info {pool}")
