"""Mirror snapshot schedules, served by the mgr module rbd_support.

The mgr commands differ from the CLI: `list`, not `ls`; a pool level spec is `pool/` (plain `pool`
fails to parse). An unknown pool/image comes back as EINVAL "Invalid level spec": the existence
checks here turn that into NotFound first.
"""

from __future__ import annotations

from typing import Any

import rados
import rbd

from agent.ceph.cluster import CephCluster
from agent.ceph.rbd_util import open_image, open_pool
from schemas.errors import NotFound

_PREFIX = "rbd mirror snapshot schedule"


async def check_level(cluster: CephCluster, pool: str, namespace: str | None, image: str | None) -> None:
    """NotFound naming the missing pool / namespace / image of a level."""

    def run(r: rados.Rados) -> None:
        with open_pool(r, pool) as ioctx:
            if namespace:
                if not rbd.RBD().namespace_exists(ioctx, namespace):
                    raise NotFound(f"namespace {pool}/{namespace} does not exist", where="$.namespace")
                ioctx.set_namespace(namespace)
            if image:
                with open_image(ioctx, pool, image, read_only=True):
                    pass

    await cluster.call(run, what=f"schedule level check {pool}")


async def schedule_add(cluster: CephCluster, level_spec: str, interval: str, start_time: str | None) -> None:
    cmd: dict[str, Any] = {"prefix": f"{_PREFIX} add", "level_spec": level_spec, "interval": interval}
    if start_time:
        cmd["start_time"] = start_time
    await cluster.mgr_command(cmd, what=f"schedule add {level_spec}")


async def schedule_remove(
    cluster: CephCluster, level_spec: str, interval: str | None, start_time: str | None
) -> None:
    """rbd_support ignores a schedule that does not exist."""
    cmd: dict[str, Any] = {"prefix": f"{_PREFIX} remove", "level_spec": level_spec}
    if interval:
        cmd["interval"] = interval
    if start_time:
        cmd["start_time"] = start_time
    await cluster.mgr_command(cmd, what=f"schedule remove {level_spec}")


async def schedule_list(cluster: CephCluster, level_spec: str = "") -> list[dict[str, Any]]:
    """[{level_spec, interval, start_time}] at the level, below it, and the parent that applies.

    The mgr answers `{"<level id>": {"name": "pool/", "schedule": [{"interval", "start_time"}]}}`."""
    doc = await cluster.mgr_json({"prefix": f"{_PREFIX} list", "level_spec": level_spec})
    out: list[dict[str, Any]] = []
    for entry in (doc or {}).values():
        for item in entry.get("schedule", []):
            out.append(
                {
                    "level_spec": str(entry.get("name", "")),
                    "interval": str(item.get("interval", "")),
                    "start_time": item.get("start_time") or None,
                }
            )
    out.sort(key=lambda e: (e["level_spec"], e["interval"], e["start_time"] or ""))
    return out


async def schedule_status(cluster: CephCluster, level_spec: str = "") -> list[dict[str, str]]:
    """[{image: "pool/image", schedule_time: "YYYY-MM-DD HH:MM:00"}] of the images under the level."""
    doc = await cluster.mgr_json({"prefix": f"{_PREFIX} status", "level_spec": level_spec})
    return [
        {"image": str(i.get("image", "")), "schedule_time": str(i.get("schedule_time", ""))}
        for i in (doc or {}).get("scheduled_images", [])
    ]
