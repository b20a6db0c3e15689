"""Writing known random data through the real client libraries (librbd, libcephfs).

Not `rbd bench`: it writes the same bytes at the same offsets on every run, so it cannot prove a change.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MIB = 1024 * 1024


def write_image(cluster: Any, pool: str, image: str, offset: int, length: int) -> bytes:
    """Write `length` random bytes at `offset` of pool/image through librbd; returns them."""
    import rbd

    data = os.urandom(length)
    with cluster.open_ioctx(pool) as ioctx, rbd.Image(ioctx, image) as img:
        for off in range(0, length, 4 * MIB):
            img.write(data[off : off + 4 * MIB], offset + off)
        img.flush()
    return data


def write_at_site(conf: str, keyring: str, pool: str, image: str, offset: int, length: int = MIB) -> bytes:
    """The application: `length` random bytes at `offset` of pool/image on one site, through a
    connection of its own (a test's stand-in for a VM writing)."""
    import rados

    c = rados.Rados(conffile=conf, conf={"keyring": keyring})
    c.connect(timeout=30)
    try:
        return write_image(c, pool, image, offset, length)
    finally:
        c.shutdown()


class ImageModel:
    """The expected content of an image, kept alongside the writes to it."""

    def __init__(self, size: int) -> None:
        self.content = bytearray(size)

    def apply(self, offset: int, data: bytes) -> None:
        self.content[offset : offset + len(data)] = data

    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@contextmanager
def cephfs_mount(conf: str, fs_name: str = "cephfs") -> Iterator[Any]:
    import cephfs

    fs = cephfs.LibCephFS(conffile=conf)
    fs.conf_set("client_mount_timeout", "30")
    fs.mount(filesystem_name=fs_name.encode())
    try:
        yield fs
    finally:
        fs.unmount()
        fs.shutdown()


def cephfs_write(fs: Any, path: str, data: bytes) -> None:
    fd = fs.open(path.encode(), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        fs.write(fd, data, 0)
        fs.fsync(fd, 0)
    finally:
        fs.close(fd)


def cephfs_read(fs: Any, path: str) -> bytes:
    size = fs.stat(path.encode()).st_size
    fd = fs.open(path.encode(), os.O_RDONLY, 0)
    try:
        return bytes(fs.read(fd, 0, size)) if size else b""
    finally:
        fs.close(fd)


def cephfs_listdir(fs: Any, path: str) -> list[str]:
    d = fs.opendir(path.encode())
    names = []
    try:
        while (entry := fs.readdir(d)) is not None:
            name = entry.d_name.decode()
            if name not in (".", ".."):
                names.append(name)
    finally:
        fs.closedir(d)
    return sorted(names)
