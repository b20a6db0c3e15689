"""CephFS directory mirroring status, from cephfs-mirror's admin socket `fs mirror peer status`.

RPO lag of a directory = `now - creation time of its last synced snapshot`. The scanner reads
the creation times (e.g. libcephfs `stat` of `DIR/.snap/NAME`) and passes them in `snap_times`;
without one the lag is None. `sync_time_stamp` in the daemon's output is its uptime clock
(`"4003.685271s"`), not wall-clock, so it is never used for RPO.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agent.status._raw import as_dict, as_int, as_str, duration, lag
from schemas.ids import DirPath, FsName
from schemas.status import DirState, DirStatus, SnapRef

# 16.2.15 spells it "current_sycning_snap" (sic); newer releases fixed the spelling
_SYNCING_KEYS = ("current_syncing_snap", "current_sycning_snap")


def _snap(value: object) -> SnapRef | None:
    d = as_dict(value)
    name = as_str(d.get("name"))
    if not name:
        return None
    return SnapRef(name=name, id=as_int(d.get("id")))


def _state(value: object) -> DirState:
    try:
        return DirState(value) if isinstance(value, str) else DirState.UNKNOWN
    except ValueError:
        return DirState.UNKNOWN


def dir_status(
    fs: str,
    path: str,
    raw: Mapping[str, Any],
    *,
    peer_uuid: str | None,
    peer_site: str | None,
    snap_times: Mapping[str, float] | None,
    now: float,
) -> DirStatus:
    """Normalise one directory's entry of `fs mirror peer status <fs>@<fscid> <peer_uuid>`.

    `raw` is the value under the directory's path (`{}` when the daemon does not report it).
    `snap_times` maps snapshot name -> creation time (unix seconds) for this directory.
    """
    raw = as_dict(raw)
    state = _state(raw.get("state"))
    last = _snap(raw.get("last_synced_snap"))
    syncing = next((s for s in (_snap(raw.get(k)) for k in _SYNCING_KEYS) if s is not None), None)
    synced_at = (snap_times or {}).get(last.name) if last else None
    failure = as_str(raw.get("failure_reason")) or None
    alerts: list[str] = []
    if state is DirState.FAILED:
        alerts.append(f"failed:{failure}" if failure else "failed")
    elif state is DirState.UNKNOWN:
        alerts.append("not_reported")
    if last is None and state is not DirState.UNKNOWN:
        alerts.append("no_synced_snapshot")
    return DirStatus(
        fs=FsName(fs),
        path=DirPath(path),
        peer_uuid=peer_uuid,
        peer_site=peer_site,
        state=state,
        healthy=not alerts,
        last_synced_snap=last,
        syncing_snap=syncing,
        last_sync_duration_s=duration(as_dict(raw.get("last_synced_snap")).get("sync_duration")),
        snaps_synced=as_int(raw.get("snaps_synced")) or 0,
        snaps_deleted=as_int(raw.get("snaps_deleted")) or 0,
        snaps_renamed=as_int(raw.get("snaps_renamed")) or 0,
        failure_reason=failure,
        last_synced_snapshot_at=synced_at,
        rpo_lag_s=lag(now, synced_at),
        alerts=alerts,
    )


def _per_dir(peer_status: Mapping[str, Any], peer_uuid: str | None) -> dict[str, Mapping[str, Any]]:
    """`{path: entry}` from the 16.2.15 shape or the newer `{"metrics": {path: {"peer": {uuid: entry}}}}`."""
    metrics = peer_status.get("metrics")
    if isinstance(metrics, Mapping):
        out: dict[str, Mapping[str, Any]] = {}
        for path, v in metrics.items():
            peers = as_dict(as_dict(v).get("peer"))
            # with no uuid given (or not found), the single peer cephfs-mirror supports
            entry = peers.get(peer_uuid) if peer_uuid is not None else None
            if entry is None:
                entry = next(iter(peers.values()), {})
            out[str(path)] = as_dict(entry)
        return out
    return {str(k): as_dict(v) for k, v in peer_status.items() if isinstance(k, str) and k.startswith("/")}


def dir_statuses(
    fs: str,
    peer_status: Mapping[str, Any],
    *,
    peer_uuid: str | None,
    peer_site: str | None,
    snap_times: Mapping[str, Mapping[str, float]] | None = None,
    paths: Iterable[str] | None = None,
    now: float,
) -> list[DirStatus]:
    """Every directory of one peer status output, sorted by path.

    `snap_times` maps path -> {snapshot name -> creation time}. `paths` (from `fs snapshot mirror
    ls`) adds the configured directories the daemon does not report, as state `unknown`.
    """
    entries = _per_dir(as_dict(peer_status), peer_uuid)
    for p in paths or ():
        entries.setdefault(p, {})
    return [
        dir_status(
            fs,
            path,
            entry,
            peer_uuid=peer_uuid,
            peer_site=peer_site,
            snap_times=(snap_times or {}).get(path),
            now=now,
        )
        for path, entry in sorted(entries.items())
    ]
