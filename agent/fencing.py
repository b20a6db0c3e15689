"""Self-fencing decisions (pure): which local images must be demoted, given the groups' epochs.

The I/O side (`agent.runtime.fence`) reads the records from KV, asks Ceph which images are primary
here, and demotes what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.fencing import FenceRecord
from schemas.ids import DirPath, FsName, ImageName, PoolName, SiteName


@dataclass(frozen=True, order=True)
class FenceTarget:
    group: str
    epoch: int
    pool: PoolName
    image: ImageName


def fence_targets(
    site: SiteName,
    records: Iterable[FenceRecord],
    primary_here: Mapping[PoolName, set[ImageName]],
) -> list[FenceTarget]:
    """Images of groups whose current epoch names another site primary, but which are primary here.

    `primary_here` maps each pool to the images this site holds as primary (from Ceph). An image in
    two groups with different primaries cannot be resolved safely either way; it is fenced (demoted):
    refusing to write is the failure mode that cannot lose data.
    """
    out: set[FenceTarget] = set()
    for rec in records:
        if rec.primary == site:
            continue
        for member in rec.rbd:
            here = primary_here.get(member.pool, set())
            for image in member.images:
                if image in here:
                    out.add(FenceTarget(rec.group, rec.epoch, member.pool, image))
    return sorted(out)


def pools_of(records: Iterable[FenceRecord], site: SiteName) -> set[PoolName]:
    """Pools the fencing check must look at (only groups where this site is not primary)."""
    return {m.pool for r in records if r.primary != site for m in r.rbd}


@dataclass(frozen=True, order=True)
class FsFenceTarget:
    group: str
    epoch: int
    fs: FsName
    path: DirPath


def fs_fence_targets(
    site: SiteName,
    records: Iterable[FenceRecord],
    mirrored_here: Mapping[str, set[str]],
) -> list[FsFenceTarget]:
    """Directories of groups whose epoch names another site primary that this site still mirrors
    out (`mirrored_here`: file system -> directories in its mirror list)."""
    out: set[FsFenceTarget] = set()
    for rec in records:
        if rec.primary == site:
            continue
        for member in rec.fs:
            here = mirrored_here.get(member.fs, set())
            out.update(FsFenceTarget(rec.group, rec.epoch, member.fs, d) for d in member.dirs if d in here)
    return sorted(out)


def filesystems_of(records: Iterable[FenceRecord], site: SiteName) -> set[str]:
    return {m.fs for r in records if r.primary != site for m in r.fs}
