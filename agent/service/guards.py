"""Checks shared by handlers of dangerous commands (shared with the controller: schemas.errors)."""

from __future__ import annotations

from agent.ceph import rbd_pool
from agent.ceph.cluster import CephCluster
from schemas.errors import NotFound, require_confirmation

__all__ = ["require_confirmation", "require_pool"]


async def require_pool(cluster: CephCluster, pool: str) -> None:
    """Refuse before any side effect: a command that also sets the cluster-wide site name must
    not set it and then fail on a pool that is not there (the input fuzz found exactly that)."""
    if not await rbd_pool.pool_exists(cluster, pool):
        raise NotFound(f"pool {pool} does not exist", where="$.pool")
