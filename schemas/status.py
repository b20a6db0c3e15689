"""Typed mirroring status of one site, the heartbeat, and the change events.

The agent's scanner fills these from Ceph (see `agent.status.normalize`), keeps the latest
`SiteStatus` in KV `cephdr_state`, publishes a `Heartbeat` every few seconds on
`cephdr.evt.<site>.heartbeat` and one event per meaningful change on
`cephdr.evt.<site>.<EVENT_SUBJECTS[type]>`.

Times are unix seconds (float, UTC). Lags are seconds. A value Ceph does not tell is `None`,
never a made-up zero.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.ids import Dir, Fs, Image, Pool, Site

UnixTime = Annotated[float, Meta(description="unix time in seconds (UTC)")]
Seconds = Annotated[float, Meta(ge=0, description="a duration in seconds")]


class ImageState(enum.StrEnum):
    """librbd `rbd_mirror_image_status_state_t`, in its numeric order (0..6)."""

    UNKNOWN = "unknown"
    ERROR = "error"
    SYNCING = "syncing"
    STARTING_REPLAY = "starting_replay"
    REPLAYING = "replaying"
    STOPPING_REPLAY = "stopping_replay"
    STOPPED = "stopped"


class MirrorMode(enum.StrEnum):
    """How an image is mirrored (`RBD_MIRROR_IMAGE_MODE_JOURNAL`=0, `_SNAPSHOT`=1)."""

    JOURNAL = "journal"
    SNAPSHOT = "snapshot"


class Role(enum.StrEnum):
    """Whether this site holds the image as primary."""

    PRIMARY = "primary"
    NON_PRIMARY = "non_primary"
    UNKNOWN = "unknown"


class Health(enum.StrEnum):
    """Ceph's mirror health levels, in increasing severity (as `rbd mirror pool status`)."""

    OK = "OK"
    UNKNOWN = "UNKNOWN"
    WARNING = "WARNING"
    ERROR = "ERROR"


class DirState(enum.StrEnum):
    """cephfs-mirror's per-directory peer state; `unknown` when the daemon does not report the dir."""

    IDLE = "idle"
    SYNCING = "syncing"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Change(enum.StrEnum):
    """What happened to the thing an event is about."""

    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


class JournalPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A journal replay position; equal positions (tag included) mean caught up."""

    entry_tid: int
    object_number: int
    tag_tid: int


class ReplayProgress(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The JSON of a `replaying, {...}` description (journal or snapshot keys), normalised.

    `caught_up`: journal: `entries_behind_primary` 0 AND equal primary / non-primary positions,
    `tag_tid` included (entries_behind alone lies across a tag change); snapshot: `replay_state`
    idle and equal local / remote snapshot timestamps. `None` when the description can't tell.
    """

    mode: MirrorMode
    caught_up: bool | None = None
    bytes_per_second: float | None = None
    # journal
    entries_behind_primary: int | None = None
    entries_per_second: float | None = None
    primary_position: JournalPosition | None = None
    non_primary_position: JournalPosition | None = None
    # snapshot
    replay_state: Literal["idle", "syncing"] | None = None
    local_snapshot_timestamp: UnixTime | None = None
    remote_snapshot_timestamp: UnixTime | None = None
    syncing_snapshot_timestamp: UnixTime | None = None
    syncing_percent: float | None = None
    seconds_until_synced: Seconds | None = None
    bytes_per_snapshot: float | None = None
    last_snapshot_bytes: int | None = None
    last_snapshot_sync_seconds: Seconds | None = None


class PeerSiteStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The image's status as the peer site's rbd-mirror reported it (`peer_sites` / `remote_statuses`)."""

    site_name: str | None = None
    mirror_uuid: str | None = None
    state: ImageState
    up: bool
    description: str = ""
    last_update: UnixTime | None = None
    progress: ReplayProgress | None = None
    split_brain: bool = False


class ImageStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One mirrored RBD image as seen from this site.

    `role` says whether this site holds it as primary. `caught_up` answers "is the follower
    caught up": the local replay on a non-primary, every reporting peer's replay on a primary.
    `rpo_lag_s` answers "how much would I lose": seconds since the newest point in time the
    non-primary side is known to hold (see `agent.status.normalize` for the exact rule).
    """

    pool: Pool
    image: Image
    global_id: str = ""
    mode: MirrorMode | None = None
    role: Role
    state: ImageState
    up: bool
    healthy: bool
    description: str = ""
    progress: ReplayProgress | None = None
    split_brain: bool = False
    caught_up: bool | None = None
    last_synced_snapshot_at: UnixTime | None = None
    last_caught_up_at: UnixTime | None = None
    rpo_lag_s: Seconds | None = None
    last_update: UnixTime | None = None
    daemon_id: str | None = None
    peers: list[PeerSiteStatus] = msgspec.field(default_factory=list)
    alerts: list[str] = msgspec.field(default_factory=list)


class PoolSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A pool's mirroring summary, with Ceph's own health rules (`rbd mirror pool status`)."""

    pool: Pool
    mode: Literal["disabled", "image", "pool"] | None = None
    health: Health
    daemon_health: Health
    image_health: Health
    images_total: int
    states: dict[str, int] = msgspec.field(default_factory=dict)


class DaemonStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An rbd-mirror or cephfs-mirror daemon of this site, from the mgr."""

    kind: Literal["rbd-mirror", "cephfs-mirror"]
    id: str
    instance_id: str | None = None
    hostname: str | None = None
    version: str | None = None
    up: bool
    health: Health
    leader_pools: list[str] = msgspec.field(default_factory=list)
    serves: Annotated[
        list[str], Meta(description="pools (rbd-mirror) or file systems (cephfs-mirror) it reports for")
    ] = msgspec.field(default_factory=list)
    details: list[str] = msgspec.field(default_factory=list)


class SnapRef(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A CephFS snapshot by name and (source) snap id."""

    name: str
    id: int | None = None


class DirStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One mirrored CephFS directory toward one peer (cephfs-mirror `fs mirror peer status`).

    `rpo_lag_s` = now - creation time of `last_synced_snap` (None when that time is unknown).
    The daemon's `sync_time_stamp` is its uptime clock, not wall-clock, so it is not used.
    """

    fs: Fs
    path: Dir
    peer_uuid: str | None = None
    peer_site: str | None = None
    state: DirState
    healthy: bool
    last_synced_snap: SnapRef | None = None
    syncing_snap: SnapRef | None = None
    last_sync_duration_s: Seconds | None = None
    snaps_synced: int = 0
    snaps_deleted: int = 0
    snaps_renamed: int = 0
    failure_reason: str | None = None
    last_synced_snapshot_at: UnixTime | None = None
    rpo_lag_s: Seconds | None = None
    alerts: list[str] = msgspec.field(default_factory=list)


class ScheduleStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A snapshot schedule: an rbd mirror-snapshot schedule or a CephFS snap-schedule.

    rbd: `target` is the level spec (`""` global, `pool/`, `pool/ns/`, `pool/ns/image`), with
    `interval` and `start_time`. fs: `target` is the path in `fs`, with `interval` (the
    snap-schedule repeat spec, e.g. `1h`; Pacific's `M` means minutes), `retention`, `active`.
    """

    kind: Literal["rbd", "fs"]
    target: str
    interval: str
    start_time: str | None = None
    fs: str | None = None
    retention: dict[str, int] = msgspec.field(default_factory=dict)
    active: bool = True
    last_snapshot_at: UnixTime | None = None
    created_count: int | None = None
    pruned_count: int | None = None


class SiteStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Everything one scan of a site found: the value kept in KV `cephdr_state` and returned by a
    status request. `errors` names the parts of the scan that failed, each `"<scope>: <message>"`
    with scope `cluster`, `rbd` (all pools), `pool:<name>`, `cephfs` (all file systems), `fs:<name>`,
    `rbd-mirror`, `cephfs-mirror` or `schedules` (`agent.status.diff.scope_error`); entries of a
    failed scope are the previous scan's, kept as they were (`agent.status.diff.carry_forward`)."""

    site: Site
    taken_at: UnixTime
    cluster_reachable: bool
    peer_reachable: dict[str, bool | None] = msgspec.field(default_factory=dict)
    pools: list[PoolSummary] = msgspec.field(default_factory=list)
    images: list[ImageStatus] = msgspec.field(default_factory=list)
    dirs: list[DirStatus] = msgspec.field(default_factory=list)
    daemons: list[DaemonStatus] = msgspec.field(default_factory=list)
    schedules: list[ScheduleStatus] = msgspec.field(default_factory=list)
    errors: list[str] = msgspec.field(default_factory=list)


class StatusCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Summary counts of a `SiteStatus` (what a heartbeat carries)."""

    images_total: int = 0
    dirs_total: int = 0
    image_states: dict[str, int] = msgspec.field(default_factory=dict)
    image_roles: dict[str, int] = msgspec.field(default_factory=dict)
    dir_states: dict[str, int] = msgspec.field(default_factory=dict)
    images_down: int = 0
    images_split_brain: int = 0
    images_unhealthy: int = 0
    dirs_unhealthy: int = 0
    daemons_down: int = 0
    max_rpo_lag_s: Seconds | None = None


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="cephdr.heartbeat.v1"):
    """Published by an agent every few seconds on `cephdr.evt.<site>.heartbeat`."""

    site: Site
    version: str
    public_key: Annotated[str, Meta(description="the agent's X25519 public key, base64")]
    seq: Annotated[int, Meta(ge=0, description="increases by one per heartbeat; restarts at 0")]
    sent_at: UnixTime
    cluster_reachable: bool
    peer_reachable: dict[str, bool | None] = msgspec.field(default_factory=dict)
    counts: StatusCounts = msgspec.field(default_factory=StatusCounts)
    scan_age_s: Seconds | None = None
    scan_errors: list[str] = msgspec.field(default_factory=list)
    fenced_groups: list[str] = msgspec.field(default_factory=list)
    epochs: dict[str, int] = msgspec.field(default_factory=dict)


# -- events ------------------------------------------------------------------------------------


class ImageBrief(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a subscriber needs of the previous image status to act on a change."""

    state: ImageState
    up: bool
    role: Role
    mode: MirrorMode | None = None
    split_brain: bool = False
    caught_up: bool | None = None
    healthy: bool


class DirBrief(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The previous state of a mirrored directory."""

    state: DirState
    last_synced_snap: SnapRef | None = None
    healthy: bool


class DaemonBrief(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The previous state of a mirror daemon."""

    up: bool
    health: Health
    leader_pools: list[str] = msgspec.field(default_factory=list)


class PoolBrief(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The previous state of a pool summary."""

    health: Health
    daemon_health: Health
    image_health: Health
    mode: str | None = None


class _Event(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    site: Site
    at: UnixTime
    change: Change
    fields: list[str] = msgspec.field(default_factory=list)


class ImageEvent(_Event, frozen=True, kw_only=True, omit_defaults=True, tag="cephdr.rbd.image.v1"):
    """An image appeared, changed meaningfully (state, up, role, split-brain, caught-up, mode,
    health or a peer's state), or disappeared. `fields` names what changed."""

    pool: Pool
    image: Image
    status: ImageStatus | None = None
    previous: ImageBrief | None = None


class DirEvent(_Event, frozen=True, kw_only=True, omit_defaults=True, tag="cephdr.fs.dir.v1"):
    """A mirrored directory appeared, changed state or last synced snapshot, or disappeared."""

    fs: Fs
    path: Dir
    peer_uuid: str | None = None
    status: DirStatus | None = None
    previous: DirBrief | None = None


class DaemonEvent(_Event, frozen=True, kw_only=True, omit_defaults=True, tag="cephdr.daemon.v1"):
    """A mirror daemon appeared, went up/down, changed health or leadership, or disappeared
    (removed from the mgr's service map: it stopped beaconing)."""

    kind: Literal["rbd-mirror", "cephfs-mirror"]
    id: str
    status: DaemonStatus | None = None
    previous: DaemonBrief | None = None


class PoolEvent(_Event, frozen=True, kw_only=True, omit_defaults=True, tag="cephdr.rbd.pool.v1"):
    """A pool's mirroring summary changed (mode, health, per-state counts) or it appeared/vanished."""

    pool: Pool
    summary: PoolSummary | None = None
    previous: PoolBrief | None = None


class ScheduleEvent(_Event, frozen=True, kw_only=True, omit_defaults=True, tag="cephdr.schedule.v1"):
    """A snapshot schedule was added, removed, (de)activated or its retention changed."""

    kind: Literal["rbd", "fs"]
    target: str
    interval: str
    schedule: ScheduleStatus | None = None
    previous: ScheduleStatus | None = None


Event = ImageEvent | DirEvent | DaemonEvent | PoolEvent | ScheduleEvent
"""Every change event; decode with `msgspec.json.decode(data, type=Event)`."""

EVENT_SUBJECTS: dict[str, str] = {
    "cephdr.rbd.image.v1": "rbd.image",
    "cephdr.rbd.pool.v1": "rbd.pool",
    "cephdr.fs.dir.v1": "fs.dir",
    "cephdr.daemon.v1": "daemon",
    "cephdr.schedule.v1": "schedule",
}
"""Event type tag -> subject suffix; the subject is `<prefix>.evt.<site>.<suffix>`."""

HEARTBEAT_SUBJECT_SUFFIX = "heartbeat"


def event_type(event: Event | Heartbeat) -> str:
    """The `type` tag a message carries on the wire."""
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def event_subject(event: Event | Heartbeat, prefix: str = "cephdr") -> str:
    """The subject to publish `event` on: `<prefix>.evt.<site>.<suffix>`."""
    suffix = HEARTBEAT_SUBJECT_SUFFIX if isinstance(event, Heartbeat) else EVENT_SUBJECTS[event_type(event)]
    return f"{prefix}.evt.{event.site}.{suffix}"
