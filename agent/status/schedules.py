"""Snapshot schedules: rbd_support mirror-snapshot schedules and CephFS snap_schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from agent.status._raw import as_bool, as_dict, as_int, as_list, as_str, timestamp
from schemas.status import ScheduleStatus


def rbd_schedules(raw: object, *, level_spec: str | None = None) -> list[ScheduleStatus]:
    """From the mgr command `rbd mirror snapshot schedule list` (JSON):
    `{"10": {"name": "P/", "schedule": [{"interval": "1m", "start_time": null}]}}`; or, with
    `level_spec`, the CLI's `ls` form for one level `[{"interval": "1m", "start_time": ""}]`."""
    levels: list[tuple[str, list[Any]]] = []
    if isinstance(raw, list):
        levels.append((level_spec or "", raw))
    else:
        for _, level in sorted(as_dict(raw).items()):
            d = as_dict(level)
            levels.append((as_str(d.get("name")) or "", as_list(d.get("schedule"))))
    out = []
    for target, items in levels:
        for item in (as_dict(x) for x in items):
            interval = as_str(item.get("interval"))
            if interval:
                out.append(
                    ScheduleStatus(
                        kind="rbd",
                        target=target,
                        interval=interval,
                        start_time=as_str(item.get("start_time")) or None,
                    )
                )
    return sorted(out, key=schedule_key)


def _entries(raw: object) -> list[Mapping[str, Any]]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, str | bytes):  # some releases print one JSON document per schedule
            try:
                item = msgspec.json.decode(item)
            except (msgspec.DecodeError, ValueError):
                continue
        if isinstance(item, Mapping):
            out.append(item)
    return out


def fs_schedules(raw: object) -> list[ScheduleStatus]:
    """From `fs snap-schedule status <path> --fs <fs> --format json`: `[{fs, path, schedule,
    retention{"h": 24}, start, first, last, created_count, pruned_count, active, ...}]`."""
    out = []
    for e in _entries(raw):
        path, interval = as_str(e.get("path")), as_str(e.get("schedule"))
        if not path or not interval:
            continue
        keep = {str(k): n for k, v in as_dict(e.get("retention")).items() if (n := as_int(v)) is not None}
        out.append(
            ScheduleStatus(
                kind="fs",
                target=path,
                interval=interval,
                fs=as_str(e.get("fs")),
                start_time=as_str(e.get("start")) or None,
                retention=keep,
                active=as_bool(e.get("active")) is not False,
                last_snapshot_at=timestamp(e.get("last")),
                created_count=as_int(e.get("created_count")),
                pruned_count=as_int(e.get("pruned_count")),
            )
        )
    return sorted(out, key=schedule_key)


def schedule_key(s: ScheduleStatus) -> tuple[str, str, str, str, str]:
    """Identity of a schedule: a different interval or start is another schedule."""
    return (s.kind, s.fs or "", s.target, s.interval, s.start_time or "")
