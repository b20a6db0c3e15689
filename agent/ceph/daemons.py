"""Health of this site's rbd-mirror and cephfs-mirror daemons.

Sources, all read-only:
- mgr `service dump` (who is registered: id, host, version) and `service status` (last beacon,
  the daemon's own status JSON: rbd-mirror callouts per pool, cephfs-mirror per-fs peers/stats).
  A daemon is `up` while its beacon is fresh; the mgr drops it after `mgr_service_beacon_grace`.
- the local daemons' admin sockets (paths from agent config): rbd-mirror `rbd mirror status`,
  cephfs-mirror `fs mirror status <fs>@<fscid>` and `fs mirror peer status <fs>@<fscid> <uuid>`
  (commands registered with their arguments in the prefix, see agent.ceph.asok).
A missing or dead socket marks that daemon down with the reason; it never fails the whole request.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import msgspec

from agent.ceph import fs_mirror
from agent.ceph.asok import AdminSocket
from agent.ceph.cluster import CephCluster
from agent.status.fs import dir_statuses
from schemas.errors import CephDRError
from schemas.status import DaemonStatus, DirStatus, Health

BEACON_STALE_S = 30.0  # daemons beacon every few seconds; the mgr's own grace is 60 s
ASOK_DEADLINE = 5.0
KINDS = ("rbd-mirror", "cephfs-mirror")


class _Daemon(msgspec.Struct, kw_only=True):
    kind: str
    id: str
    gid: str
    hostname: str | None = None
    version: str | None = None
    beacon_age: float | None = None
    status: dict[str, Any] = msgspec.field(default_factory=dict)


def _ts(text: object) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None


async def registered(cluster: CephCluster, now: float) -> list[_Daemon]:
    """The mirror daemons in the service map, with beacon age and their status JSON."""
    dump = await cluster.mgr_json({"prefix": "service dump"}, what="service dump") or {}
    stat = await cluster.mgr_json({"prefix": "service status"}, what="service status") or {}
    out: list[_Daemon] = []
    for kind in KINDS:
        daemons = dump.get("services", {}).get(kind, {}).get("daemons", {})
        for gid, d in sorted(daemons.items()):
            if not isinstance(d, dict):  # "summary": ""
                continue
            md = d.get("metadata", {})
            st = stat.get(kind, {}).get(gid, {})
            beacon = _ts(st.get("last_beacon"))
            raw = st.get("status", {})
            text = raw.get("json") or raw.get("status_json") or "{}"
            try:
                status = json.loads(text)
            except ValueError:
                status = {}
            out.append(
                _Daemon(
                    kind=kind,
                    id=str(md.get("id") or gid),
                    gid=str(gid),
                    hostname=md.get("hostname"),
                    version=md.get("ceph_version_short"),
                    beacon_age=None if beacon is None else max(0.0, now - beacon),
                    status=status if isinstance(status, dict) else {},
                )
            )
    return out


def _worst(*levels: Health) -> Health:
    order = [Health.OK, Health.UNKNOWN, Health.WARNING, Health.ERROR]
    return max(levels, key=order.index, default=Health.OK)


def _from_map(d: _Daemon) -> tuple[bool, Health, list[str], list[str], list[str]]:
    """(up, health, reasons, serves, leader_pools) from the service map alone."""
    reasons: list[str] = []
    if d.beacon_age is None:
        up, health = False, Health.UNKNOWN
        reasons.append("no beacon in the service map")
    elif d.beacon_age > BEACON_STALE_S:
        up, health = False, Health.ERROR
        reasons.append(f"no beacon for {d.beacon_age:.0f}s")
    else:
        up, health = True, Health.OK
    serves: list[str] = []
    leader: list[str] = []
    for entry in d.status.values():
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name", ""))
        serves.append(name)
        if entry.get("leader"):
            leader.append(name)
        for c in (entry.get("callouts") or {}).values():  # rbd-mirror health callouts
            level = str(c.get("level", "")).lower() if isinstance(c, dict) else ""
            text = c.get("text", "") if isinstance(c, dict) else str(c)
            health = _worst(health, Health.ERROR if level == "error" else Health.WARNING)
            reasons.append(f"{name}: {text}")
        for peer in (entry.get("peers") or {}).values():  # cephfs-mirror per-peer stats
            failures = int((peer.get("stats") or {}).get("failure_count", 0)) if isinstance(peer, dict) else 0
            if failures:
                health = _worst(health, Health.WARNING)
                reasons.append(f"{name}: {failures} directories failing")
    return up, health, reasons, sorted(serves), sorted(leader)


async def _asok_name(sock: AdminSocket) -> str | None:
    # `config get name` is refused (not an option); `config show` has it (~65 KB, fine locally)
    cfg = await sock.json("config show", deadline=ASOK_DEADLINE)
    return str(cfg.get("name")) if isinstance(cfg, dict) and cfg.get("name") else None


def _short_id(kind: str, name: str | None) -> str | None:
    prefix = f"client.{kind}."
    return name[len(prefix) :] if name and name.startswith(prefix) else None


async def daemon_statuses(
    cluster: CephCluster, *, asoks: dict[str, str], now: float | None = None
) -> tuple[list[DaemonStatus], list[DirStatus]]:
    """Every mirror daemon of this site, and the mirrored directories the local cephfs-mirror reports."""
    now = time.time() if now is None else now
    daemons = await registered(cluster, now)
    results: dict[tuple[str, str], DaemonStatus] = {}
    for d in daemons:
        up, health, reasons, serves, leader = _from_map(d)
        results[(d.kind, d.id)] = DaemonStatus(
            kind=d.kind,  # type: ignore[arg-type]
            id=d.id,
            instance_id=d.gid,
            hostname=d.hostname,
            version=d.version,
            up=up,
            health=health,
            leader_pools=leader if d.kind == "rbd-mirror" else [],
            serves=serves,
            details=reasons,
        )
    dirs: list[DirStatus] = []
    for kind in KINDS:
        path = asoks.get(kind)
        if not path:
            continue
        sock = AdminSocket(path, cluster.executor)
        local: str | None = None
        try:
            local = _short_id(kind, await _asok_name(sock))
            if kind == "rbd-mirror":
                extra, level = await _rbd_asok(sock)
            else:
                extra, level, dirs = await _cephfs_asok(cluster, sock, now)
        except CephDRError as err:
            _merge_down(results, kind, local, path, f"admin socket: {err.message}")
            continue
        key = (kind, local or path)
        cur = results.get(key)
        if cur is None:
            results[key] = DaemonStatus(
                kind=kind,  # type: ignore[arg-type]
                id=local or path,
                up=True,
                health=_worst(Health.WARNING, level),
                details=["answers on its admin socket but is not in the service map", *extra],
            )
        else:
            results[key] = msgspec.structs.replace(
                cur, health=_worst(cur.health, level), details=[*cur.details, *extra]
            )
    return sorted(results.values(), key=lambda s: (s.kind, s.id)), dirs


def _merge_down(
    results: dict[tuple[str, str], DaemonStatus], kind: str, local: str | None, path: str, why: str
) -> None:
    # a dead socket with a fresh beacon can only be a socket-path problem; keep both facts
    match = [k for k in results if k[0] == kind and (local is None or k[1] == local)]
    if local is None and len(match) != 1:
        match = []
    if not match:
        results[(kind, path)] = DaemonStatus(kind=kind, id=path, up=False, health=Health.ERROR, details=[why])  # type: ignore[arg-type]
        return
    cur = results[match[0]]
    results[match[0]] = msgspec.structs.replace(
        cur, up=False, health=Health.ERROR, details=[*cur.details, why]
    )


async def _rbd_asok(sock: AdminSocket) -> tuple[list[str], Health]:
    st = await sock.json("rbd mirror status", deadline=ASOK_DEADLINE) or {}
    details: list[str] = []
    level = Health.OK
    for pr in st.get("pool_replayers", []):
        state = pr.get("state")
        if state not in (None, "running"):
            level = _worst(level, Health.WARNING)
            details.append(f"pool {pr.get('pool')}: replayer {state}")
    return details, level


async def _cephfs_asok(
    cluster: CephCluster, sock: AdminSocket, now: float
) -> tuple[list[str], Health, list[DirStatus]]:
    details: list[str] = []
    level = Health.OK
    dirs: list[DirStatus] = []
    for fs in await fs_mirror.fs_map(cluster):
        if not fs.mirroring or not fs.peers:
            continue
        spec = f"{fs.name}@{fs.fscid}"
        try:
            st = await sock.json(f"fs mirror status {spec}", deadline=ASOK_DEADLINE) or {}
        except CephDRError as err:
            # the daemon registers the command only once it mirrors this file system
            level = _worst(level, Health.WARNING)
            details.append(f"{fs.name}: not mirrored by this daemon ({err.message})")
            continue
        if st.get("state") in ("failed", "blocklisted"):
            level = _worst(level, Health.ERROR)
            details.append(f"{fs.name}: mirror instance {st['state']}")
            continue
        paths = await fs_mirror.dir_paths(cluster, fs)
        for uuid, peer in sorted(fs.peers.items()):
            ps = await sock.json(f"fs mirror peer status {spec} {uuid}", deadline=ASOK_DEADLINE) or {}
            site = (peer.get("remote") or {}).get("cluster_name")
            found = dir_statuses(fs.name, ps, peer_uuid=uuid, peer_site=site, paths=paths, now=now)
            for d in found:
                if d.state.value == "failed":
                    level = _worst(level, Health.WARNING)
                    details.append(
                        f"{fs.name}:{d.path} failed" + (f": {d.failure_reason}" if d.failure_reason else "")
                    )
            dirs.extend(found)
    return details, level, dirs
