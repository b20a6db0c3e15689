"""Mirror daemons from the mgr: rbd-mirror in the service map, cephfs-mirror in `daemon status`.

rbd-mirror: `{"prefix": "service dump", "format": "json"}` lists the live daemons
(`services["rbd-mirror"]["daemons"]`, keyed by gid, plus a non-object `"summary"` entry to skip);
`{"prefix": "service status", "format": "json"}` adds each daemon's status, whose `json` string
holds per pool id `{instance_id, leader, callouts{...: {level, text}}, image_*_count}`. The health
rules are those of the rbd CLI (src/tools/rbd/MirrorDaemonServiceInfo.cc).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from agent.status._raw import as_dict, as_int, as_list, as_str, timestamp
from schemas.status import DaemonStatus, Health

_ORDER = {Health.OK: 0, Health.UNKNOWN: 1, Health.WARNING: 2, Health.ERROR: 3}


def worst(*levels: Health) -> Health:
    """The most severe of `levels` (OK < UNKNOWN < WARNING < ERROR, as Ceph orders them)."""
    return max(levels, key=_ORDER.__getitem__, default=Health.OK)


def _rbd_services(service_dump: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    daemons = as_dict(as_dict(as_dict(service_dump.get("services")).get("rbd-mirror")).get("daemons"))
    for key, value in sorted(daemons.items()):
        if isinstance(value, Mapping):  # "summary" is a string
            yield str(key), value


def _status_json(service_status: Mapping[str, Any], service_id: str) -> dict[str, Any] | None:
    """The decoded per-pool status of one daemon, or None when it reports none."""
    status = as_dict(as_dict(as_dict(service_status.get("rbd-mirror")).get(service_id)).get("status"))
    text = status.get("json")
    if not isinstance(text, str):
        return None
    try:
        decoded = msgspec.json.decode(text.encode())
    except (msgspec.DecodeError, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _callouts(pool: Mapping[str, Any]) -> tuple[Health, list[str]]:
    health, texts = Health.OK, []
    for callout in as_dict(pool.get("callouts")).values():
        c = as_dict(callout)
        level = as_str(c.get("level"))
        if level == "error":
            health = worst(health, Health.ERROR)
        elif level == "warning":
            health = worst(health, Health.WARNING)
        text = as_str(c.get("text"))
        if text:
            texts.append(text)
    return health, texts


def rbd_mirror_daemons(
    service_dump: Mapping[str, Any],
    service_status: Mapping[str, Any] | None,
    *,
    pool_names: Mapping[int, str] | None = None,
    now: float | None = None,
    beacon_grace_s: float | None = None,
) -> list[DaemonStatus]:
    """The rbd-mirror daemons of this site. A daemon is `up` while it is in the service map (the
    mgr drops it after `mgr_service_beacon_grace`); with `now` and `beacon_grace_s`, also only
    while its `last_beacon` is that recent. `pool_names` maps pool id -> name for `serves`."""
    out = []
    names = pool_names or {}
    for service_id, daemon in _rbd_services(as_dict(service_dump)):
        meta = as_dict(daemon.get("metadata"))
        per_pool = _status_json(as_dict(service_status), service_id) if service_status is not None else None
        health, details, serves, leader = Health.OK, [], [], []
        if per_pool is None:
            health, details = Health.WARNING, ["not reporting status"]
        for pool_id, pool in sorted(per_pool.items() if per_pool else ()):
            p = as_dict(pool)
            name = as_str(p.get("name")) or names.get(as_int(pool_id) or -1) or str(pool_id)
            serves.append(name)
            if p.get("leader") is True:
                leader.append(name)
            level, texts = _callouts(p)
            health = worst(health, level)
            details.extend(f"{name}: {t}" for t in texts)
        up = True
        entry = as_dict(as_dict(as_dict(service_status).get("rbd-mirror")).get(service_id))
        beacon = timestamp(entry.get("last_beacon"))
        age = now - beacon if now is not None and beacon is not None else None
        if age is not None and beacon_grace_s is not None and age > beacon_grace_s:
            up, health = False, Health.ERROR
            details.append("no beacon")
        out.append(
            DaemonStatus(
                kind="rbd-mirror",
                id=as_str(meta.get("id")) or service_id,
                instance_id=as_str(meta.get("instance_id")) or service_id,
                hostname=as_str(meta.get("hostname")),
                version=as_str(meta.get("ceph_version_short")),
                up=up,
                health=health,
                leader_pools=leader,
                serves=serves,
                details=details,
            )
        )
    return out


def pool_daemon_health(
    service_dump: Mapping[str, Any], service_status: Mapping[str, Any], pool_id: int
) -> Health:
    """`daemon health` of `rbd mirror pool status` for one pool: UNKNOWN with no rbd-mirror at
    all, ERROR when none reports the pool, WARNING when none leads it, else the worst callout."""
    services = list(_rbd_services(as_dict(service_dump)))
    if not services:
        return Health.UNKNOWN
    found_pool = found_leader = False
    health = Health.OK
    for service_id, _ in services:
        per_pool = _status_json(as_dict(service_status), service_id)
        pool = as_dict(per_pool.get(str(pool_id))) if per_pool is not None else None
        if not pool:
            health = worst(health, Health.WARNING)  # "not reporting status (for pool)"
            continue
        found_pool = True
        found_leader = found_leader or pool.get("leader") is True
        health = worst(health, _callouts(pool)[0])
    if not found_pool:
        return Health.ERROR
    return worst(health, Health.OK if found_leader else Health.WARNING)


def cephfs_mirror_daemons(daemon_status: object) -> list[DaemonStatus]:
    """From `{"prefix": "fs snapshot mirror daemon status"}`: `[{daemon_id, filesystems: [{name,
    directory_count, peers: [{uuid, remote{cluster_name,...}, stats{failure_count, recovery_count}}]}]}]`.
    A listed daemon is alive (the mgr blocklists and drops unresponsive ones); `failure_count`
    counts failed directories, so any makes it WARNING."""
    out = []
    for d in (as_dict(x) for x in as_list(daemon_status)):
        daemon_id = d.get("daemon_id")
        if daemon_id is None:
            continue
        health, details, serves = Health.OK, [], []
        for fs in (as_dict(x) for x in as_list(d.get("filesystems"))):
            fs_name = as_str(fs.get("name")) or str(fs.get("filesystem_id"))
            serves.append(fs_name)
            for peer in (as_dict(x) for x in as_list(fs.get("peers"))):
                failures = as_int(as_dict(peer.get("stats")).get("failure_count")) or 0
                if failures:
                    health = Health.WARNING
                    site = as_str(as_dict(peer.get("remote")).get("cluster_name")) or as_str(peer.get("uuid"))
                    details.append(
                        f"{fs_name}: {failures} failed director{'y' if failures == 1 else 'ies'}"
                        f" toward {site}"
                    )
        out.append(
            DaemonStatus(
                kind="cephfs-mirror",
                id=str(daemon_id),
                up=True,
                health=health,
                serves=sorted(serves),
                details=details,
            )
        )
    return sorted(out, key=lambda s: s.id)
