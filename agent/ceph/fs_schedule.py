"""CephFS snapshot schedules through the mgr `snap_schedule` module (Pacific 16.2.15).

The module turns every Python `ValueError` into ENOENT (snap_schedule/module.py), so "not found",
"already present" and "minutes not allowed" all arrive as ENOENT; they are told apart by their
text here and mapped to what they mean. The request schemas (schemas/fs.py) already refuse
schedules and retention specs Pacific would reject or silently ignore.
"""

from __future__ import annotations

import calendar
import json
import time
from typing import Any

from agent.ceph import fs_mirror
from agent.ceph.cluster import CephCluster
from schemas.errors import Conflict, InvalidRequest, NotFound
from schemas.fs import FsSchedule, retention_spec

MODULE = "snap_schedule"
DEADLINE = 30.0  # the module mounts the file system and loads its schedule DB on first use
TS_FORMAT = "%Y-%m-%dT%H:%M:%S"  # snap_schedule's SNAP_DB_TS_FORMAT, UTC


async def _mgr(cluster: CephCluster, cmd: dict[str, Any]) -> bytes:
    try:
        return await cluster.mgr_command(cmd, deadline=DEADLINE)
    except InvalidRequest as err:
        raise fs_mirror.module_off(err, MODULE) from None


async def add(cluster: CephCluster, fs: str, path: str, schedule: str, start: str | None) -> bool:
    """Add a schedule; False when the same (path, schedule, start) exists."""
    await fs_mirror.get_fs(cluster, fs)
    cmd: dict[str, Any] = {
        "prefix": "fs snap-schedule add",
        "fs": fs,
        "path": path,
        "snap_schedule": schedule,
    }
    if start:
        cmd["start"] = start
    try:
        await _mgr(cluster, cmd)
    except Conflict as err:
        if err.details.get("errno_name") == "EEXIST":
            return False
        raise
    except NotFound as err:
        if "minute" in err.message:
            raise Conflict(
                "minute schedules are off on this cluster: an operator must set "
                "`ceph config set mgr mgr/snap_schedule/allow_m_granularity true`",
                where="$.schedule",
                details=err.details,
            ) from None
        raise InvalidRequest(f"snap-schedule refused it: {err.message}", where="$.schedule") from None
    return True


async def remove(cluster: CephCluster, fs: str, path: str, schedule: str | None, start: str | None) -> bool:
    # Removing the last schedule by repeat leaves the path's row (holding its retention) behind;
    # a later remove purges that row too, but no schedule changed: report it unchanged.
    before = await status(cluster, fs, path)
    cmd: dict[str, Any] = {"prefix": "fs snap-schedule remove", "fs": fs, "path": path}
    if schedule:
        cmd["repeat"] = schedule
    if start:
        cmd["start"] = start
    try:
        await _mgr(cluster, cmd)
    except NotFound:  # "SnapSchedule for X not found" / "No schedule found for ..."
        return False
    return any((schedule is None or s.schedule == schedule) for s in before)


async def retention_add(cluster: CephCluster, fs: str, path: str, retention: dict[str, int]) -> bool:
    """Add retention items; False when exactly these are already set."""
    current = await _retention_of(cluster, fs, path)
    if current is None:
        raise NotFound(f"no snapshot schedule on {path} in {fs}: add a schedule first", where="$.path")
    if all(current.get(k) == v for k, v in retention.items()):
        return False
    clash = {k: current[k] for k in retention if k in current and current[k] != retention[k]}
    if clash:
        raise Conflict(
            f"retention of {path} already sets {retention_spec(clash)}: remove it first",
            where="$.spec",
            details={"current": current},
        )
    cmd = {"prefix": "fs snap-schedule retention add", "fs": fs, "path": path}
    cmd["retention_spec_or_period"] = retention_spec(retention)
    try:
        await _mgr(cluster, cmd)
    except NotFound as err:
        raise Conflict(f"snap-schedule refused the retention: {err.message}", where="$.spec") from None
    return True


async def retention_remove(cluster: CephCluster, fs: str, path: str, retention: dict[str, int]) -> bool:
    current = await _retention_of(cluster, fs, path)
    present = {k: v for k, v in retention.items() if current and current.get(k) == v}
    if not present:
        return False
    cmd = {"prefix": "fs snap-schedule retention remove", "fs": fs, "path": path}
    cmd["retention_spec_or_period"] = retention_spec(present)
    try:
        await _mgr(cluster, cmd)
    except NotFound:
        return False
    return True


async def _retention_of(cluster: CephCluster, fs: str, path: str) -> dict[str, int] | None:
    """The retention of `path` (all its schedules share one), or None when it has no schedule."""
    scheds = await status(cluster, fs, path)
    return dict(scheds[0].retention) if scheds else None


async def status(cluster: CephCluster, fs: str, path: str) -> list[FsSchedule]:
    await fs_mirror.get_fs(cluster, fs)
    out = await _mgr(cluster, {"prefix": "fs snap-schedule status", "fs": fs, "path": path, "format": "json"})
    raw = json.loads(out or b"[]")
    return [parse_schedule(s) for s in (raw if isinstance(raw, list) else []) if isinstance(s, dict)]


def parse_schedule(s: dict[str, Any]) -> FsSchedule:
    ret = s.get("retention") or {}
    return FsSchedule(
        fs=str(s.get("fs", "")),
        path=str(s.get("path", "")),
        schedule=str(s.get("schedule", "")),
        retention={str(k): int(v) for k, v in ret.items()} if isinstance(ret, dict) else {},
        start=utc_ts(s.get("start")),
        created=utc_ts(s.get("created")),
        first=utc_ts(s.get("first")),
        last=utc_ts(s.get("last")),
        last_pruned=utc_ts(s.get("last_pruned")),
        created_count=int(s.get("created_count") or 0),
        pruned_count=int(s.get("pruned_count") or 0),
        active=bool(s.get("active", True)),
        subvol=s.get("subvol") if isinstance(s.get("subvol"), str) else None,
    )


def utc_ts(value: object) -> float | None:
    """snap_schedule's `YYYY-MM-DDTHH:MM:SS` (UTC, no zone) -> unix seconds."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return float(calendar.timegm(time.strptime(value[:19], TS_FORMAT)))
    except ValueError:
        return None
