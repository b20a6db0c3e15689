"""P4's simulated fleet (pure): the messages real agents publish, built by the agents' own code.

Sites come in pairs (`site-000` primary for `site-001`, ...). Each image's raw status is shaped
like librbd's `mirror_image_status_list` entry (Pacific binding), and the agent's own normaliser
(`agent.status.rbd.image_status`) and counter (`agent.status.diff.counts`) turn it into the
`ImageStatus` / `SiteStatus` / `Heartbeat` an agent would publish. The two sides of a pair differ
in roles only, so one primary-side and one replica-side image list serve every pair.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import msgspec

from agent.status.diff import counts
from agent.status.rbd import image_status
from schemas.group import GroupRecord, GroupSpec, RbdMember, Schedule
from schemas.ids import GroupName, ImageName, PoolName, SiteName
from schemas.status import Heartbeat, ImageStatus, SiteStatus

REPLAYING, STOPPED = 4, 6
PEER = "site-peer"
IMAGES_PER_GROUP = 1000  # GroupSpec's limit per member: a pair's images go in groups of this size


@dataclass(frozen=True)
class Fleet:
    sites: int
    images_per_site: int

    def __post_init__(self) -> None:
        if self.sites < 2 or self.sites % 2:
            raise ValueError("sites must be an even number >= 2 (they come in pairs)")
        if self.images_per_site < 1:
            raise ValueError("images_per_site must be >= 1")

    @property
    def pairs(self) -> int:
        return self.sites // 2

    def site(self, i: int) -> str:
        return f"site-{i:03d}"

    def pools(self) -> list[tuple[str, list[str]]]:
        """(pool, images) chunks of at most IMAGES_PER_GROUP, covering images_per_site."""
        out, n, k = [], self.images_per_site, 0
        while n > 0:
            take = min(n, IMAGES_PER_GROUP)
            out.append((f"pool-{k:02d}", [f"img-{j:05d}" for j in range(take)]))
            n -= take
            k += 1
        return out


def _progress(ts: int) -> str:
    return "replaying, " + json.dumps({
        "bytes_per_second": 0.0, "bytes_per_snapshot": 1048576.0, "last_snapshot_bytes": 1048576,
        "last_snapshot_sync_seconds": 0, "local_snapshot_timestamp": ts, "remote_snapshot_timestamp": ts,
        "replay_state": "idle"}, sort_keys=True, separators=(",", ":"))


def raw_entry(name: str, gid: str, *, primary: bool, peer_uuid: str, ts: int) -> dict[str, object]:
    """One librbd status-list entry: the primary side `up+stopped`, the follower `up+replaying`
    and caught up to the primary's latest snapshot (time `ts`)."""
    when = dt.datetime.fromtimestamp(ts, dt.UTC).replace(tzinfo=None)
    local = ({"state": STOPPED, "description": "local image is primary"} if primary
             else {"state": REPLAYING, "description": _progress(ts)})
    remote = ({"state": REPLAYING, "description": _progress(ts)} if primary
              else {"state": STOPPED, "description": "local image is primary"})
    return {
        "name": name, "id": gid[:12], "info": {"global_id": gid, "state": 1},
        **local, "up": True, "last_update": when,
        "daemon_service": {"service_id": "4164", "instance_id": "4190", "daemon_id": "a", "hostname": "h"},
        "remote_statuses": [{**remote, "up": True, "last_update": when, "mirror_uuid": peer_uuid}],
    }


def image_list(fleet: Fleet, *, primary: bool, peer_site: str, now: float) -> list[ImageStatus]:
    """Every image of one site of a pair, through the agent's normaliser."""
    peer_uuid = str(uuid.UUID(int=1))
    ts = int(now) - 30
    out = []
    for pool, names in fleet.pools():
        for n in names:
            gid = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{pool}/{n}"))
            raw = raw_entry(n, gid, primary=primary, peer_uuid=peer_uuid, ts=ts)
            out.append(image_status(raw, pool=pool, mode="snapshot", primary=primary, now=now,
                                    peer_names={peer_uuid: peer_site}))
    return out


def site_status(site: str, images: list[ImageStatus], now: float) -> SiteStatus:
    return SiteStatus(site=SiteName(site), taken_at=now, cluster_reachable=True, images=images)


def heartbeat(st: SiteStatus, *, seq: int, now: float, peer: str) -> Heartbeat:
    return Heartbeat(site=st.site, version="0.1.0-sim", public_key="A" * 43 + "=", seq=seq, sent_at=now,
                     cluster_reachable=True, peer_reachable={peer: True}, counts=counts(st), scan_age_s=1.0)


def groups(fleet: Fleet, now: float) -> list[GroupRecord]:
    """One group per (pair, pool): primary the pair's first site, two-way."""
    out = []
    for p in range(fleet.pairs):
        a, b = SiteName(fleet.site(2 * p)), SiteName(fleet.site(2 * p + 1))
        for pool, names in fleet.pools():
            member = RbdMember(pool=PoolName(pool), images=[ImageName(n) for n in names])
            spec = GroupSpec(name=GroupName(f"g{p:03d}-{pool}"), sites=[a, b], primary=a, rbd=[member],
                             schedule=Schedule(interval="15m"))
            out.append(GroupRecord(spec=spec, primary=a, epoch=1, created_at=now, updated_at=now))
    return out


@dataclass(frozen=True)
class Encoded:
    """What the simulated agents publish: per site, the status (KV value) and a heartbeat."""

    statuses: dict[str, bytes]
    heartbeats: dict[str, bytes]


def encode_fleet(fleet: Fleet, now: float) -> Encoded:
    """Every site's status and heartbeat, encoded. The image lists are built twice (a primary and
    a replica side) and shared: a peer is named `site-peer` in every list (same length as a real
    site name, so the sizes are right; the controller's view does not read peers' names)."""
    prim = image_list(fleet, primary=True, peer_site=PEER, now=now)
    repl = image_list(fleet, primary=False, peer_site=PEER, now=now)
    statuses, beats = {}, {}
    enc = msgspec.json.Encoder()
    for i in range(fleet.sites):
        site, peer = fleet.site(i), fleet.site(i ^ 1)
        st = site_status(site, prim if i % 2 == 0 else repl, now)
        statuses[site] = enc.encode(st)
        beats[site] = enc.encode(heartbeat(st, seq=1, now=now, peer=peer))
    return Encoded(statuses=statuses, heartbeats=beats)
