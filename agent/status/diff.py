"""Compare two scans of a site and say what changed, meaningfully.

An event fires when something an operator or the controller acts on changes: presence, state,
up/down, role, split-brain, caught-up, mode, health/alerts, a peer's state; for a directory its
state or last synced snapshot; for a daemon up/down, health or leadership; for a pool its mode,
health or per-state counts; for a schedule presence, activation or retention. Lags that merely
grow, `last_update` ticking, throughput and counters never fire, so a steady site is silent.

Scan errors carry a scope (`scope_error`). A part of the scan that failed must not look like
everything in it vanished: `carry_forward` keeps the previous entries of a failed scope, and
`diff` never reports removals in a failed scope or when the cluster was unreachable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from agent.status.schedules import schedule_key
from schemas.status import (
    Change,
    DaemonBrief,
    DaemonEvent,
    DaemonStatus,
    DirBrief,
    DirEvent,
    DirStatus,
    Event,
    ImageBrief,
    ImageEvent,
    ImageStatus,
    MirrorMode,
    PoolBrief,
    PoolEvent,
    PoolSummary,
    ScheduleEvent,
    ScheduleStatus,
    SiteStatus,
    StatusCounts,
)

T = TypeVar("T")
Key = tuple[str, ...]

SCOPE_CLUSTER = "cluster"
SCOPE_RBD_MIRROR = "rbd-mirror"
SCOPE_CEPHFS_MIRROR = "cephfs-mirror"
SCOPE_SCHEDULES = "schedules"
SCOPE_RBD = "rbd"  # every pool (e.g. listing the mirrored pools failed)
SCOPE_CEPHFS = "cephfs"  # every file system


def pool_scope(pool: str) -> str:
    return f"pool:{pool}"


def fs_scope(fs: str) -> str:
    return f"fs:{fs}"


def scope_error(scope: str, message: str) -> str:
    """An entry for `SiteStatus.errors`: `"<scope>: <message>"`, scope as made by the helpers here."""
    return f"{scope}: {message}"


def failed_scopes(status: SiteStatus) -> set[str]:
    return {e.partition(": ")[0] for e in status.errors}


def _is_failed(scope: str, failed: set[str]) -> bool:
    if scope in failed:
        return True
    kind = scope.partition(":")[0]
    return (kind == "pool" and SCOPE_RBD in failed) or (kind == "fs" and SCOPE_CEPHFS in failed)


def _image_key(s: ImageStatus) -> tuple[str, str]:
    return (s.pool, s.image)


def _dir_key(s: DirStatus) -> tuple[str, str, str]:
    return (s.fs, s.path, s.peer_uuid or "")


def _daemon_key(s: DaemonStatus) -> tuple[str, str]:
    return (s.kind, s.id)


def _pool_key(s: PoolSummary) -> tuple[str]:
    return (s.pool,)


def _daemon_scope(s: DaemonStatus) -> str:
    return SCOPE_RBD_MIRROR if s.kind == "rbd-mirror" else SCOPE_CEPHFS_MIRROR


def _sched_scope(_: ScheduleStatus) -> str:
    return SCOPE_SCHEDULES


def _image_sig(s: ImageStatus) -> dict[str, Any]:
    return {
        "global_id": s.global_id,
        "state": s.state,
        "up": s.up,
        "role": s.role,
        "mode": s.mode,
        "split_brain": s.split_brain,
        # a snapshot-mode follower flips caught_up every schedule cycle (sync of the new snapshot):
        # normal operation, not news; in journal mode it is the failover-safety signal
        "caught_up": s.caught_up if s.mode == MirrorMode.JOURNAL else None,
        "healthy": s.healthy,
        "alerts": s.alerts,
        "peers": sorted(
            (p.site_name or "", p.mirror_uuid or "", p.state, p.up, p.split_brain) for p in s.peers
        ),
    }


def _dir_sig(s: DirStatus) -> dict[str, Any]:
    return {
        "state": s.state,
        "last_synced_snap": s.last_synced_snap,
        "failure_reason": s.failure_reason,
        "healthy": s.healthy,
        "alerts": s.alerts,
        "peer_site": s.peer_site,
    }


def _daemon_sig(s: DaemonStatus) -> dict[str, Any]:
    return {
        "up": s.up,
        "health": s.health,
        "leader_pools": s.leader_pools,
        "serves": s.serves,
        "details": s.details,
        "instance_id": s.instance_id,
    }


def _pool_sig(s: PoolSummary) -> dict[str, Any]:
    return {
        "mode": s.mode,
        "health": s.health,
        "daemon_health": s.daemon_health,
        "image_health": s.image_health,
        "states": s.states,
    }


def _sched_sig(s: ScheduleStatus) -> dict[str, Any]:
    return {"active": s.active, "retention": s.retention}


def _changed(sig: Callable[[T], dict[str, Any]], old: T, new: T) -> list[str]:
    a, b = sig(old), sig(new)
    return [k for k in b if a.get(k) != b[k]]


def _walk(
    prev: Sequence[T],
    cur: Sequence[T],
    key: Callable[[T], Key],
    sig: Callable[[T], dict[str, Any]],
    scope: Callable[[T], str],
    failed: set[str],
    unreachable: bool,
) -> list[tuple[Change, T | None, T | None, list[str]]]:
    before = {key(x): x for x in prev}
    after = {key(x): x for x in cur}
    out: list[tuple[Change, T | None, T | None, list[str]]] = []
    for k in sorted(before.keys() | after.keys()):
        old, new = before.get(k), after.get(k)
        if old is None and new is not None:
            out.append((Change.ADDED, None, new, []))
        elif new is None and old is not None:
            if not unreachable and not _is_failed(scope(old), failed):
                out.append((Change.REMOVED, old, None, []))
        elif old is not None and new is not None:
            fields = _changed(sig, old, new)
            if fields:
                out.append((Change.CHANGED, old, new, fields))
    return out


def _image_brief(s: ImageStatus) -> ImageBrief:
    return ImageBrief(
        state=s.state,
        up=s.up,
        role=s.role,
        mode=s.mode,
        split_brain=s.split_brain,
        caught_up=s.caught_up,
        healthy=s.healthy,
    )


def diff(prev: SiteStatus | None, cur: SiteStatus) -> list[Event]:
    """Events for what changed from `prev` to `cur`, in a stable order (pools, images, dirs,
    daemons, schedules; each sorted by key). `prev=None` reports everything as added."""
    empty = SiteStatus(site=cur.site, taken_at=cur.taken_at, cluster_reachable=True)
    p = prev or empty
    failed = failed_scopes(cur)
    down = not cur.cluster_reachable or SCOPE_CLUSTER in failed
    site, at = cur.site, cur.taken_at
    events: list[Event] = []

    for change, old_p, new_p, fields in _walk(
        p.pools, cur.pools, _pool_key, _pool_sig, lambda s: pool_scope(s.pool), failed, down
    ):
        ref = new_p or old_p
        assert ref is not None
        events.append(
            PoolEvent(
                site=site,
                at=at,
                change=change,
                fields=fields,
                pool=ref.pool,
                summary=new_p,
                previous=PoolBrief(
                    health=old_p.health,
                    daemon_health=old_p.daemon_health,
                    image_health=old_p.image_health,
                    mode=old_p.mode,
                )
                if old_p
                else None,
            )
        )
    for change, old_i, new_i, fields in _walk(
        p.images, cur.images, _image_key, _image_sig, lambda s: pool_scope(s.pool), failed, down
    ):
        ref_i = new_i or old_i
        assert ref_i is not None
        events.append(
            ImageEvent(
                site=site,
                at=at,
                change=change,
                fields=fields,
                pool=ref_i.pool,
                image=ref_i.image,
                status=new_i,
                previous=_image_brief(old_i) if old_i else None,
            )
        )
    for change, old_d, new_d, fields in _walk(
        p.dirs, cur.dirs, _dir_key, _dir_sig, lambda s: fs_scope(s.fs), failed, down
    ):
        ref_d = new_d or old_d
        assert ref_d is not None
        events.append(
            DirEvent(
                site=site,
                at=at,
                change=change,
                fields=fields,
                fs=ref_d.fs,
                path=ref_d.path,
                peer_uuid=ref_d.peer_uuid,
                status=new_d,
                previous=DirBrief(
                    state=old_d.state, last_synced_snap=old_d.last_synced_snap, healthy=old_d.healthy
                )
                if old_d
                else None,
            )
        )
    for change, old_m, new_m, fields in _walk(
        p.daemons, cur.daemons, _daemon_key, _daemon_sig, _daemon_scope, failed, down
    ):
        ref_m = new_m or old_m
        assert ref_m is not None
        events.append(
            DaemonEvent(
                site=site,
                at=at,
                change=change,
                fields=fields,
                kind=ref_m.kind,
                id=ref_m.id,
                status=new_m,
                previous=DaemonBrief(up=old_m.up, health=old_m.health, leader_pools=old_m.leader_pools)
                if old_m
                else None,
            )
        )
    for change, old_s, new_s, fields in _walk(
        p.schedules, cur.schedules, schedule_key, _sched_sig, _sched_scope, failed, down
    ):
        ref_s = new_s or old_s
        assert ref_s is not None
        events.append(
            ScheduleEvent(
                site=site,
                at=at,
                change=change,
                fields=fields,
                kind=ref_s.kind,
                target=ref_s.target,
                interval=ref_s.interval,
                schedule=new_s,
                previous=old_s,
            )
        )
    return events


def carry_forward(prev: SiteStatus | None, cur: SiteStatus) -> SiteStatus:
    """`cur` with the previous entries of every scope whose scan failed (they are stale, not gone).
    With the cluster unreachable, every previous entry is kept."""
    if prev is None:
        return cur
    failed = failed_scopes(cur)
    everything = not cur.cluster_reachable or SCOPE_CLUSTER in failed
    if not failed and not everything:
        return cur

    def keep(
        old: Sequence[T], new: Sequence[T], key: Callable[[T], Key], scope: Callable[[T], str]
    ) -> list[T]:
        have = {key(x) for x in new}
        kept = [x for x in old if (everything or _is_failed(scope(x), failed)) and key(x) not in have]
        return sorted([*new, *kept], key=key)

    return msgspec.structs.replace(
        cur,
        pools=keep(prev.pools, cur.pools, _pool_key, lambda s: pool_scope(s.pool)),
        images=keep(prev.images, cur.images, _image_key, lambda s: pool_scope(s.pool)),
        dirs=keep(prev.dirs, cur.dirs, _dir_key, lambda s: fs_scope(s.fs)),
        daemons=keep(prev.daemons, cur.daemons, _daemon_key, _daemon_scope),
        schedules=keep(prev.schedules, cur.schedules, schedule_key, _sched_scope),
    )


def counts(status: SiteStatus) -> StatusCounts:
    """Summary counts for a heartbeat. `max_rpo_lag_s` is over images and dirs with a known lag."""
    image_states: dict[str, int] = {}
    roles: dict[str, int] = {}
    dir_states: dict[str, int] = {}
    for img in status.images:
        image_states[img.state.value] = image_states.get(img.state.value, 0) + 1
        roles[img.role.value] = roles.get(img.role.value, 0) + 1
    for d in status.dirs:
        dir_states[d.state.value] = dir_states.get(d.state.value, 0) + 1
    lags = [i.rpo_lag_s for i in status.images if i.rpo_lag_s is not None]
    lags += [d.rpo_lag_s for d in status.dirs if d.rpo_lag_s is not None]
    return StatusCounts(
        images_total=len(status.images),
        dirs_total=len(status.dirs),
        image_states=dict(sorted(image_states.items())),
        image_roles=dict(sorted(roles.items())),
        dir_states=dict(sorted(dir_states.items())),
        images_down=sum(1 for i in status.images if not i.up),
        images_split_brain=sum(1 for i in status.images if i.split_brain),
        images_unhealthy=sum(1 for i in status.images if not i.healthy),
        dirs_unhealthy=sum(1 for d in status.dirs if not d.healthy),
        daemons_down=sum(1 for d in status.daemons if not d.up),
        max_rpo_lag_s=max(lags) if lags else None,
    )
