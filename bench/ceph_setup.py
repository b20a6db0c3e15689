"""Set-up and checks through librbd (blocking; callers run them in threads under a deadline).

Creating 1000 images with one `rbd` process each takes minutes on the lab; one librados connection
does it in seconds. These calls prepare and verify a benchmark: they are never what is measured.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from lab.drill_ceph import cluster
from lab.model import SiteInfo

MIB = 1024 * 1024
ENABLE_THREADS = 32


@contextmanager
def pool_io(site: SiteInfo, pool: str, timeout: float = 30.0) -> Iterator[Any]:
    with cluster(site, timeout) as c:
        ioctx = c.open_ioctx(pool)
        try:
            yield ioctx
        finally:
            ioctx.close()


def create_images(site: SiteInfo, pool: str, names: list[str], size_mib: int, *, mirror: bool) -> int:
    """Create the missing images (default features) and, when `mirror`, enable snapshot mirroring
    on them; how many were created."""
    import rbd

    api = rbd.RBD()
    with pool_io(site, pool) as ioctx:
        have = set(api.list(ioctx))

        def one(name: str) -> int:
            made = 0
            if name not in have:
                api.create(ioctx, name, size_mib * MIB, old_format=False)
                made = 1
            if mirror:
                with rbd.Image(ioctx, name) as img:
                    if img.mirror_image_get_info()["state"] != rbd.RBD_MIRROR_IMAGE_ENABLED:
                        img.mirror_image_enable(rbd.RBD_MIRROR_IMAGE_MODE_SNAPSHOT)
            return made

        # a snapshot-mode enable spends about 1 s waiting inside librbd (seen on the lab): in
        # parallel, 1000 images take seconds instead of a quarter of an hour
        with ThreadPoolExecutor(max_workers=ENABLE_THREADS) as pool_threads:
            return sum(pool_threads.map(one, names))


def primaries(site: SiteInfo, pool: str) -> dict[str, bool]:
    """Each mirror-enabled image of the pool on this site: is it primary here."""
    import rbd

    api = rbd.RBD()
    with pool_io(site, pool) as ioctx:
        names = {i["id"]: i["name"] for i in api.list2(ioctx)}
        return {names[iid]: bool(info["primary"]) for iid, info in api.mirror_image_info_list(ioctx)
                if iid in names}


def image_states(site: SiteInfo, pool: str) -> dict[str, dict[str, Any]]:
    """Each image's mirror status as this site's rbd-mirror reported it (name -> status dict)."""
    import rbd

    api = rbd.RBD()
    with pool_io(site, pool) as ioctx:
        return {s["name"]: s for s in api.mirror_image_status_list(ioctx)}


def synced(site_a: SiteInfo, site_b: SiteInfo, pool: str, names: list[str], primary: str) -> list[str]:
    """Images NOT yet in sync for a clean planned switch: primary on `primary` only, the other
    site's copy `up+replaying` with its replay idle (and, when it reports one, holding the
    primary's latest mirror snapshot). Empty = all in sync."""
    import json

    import rbd

    prim, other = (site_a, site_b) if primary == site_a.name else (site_b, site_a)
    on_p, on_o = primaries(prim, pool), primaries(other, pool)
    states = image_states(other, pool)
    bad = []
    for n in names:
        st = states.get(n)
        if not on_p.get(n) or on_o.get(n, True) or st is None:
            bad.append(n)
            continue
        if not st.get("up") or st.get("state") != rbd.MIRROR_IMAGE_STATUS_STATE_REPLAYING:
            bad.append(n)
            continue
        desc = str(st.get("description", ""))
        try:
            prog = json.loads(desc.split(", ", 1)[1]) if ", " in desc else {}
        except ValueError:
            prog = {}
        # right after a switch the follower holds the demotion snapshot, which is no synced
        # copy: rbd-mirror reports no local timestamp until the next mirror snapshot. Idle
        # without one is in sync; idle with one must match the primary's.
        local, remote = prog.get("local_snapshot_timestamp"), prog.get("remote_snapshot_timestamp")
        if prog.get("replay_state") != "idle" or (local is not None and local != remote):
            bad.append(n)
    return bad


# -- the floor: the same librbd calls the agent makes, in-process, on a connection kept open -------

def floor_status(c: Any, pool: str, image: str) -> None:
    """What `rbd.image.status` asks librbd (image info, mode, status; then the pool's peers)."""
    import rbd

    api = rbd.RBD()
    with c.open_ioctx(pool) as ioctx:
        with rbd.Image(ioctx, image, read_only=True) as img:
            img.mirror_image_get_info()
            img.mirror_image_get_mode()
            img.mirror_image_get_status()
        list(api.mirror_peer_list(ioctx))


def floor_pool_info(c: Any, pool: str) -> None:
    import rbd

    api = rbd.RBD()
    with c.open_ioctx(pool) as ioctx:
        api.mirror_mode_get(ioctx)
        api.mirror_site_name_get(c)
        api.mirror_uuid_get(ioctx)
        list(api.mirror_peer_list(ioctx))


def floor_demote_promote(c: Any, pool: str, image: str) -> None:
    import rbd

    with c.open_ioctx(pool) as ioctx:
        with rbd.Image(ioctx, image) as img:
            img.mirror_image_demote()
        with rbd.Image(ioctx, image) as img:
            img.mirror_image_promote(False)
