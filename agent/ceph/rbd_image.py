"""Image-level RBD mirroring (as `rbd mirror image ...`) and the pool-wide reads of the scanner.

Each write opens a fresh `rbd.Image` and closes it before returning: promote after a remote demote
must be retried with a new handle (FINDINGS step 7), and leaked handles hold watches.
"""

from __future__ import annotations

from typing import Any

import rados
import rbd

from agent.ceph.cluster import CephCluster
from agent.ceph.rbd_util import (
    IMAGE_ENABLED,
    IMAGE_MODE_VALUES,
    IMAGE_MODES,
    POOL_MODES,
    image_names,
    open_image,
    open_pool,
)
from schemas.errors import Conflict

_EXCLUSIVE_LOCK = rbd.RBD_FEATURE_EXCLUSIVE_LOCK
_JOURNALING = rbd.RBD_FEATURE_JOURNALING


def _info(img: rbd.Image) -> dict[str, Any]:
    info = img.mirror_image_get_info()
    enabled = info.get("state") == IMAGE_ENABLED
    return {
        "global_id": info.get("global_id", ""),
        "enabled": enabled,
        "primary": bool(info.get("primary")),
        "mode": IMAGE_MODES.get(img.mirror_image_get_mode()) if enabled else None,
    }


async def image_info(cluster: CephCluster, pool: str, image: str) -> dict[str, Any]:
    """{global_id, enabled, primary, mode} of one image."""

    def run(r: rados.Rados) -> dict[str, Any]:
        with open_pool(r, pool) as ioctx, open_image(ioctx, pool, image, read_only=True) as img:
            return _info(img)

    return await cluster.call(run, what=f"mirror image info {pool}/{image}")


async def enable(cluster: CephCluster, pool: str, image: str, mode: str) -> tuple[bool, str]:
    """Enable mirroring in `mode`; returns (changed, what was done).

    In pool mode librbd mirrors every journaling image by itself and refuses an explicit enable,
    so journal mode there means turning journaling on."""

    def run(r: rados.Rados) -> tuple[bool, str]:
        spec = f"{pool}/{image}"
        with open_pool(r, pool) as ioctx:
            pool_mode = POOL_MODES.get(rbd.RBD().mirror_mode_get(ioctx), "disabled")
            if pool_mode == "disabled":
                raise Conflict(
                    f"mirroring is not enabled on pool {pool}; enable it first (rbd.pool.enable)",
                    where="$.pool",
                )
            if pool_mode == "pool" and mode == "snapshot":
                raise Conflict(
                    f"pool {pool} is in pool mode, which mirrors journaling images only;"
                    " snapshot mirroring needs the pool in image mode",
                    where="$.mode",
                )
            with open_image(ioctx, pool, image) as img:
                info = _info(img)
                if info["enabled"]:
                    if info["mode"] == mode:
                        return False, f"{spec} is already mirrored in {mode} mode"
                    raise Conflict(
                        f"{spec} is already mirrored in {info['mode']} mode; disable it first to change mode",
                        where="$.mode",
                    )
                done = []
                if mode == "journal":
                    features = img.features()
                    if not features & _EXCLUSIVE_LOCK:
                        raise Conflict(
                            f"{spec} lacks the exclusive-lock feature, which journal mirroring needs;"
                            " use snapshot mode or enable exclusive-lock",
                            where="$.image",
                        )
                    if not features & _JOURNALING:
                        img.update_features(_JOURNALING, True)
                        done.append("enabled the journaling feature")
                if pool_mode == "image":
                    img.mirror_image_enable(IMAGE_MODE_VALUES[mode])  # the default would be JOURNAL
                done.append(f"mirroring enabled in {mode} mode")
                return True, f"{spec}: " + "; ".join(done)

    return await cluster.call(run, what=f"mirror image enable {pool}/{image}", deadline=30.0)


async def disable(cluster: CephCluster, pool: str, image: str, *, force: bool) -> bool:
    """Disable mirroring; False when it already was."""

    def run(r: rados.Rados) -> bool:
        with open_pool(r, pool) as ioctx:
            pool_mode = POOL_MODES.get(rbd.RBD().mirror_mode_get(ioctx), "disabled")
            with open_image(ioctx, pool, image) as img:
                info = _info(img)
                if not info["enabled"]:
                    return False
                if pool_mode == "pool":
                    raise Conflict(
                        f"pool {pool} is in pool mode: every journaling image is mirrored;"
                        " disable the journaling feature or switch the pool to image mode",
                        where="$.image",
                    )
                if not info["primary"] and not force:
                    raise Conflict(
                        f"{pool}/{image} is not primary here; disabling a non-primary image needs force",
                        where="$.force",
                    )
                img.mirror_image_disable(force)
                return True

    return await cluster.call(run, what=f"mirror image disable {pool}/{image}", deadline=30.0)


