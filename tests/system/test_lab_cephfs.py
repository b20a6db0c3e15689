"""Issue-2 proof: a CephFS directory snapshot taken on site-a arrives on site-b with the same files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import pytest
from helpers.data import cephfs_listdir, cephfs_mount, cephfs_read, cephfs_write
from helpers.oracle import ceph, unique_name
from helpers.wait import wait_for

from lab.model import SiteInfo

pytestmark = pytest.mark.system

FS = "cephfs"


@pytest.fixture
def mirrored_dir(site_a: SiteInfo) -> Iterator[str]:
    path = f"/{unique_name('fsdir')}"
    yield path
    # stop mirroring the directory so cephfs-mirror does not keep tracking it for the rest of the session
    ceph(site_a, "fs", "snapshot", "mirror", "remove", FS, path)


def snapshot_files(conf: str, path: str, snap: str) -> dict[str, str] | None:
    """name -> sha256 of the files in path/.snap/snap, None while the snapshot is not there."""
    with cephfs_mount(conf) as fs:
        if snap not in cephfs_listdir(fs, f"{path}/.snap"):
            return None
        base = f"{path}/.snap/{snap}"
        return {n: hashlib.sha256(cephfs_read(fs, f"{base}/{n}")).hexdigest()
                for n in cephfs_listdir(fs, base)}


def test_directory_snapshot_arrives_with_same_files(site_a: SiteInfo, site_b: SiteInfo,
                                                    mirrored_dir: str) -> None:
    path = mirrored_dir
    files = {f"f{i}.bin": os.urandom(64 * 1024 + i) for i in range(5)}
    with cephfs_mount(site_a.conf) as fs:
        fs.mkdir(path.encode(), 0o755)
        for n, data in files.items():
            cephfs_write(fs, f"{path}/{n}", data)
    ceph(site_a, "fs", "snapshot", "mirror", "add", FS, path)
    with cephfs_mount(site_a.conf) as fs:
        fs.mkdir(f"{path}/.snap/s1".encode(), 0o755)
    expected = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    assert snapshot_files(site_a.conf, path, "s1") == expected

    got = wait_for(lambda: snapshot_files(site_b.conf, path, "s1"), 120, 1, f"{path}/.snap/s1 on site-b")
    assert got == expected

    # and the live directory on site-b holds the same files
    with cephfs_mount(site_b.conf) as fs:
        assert cephfs_listdir(fs, path) == sorted(files)
        assert {n: hashlib.sha256(cephfs_read(fs, f"{path}/{n}")).hexdigest() for n in files} == expected
