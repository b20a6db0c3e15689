"""Preparing a CephFS directory to become a mirror target (pure): what `fs.dir.prepare` may do.

Pacific's cephfs-mirror refuses a target directory whose snapshots lack the `primary_snap_id`
metadata its own copies carry ("invalid metadata in remote snapshot"), so after a failover the old
primary's directory is prepared before the new primary mirrors it (FINDINGS appendix B.1). The
I/O side (`agent.service.fs_snapshot`) reads the snapshots and applies the plan returned here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas.errors import Conflict
from schemas.fs import FsSnapshotInfo

PRIMARY_SNAP_ID = "primary_snap_id"  # the snapshot metadata key cephfs-mirror reads on a target
_NAMES_SHOWN = 20


def overlapping(path: str, mirrored: Iterable[str]) -> str | None:
    """The first mirrored directory that is `path`, a parent of it, or a child of it."""
    for m in mirrored:
        if m == path or path.startswith(m.rstrip("/") + "/") or m.startswith(path.rstrip("/") + "/"):
            return m
    return None


@dataclass(frozen=True)
class ForgePlan:
    remove: tuple[str, ...]  # snapshot names to remove, in this order
    remake: bool  # then make the final snapshot with the metadata
    message: str

    @property
    def changed(self) -> bool:
        return bool(self.remove) or self.remake


def names(items: Sequence[str]) -> str:
    """A readable, bounded list of names for a reply message."""
    shown = ", ".join(items[:_NAMES_SHOWN])
    more = len(items) - _NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def forge_plan(snaps: Sequence[FsSnapshotInfo], path: str, snapshot: str, primary_snap_id: int) -> ForgePlan:
    """Remove the target's snapshots and remake `snapshot` with `primary_snap_id` metadata.

    - `snapshot` already carries that id: only snapshots WITHOUT mirror metadata are removed
      (copies cephfs-mirror made since are kept); none: nothing changes.
    - `snapshot` is here but other snapshots are newer: refused, the directory may have changed
      after it (planned failover only; method fresh is the safe one then).
    - `snapshot` is missing: refused when other snapshots exist (it is not this directory's final
      snapshot); with no snapshot at all the final one is made from the live directory (the state an
      interrupted forge leaves).
    """
    want = str(primary_snap_id)
    final = next((s for s in snaps if s.name == snapshot), None)
    others = [s for s in snaps if s.name != snapshot]
    what = f"{path}@{snapshot} ({PRIMARY_SNAP_ID} {want})"
    if final is not None and final.metadata.get(PRIMARY_SNAP_ID) == want:
        local = tuple(s.name for s in others if PRIMARY_SNAP_ID not in s.metadata)
        if not local:
            return ForgePlan((), False, f"{what} is already in place; nothing changed")
        return ForgePlan(local, False, f"{what} was in place; removed snapshots {names(local)}")
    if final is None:
        if others:
            have = names([s.name for s in others])
            raise Conflict(
                f"{path} has no snapshot {snapshot!r} on this site (it has {have}): "
                "forge needs the final snapshot this site took before the failover; use method fresh",
                where="$.snapshot",
            )
        return ForgePlan(
            (), True, f"made {what}; {path} had no snapshot left (an earlier forge was interrupted)"
        )
    if final.id is not None:
        newer = [s.name for s in others if s.id is not None and s.id > final.id]
        if newer:
            raise Conflict(
                f"snapshot {snapshot!r} is not the newest of {path} on this site (newer: {names(newer)}): "
                "the directory may have changed after it; forge is for a planned failover, use method fresh",
                where="$.snapshot",
            )
    remove = (*(s.name for s in others), snapshot)
    return ForgePlan(remove, True, f"removed snapshots {names(list(remove))}; made {what}")
