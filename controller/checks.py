"""What the failover steps check and wait for, as pure functions over the agents' status (pure).

Each returns the problems found (empty: the condition holds), in words an operator can act on.
The runner gets a fresh `SiteStatus` from each agent and calls these; a waiting step polls until
the list is empty or its deadline passes, then fails with the last list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.status import DirState, DirStatus, ImageState, ImageStatus, Role, SiteStatus


def member_images(st: SiteStatus, rbd: Iterable[Mapping[str, Any]]) -> dict[str, ImageStatus | None]:
    """`pool/image` -> status on this site (None: not mirrored there). A whole-pool member (no
    images listed) means every mirrored image of the pool this site reports."""
    by_spec = {f"{i.pool}/{i.image}": i for i in st.images}
    out: dict[str, ImageStatus | None] = {}
    for m in rbd:
        pool, images = m["pool"], list(m.get("images") or [])
        if images:
            for img in images:
                out[f"{pool}/{img}"] = by_spec.get(f"{pool}/{img}")
        else:
            for spec, i in by_spec.items():
                if i.pool == pool:
                    out[spec] = i
    return out


def _union(a: SiteStatus, b: SiteStatus | None, rbd: list[Mapping[str, Any]]) -> list[str]:
    names = set(member_images(a, rbd))
    if b is not None:
        names |= set(member_images(b, rbd))
    return sorted(names)


def dir_status(st: SiteStatus, fs: str, path: str) -> DirStatus | None:
    return next((d for d in st.dirs if d.fs == fs and d.path == path), None)


def check_failover(
    src: SiteStatus, dst: SiteStatus, rbd: list[Mapping[str, Any]], fs: list[Mapping[str, Any]]
) -> list[str]:
    """Before a planned failover src -> dst: src primary for every member, dst a replaying
    non-primary copy, no split-brain, and every directory mirrored from src to dst."""
    problems: list[str] = []
    on_src, on_dst = member_images(src, rbd), member_images(dst, rbd)
    for m in rbd:
        if not m.get("images") and not any(k.startswith(f"{m['pool']}/") for k in on_src):
            problems.append(f"pool {m['pool']}: {src.site} reports no mirrored image")
    for name in _union(src, dst, rbd):
        a, b = on_src.get(name), on_dst.get(name)
        if a is None:
            problems.append(f"{name}: not mirrored on {src.site}")
            continue
        if b is None:
            problems.append(f"{name}: no copy on {dst.site}")
            continue
        if a.role != Role.PRIMARY:
            problems.append(f"{name}: not primary on {src.site} ({a.role})")
        if b.role == Role.PRIMARY:
            problems.append(
                f"{name}: primary on {dst.site} too (two primaries: resolve the split-brain first)"
            )
        if a.split_brain or b.split_brain:
            problems.append(f"{name}: split-brain")
        # a copy not replaying *yet* (a daemon picking up a new pool) is the next step's to wait for
    for m in fs:
        for path in m["dirs"]:
            d = dir_status(src, m["fs"], path)
            if d is None:
                problems.append(f"{m['fs']}:{path}: not mirrored from {src.site}")
            elif d.peer_site and d.peer_site != dst.site:
                problems.append(f"{m['fs']}:{path}: {src.site} mirrors it to {d.peer_site}, not {dst.site}")
            elif d.state == DirState.FAILED:
                problems.append(
                    f"{m['fs']}:{path}: mirroring failed on {src.site} ({d.failure_reason or 'failed'})"
                )
    return problems


def check_unplanned(dst: SiteStatus, rbd: list[Mapping[str, Any]], fs: list[Mapping[str, Any]]) -> list[str]:
    """Before a forced failover to dst: dst holds a copy of every member (a missing copy cannot be
    promoted); its cluster answers."""
    problems = [] if dst.cluster_reachable else [f"{dst.site}: its cluster is unreachable"]
    images = member_images(dst, rbd)
    for m in rbd:
        if not m.get("images") and not any(k.startswith(f"{m['pool']}/") for k in images):
            problems.append(f"pool {m['pool']}: {dst.site} reports no mirrored image")
    problems += [f"{name}: no copy on {dst.site}" for name, i in sorted(images.items()) if i is None]
    return problems


def not_caught_up(dst: SiteStatus, rbd: list[Mapping[str, Any]]) -> list[str]:
    """dst replays every member and reports it caught up (journal: equal positions, tag included;
    snapshot: the last remote snapshot is synced)."""
    out = []
    for name, i in sorted(member_images(dst, rbd).items()):
        if i is None:
            out.append(f"{name}: no copy on {dst.site}")
        elif i.role == Role.PRIMARY:
            out.append(f"{name}: primary on {dst.site}")
        elif not (i.up and i.state == ImageState.REPLAYING and i.caught_up):
            out.append(f"{name}: {'up' if i.up else 'down'}+{i.state}, caught_up={i.caught_up}")
    return out


def wrong_roles(primary: SiteStatus, other: SiteStatus | None, rbd: list[Mapping[str, Any]]) -> list[str]:
    """Every member primary on `primary` and (when it answered) non-primary on `other`."""
    out = []
    for name, i in sorted(member_images(primary, rbd).items()):
        if i is None or i.role != Role.PRIMARY:
            out.append(f"{name}: not primary on {primary.site}")
    if other is not None:
        for name, i in sorted(member_images(other, rbd).items()):
            if i is not None and i.role == Role.PRIMARY:
                out.append(f"{name}: still primary on {other.site}")
    return out


def primary_members(st: SiteStatus, rbd: list[Mapping[str, Any]]) -> list[str]:
    return sorted(n for n, i in member_images(st, rbd).items() if i is not None and i.role == Role.PRIMARY)


def needs_resync(st: SiteStatus, rbd: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Non-primary copies of a fenced old primary that are not replaying: resynced from the new
    primary. Right after the fence's demote Ceph reports them stopped/unknown for 10-20 s before it
    latches split-brain (seen on the lab), so waiting for `split_brain` would skip them. Copies
    already syncing or replaying are left alone, so re-running the step after a crash is safe."""
    settled = (ImageState.REPLAYING, ImageState.SYNCING, ImageState.STARTING_REPLAY)
    out = []
    for _name, i in sorted(member_images(st, rbd).items()):
        if i is None or i.role == Role.PRIMARY:
            continue
        if i.split_brain or i.state not in settled:
            out.append((str(i.pool), str(i.image)))
    return out


def fs_not_synced(src: SiteStatus, fs: str, path: str, name: str | None) -> list[str]:
    """The sending side reports `name` synced (any snapshot synced and idle when `name` is None)."""
    d = dir_status(src, fs, path)
    if d is None:
        return [f"{fs}:{path}: {src.site} does not mirror it"]
    last = d.last_synced_snap.name if d.last_synced_snap else None
    if name is not None and last != name:
        return [f"{fs}:{path}: last synced snapshot is {last}, waiting for {name} ({d.state})"]
    if name is None and (last is None or d.state != DirState.IDLE):
        return [f"{fs}:{path}: {d.state}, last synced {last}"]
    return []