async def create_snapshot(cluster: CephCluster, pool: str, image: str) -> int:
    """Take a mirror snapshot of a primary snapshot-mode image; returns its snap id."""

    def run(r: rados.Rados) -> int:
        with open_pool(r, pool) as ioctx, open_image(ioctx, pool, image) as img:
            info = _info(img)
            _require_enabled(pool, image, info)
            if info["mode"] != "snapshot":
                raise Conflict(f"{pool}/{image} is mirrored in {info['mode']} mode, not snapshot")
            if not info["primary"]:
                raise Conflict(f"{pool}/{image} is not primary here: snapshots are taken on the primary")
            return int(img.mirror_image_create_snapshot())

    return await cluster.call(run, what=f"mirror image snapshot {pool}/{image}", deadline=30.0)


def _require_enabled(pool: str, image: str, info: dict[str, Any]) -> None:
    if not info["enabled"]:
        raise Conflict(f"mirroring is not enabled on {pool}/{image}", where="$.image")


async def promote_once(cluster: CephCluster, pool: str, image: str, *, force: bool, deadline: float) -> bool:
    """One promote attempt with a fresh handle; False when already primary.

    Raises `Busy` (EBUSY/EROFS) while the peer's demotion has not propagated: callers retry."""

    def run(r: rados.Rados) -> bool:
        with open_pool(r, pool) as ioctx, open_image(ioctx, pool, image) as img:
            info = _info(img)
            _require_enabled(pool, image, info)
            if info["primary"]:
                return False
            img.mirror_image_promote(force)
            return True

    return await cluster.call(run, what=f"mirror image promote {pool}/{image}", deadline=deadline)


async def demote_once(cluster: CephCluster, pool: str, image: str, *, deadline: float) -> bool:
    """Demote; False when already non-primary."""

    def run(r: rados.Rados) -> bool:
        with open_pool(r, pool) as ioctx, open_image(ioctx, pool, image) as img:
            info = _info(img)
            _require_enabled(pool, image, info)
            if not info["primary"]:
                return False
            img.mirror_image_demote()
            return True

    return await cluster.call(run, what=f"mirror image demote {pool}/{image}", deadline=deadline)


async def resync(cluster: CephCluster, pool: str, image: str) -> None:
    """Flag a non-primary image for resync (rbd-mirror deletes and re-copies it)."""

    def run(r: rados.Rados) -> None:
        with open_pool(r, pool) as ioctx, open_image(ioctx, pool, image) as img:
            info = _info(img)
            _require_enabled(pool, image, info)
            if info["primary"]:
                raise Conflict(
                    f"{pool}/{image} is primary here: resync replaces a non-primary copy with the"
                    " primary's data; demote it first (after a forced failover, demote the stale side)",
                    where="$.image",
                )
            img.mirror_image_resync()

    await cluster.call(run, what=f"mirror image resync {pool}/{image}", deadline=30.0)


def materialise_status(raw: dict[str, Any]) -> dict[str, Any]:
    """A status entry as the binding gives it (the shape `agent.status.normalize` parses), detached
    from the iterator: `state`/`description`/`up`/`last_update` are absent until the local
    rbd-mirror reported."""
    out = dict(raw)
    out["info"] = dict(raw.get("info") or {})
    out["remote_statuses"] = [dict(s) for s in raw.get("remote_statuses") or []]
    return out


async def image_status(cluster: CephCluster, pool: str, image: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(info {global_id, enabled, primary, mode}, raw status entry or {} when not mirrored)."""

    def run(r: rados.Rados) -> tuple[dict[str, Any], dict[str, Any]]:
        with open_pool(r, pool) as ioctx, open_image(ioctx, pool, image, read_only=True) as img:
            info = _info(img)
            raw = materialise_status(img.mirror_image_get_status()) if info["enabled"] else {}
            return info, raw

    return await cluster.call(run, what=f"mirror image status {pool}/{image}")


async def mirror_image_info_list(cluster: CephCluster, pool: str) -> dict[str, dict[str, Any]]:
    """image name -> {id, global_id, mode, primary} for every mirror-enabled image of the pool."""

    def run(r: rados.Rados) -> dict[str, dict[str, Any]]:
        with open_pool(r, pool) as ioctx:
            if rbd.RBD().mirror_mode_get(ioctx) == rbd.RBD_MIRROR_MODE_DISABLED:
                return {}
            names = image_names(ioctx)
            out: dict[str, dict[str, Any]] = {}
            for image_id, info in rbd.RBD().mirror_image_info_list(ioctx):
                name = names.get(image_id)
                if name is None or info.get("state") != IMAGE_ENABLED:
                    continue
                out[name] = {
                    "id": image_id,
                    "global_id": info.get("global_id", ""),
                    "mode": IMAGE_MODES.get(info.get("mode", -1)),
                    "primary": bool(info.get("primary")),
                }
            return out

    return await cluster.call(run, what=f"mirror image info list {pool}")


async def list_images(cluster: CephCluster, pool: str) -> set[str]:
    """Names of every image of the pool."""

    def run(r: rados.Rados) -> set[str]:
        with open_pool(r, pool) as ioctx:
            return set(image_names(ioctx).values())

    return await cluster.call(run, what=f"image list {pool}")
