"""Shared bits of the RBD adapters: opening pools and images with clear NotFound errors, and the
binding's integer constants as the names cephdr uses on the wire.

Everything here runs inside a `CephCluster.call` (a pool thread), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import rados
import rbd

from schemas.errors import NotFound

POOL_MODES: dict[int, str] = {
    rbd.RBD_MIRROR_MODE_DISABLED: "disabled",
    rbd.RBD_MIRROR_MODE_IMAGE: "image",
    rbd.RBD_MIRROR_MODE_POOL: "pool",
}
POOL_MODE_VALUES = {v: k for k, v in POOL_MODES.items()}

IMAGE_MODES: dict[int, str] = {
    rbd.RBD_MIRROR_IMAGE_MODE_JOURNAL: "journal",
    rbd.RBD_MIRROR_IMAGE_MODE_SNAPSHOT: "snapshot",
}
IMAGE_MODE_VALUES = {v: k for k, v in IMAGE_MODES.items()}

PEER_DIRECTIONS: dict[int, str] = {
    rbd.RBD_MIRROR_PEER_DIRECTION_RX: "rx-only",
    rbd.RBD_MIRROR_PEER_DIRECTION_TX: "tx-only",
    rbd.RBD_MIRROR_PEER_DIRECTION_RX_TX: "rx-tx",
}
PEER_DIRECTION_VALUES = {v: k for k, v in PEER_DIRECTIONS.items()}

# rbd_mirror_image_state_t: DISABLING=0, ENABLED=1, DISABLED=2
IMAGE_ENABLED = rbd.RBD_MIRROR_IMAGE_ENABLED


@contextmanager
def open_pool(r: rados.Rados, pool: str, namespace: str | None = None) -> Iterator[rados.Ioctx]:
    try:
        ioctx = r.open_ioctx(pool)
    except rados.ObjectNotFound:
        raise NotFound(f"pool {pool} does not exist", where="$.pool") from None
    try:
        if namespace:
            ioctx.set_namespace(namespace)
        yield ioctx
    finally:
        ioctx.close()


@contextmanager
def open_image(ioctx: rados.Ioctx, pool: str, image: str, *, read_only: bool = False) -> Iterator[rbd.Image]:
    """Open an image and ALWAYS close it (a leaked handle keeps a watch on the header)."""
    try:
        img = rbd.Image(ioctx, image, read_only=read_only)
    except rbd.ImageNotFound:
        raise NotFound(f"image {pool}/{image} does not exist", where="$.image") from None
    try:
        yield img
    finally:
        img.close()


def image_names(ioctx: rados.Ioctx) -> dict[str, str]:
    """image id -> name of every image in the pool (trash excluded)."""
    return {i["id"]: i["name"] for i in rbd.RBD().list2(ioctx)}
