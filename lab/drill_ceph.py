"""The drill's own librbd calls: is an image primary and writable on a site, and the survivor's
records. Blocking; the drill runs them in threads under a deadline, and librados' timeouts are set
so that a thread does not outlive its deadline by more than one of them.

The bindings are imported inside the functions: `cephdr` builds its parser from every command
module, and the CLI must not load librados (tests/unit/test_layering.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab.drill_data import BLOCK
from lab.model import SiteInfo

OP_TIMEOUT = 10.0
PROBE = b"cephdr drill probe".ljust(BLOCK, b"\0")


@contextmanager
def cluster(site: SiteInfo, timeout: float = OP_TIMEOUT) -> Iterator[Any]:
    import rados

    t = str(int(timeout))
    c = rados.Rados(
        conffile=site.conf,
        conf={
            "keyring": site.keyring,
            "rados_mon_op_timeout": t,
            "rados_osd_op_timeout": t,
            "client_mount_timeout": t,
            "rbd_cache": "false",
            # a probe refused while a promote settles is expected: not an error on the terminal
            "err_to_stderr": "false",
            "log_to_stderr": "false",
        },
    )
    c.connect(timeout=timeout)
    try:
        yield c
    finally:
        c.shutdown()


def _write_within(img: Any, data: bytes, offset: int, timeout: float) -> bool:
    """One write that answers within `timeout` (a lock handover can block a plain write)."""
    done = threading.Event()
    rc: list[int] = []

    def cb(comp: Any) -> None:
        rc.append(comp.get_return_value())
        done.set()

    img.aio_write(data, offset, cb)
    return done.wait(timeout) and rc[0] >= 0


def primary_and_writable(c: Any, pool: str, image: str, probe_offset: int) -> bool:
    """Primary on this site, and a write to the probe block (past the records) succeeds."""
    import rbd

    with c.open_ioctx(pool) as io, rbd.Image(io, image) as img:
        if not img.mirror_image_get_info()["primary"]:
            return False
        return _write_within(img, PROBE, probe_offset, OP_TIMEOUT)


def primaries(c: Any, pool: str, images: list[str]) -> dict[str, bool]:
    import rbd

    out = {}
    with c.open_ioctx(pool) as io:
        for name in images:
            with rbd.Image(io, name, read_only=True) as img:
                out[name] = bool(img.mirror_image_get_info()["primary"])
    return out


def read_records(c: Any, pool: str, image: str, count: int) -> bytes:
    """The first `count` record blocks of an image."""
    import rbd

    with c.open_ioctx(pool) as io, rbd.Image(io, image, read_only=True) as img:
        chunks = []
        step = 1024 * BLOCK
        for off in range(0, count * BLOCK, step):
            chunks.append(img.read(off, min(step, count * BLOCK - off)))
        return b"".join(chunks)


def poll_writable(
    site: SiteInfo, pool: str, images: list[str], probe_offset: int, deadline: float, interval: float = 0.2
) -> dict[str, float]:
    """Poll until every image is primary and writable on `site` (or the monotonic deadline): for
    each image, the wall-clock time it first was."""
    import time

    ready: dict[str, float] = {}
    with cluster(site) as c:
        while len(ready) < len(images) and time.monotonic() < deadline:
            for name in images:
                if name in ready:
                    continue
                try:
                    if primary_and_writable(c, pool, name, probe_offset):
                        ready[name] = time.time()
                except Exception:  # mid-promote librbd refuses (EBUSY, EROFS): look again
                    continue
            if len(ready) < len(images):
                time.sleep(interval)
    return ready


def poll_primaries(site: SiteInfo, pool: str, images: list[str], deadline: float) -> bool:
    """Poll until every image is primary on `site`; False at the monotonic deadline."""
    import time

    with cluster(site) as c:
        while time.monotonic() < deadline:
            try:
                if all(primaries(c, pool, images).values()):
                    return True
            except Exception:  # a site just restored answers ENOENT/ETIMEDOUT for a moment
                pass
            time.sleep(0.5)
    return False


def read_all(site: SiteInfo, pool: str, counts: dict[str, int]) -> dict[str, bytes]:
    with cluster(site) as c:
        return {name: read_records(c, pool, name, n) for name, n in counts.items()}
