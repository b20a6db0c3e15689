"""Requests and replies of the agent's CephFS commands (`cephdr.agent.<site>.fs.*`).

CephFS snapshot mirroring (mgr module `mirroring`) and snapshot schedules (mgr module
`snap_schedule`), as in Ceph Pacific 16.2.15. Nothing here ever carries a cephx key: a bootstrap
token leaves an agent only sealed for one recipient agent.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.common import Command, ConfirmableCommand, Reply, Request
from schemas.ids import Dir, DirPath, Fs, PeerId, PublicKey, SealedBlob, Site

ClientName = Annotated[
    str,
    Meta(
        pattern=r"^client\.[A-Za-z0-9_][A-Za-z0-9_.\-]{0,62}$",
        description="the cephx user the peer connects as (created on this site)",
    ),
]
UnixTime = Annotated[float, Meta(description="unix time in seconds (UTC)")]


# --- mirroring on/off -----------------------------------------------------------------------------


class EnableFsMirroring(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Enable snapshot mirroring on file system `fs` (needed on both sites). A repeat changes nothing."""

    fs: Fs


class DisableFsMirroring(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Disable snapshot mirroring on `fs`: every directory of it stops being mirrored.

    `confirm` must equal the file system name. Already disabled: changes nothing."""

    fs: Fs


# --- peers ------------------------------------------------------------------------------------------


class CreateFsBootstrap(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Create a CephFS peer bootstrap token on the RECEIVING site and seal it for the sending agent.

    Creates (or reuses) `client_name` with `fs authorize <fs> <client> / rwps`; the token holds its
    key, so only the agent owning `recipient_public_key` can open the returned blob. `site_name`
    (default: this agent's site) is the name the other side will know this cluster by."""

    fs: Fs
    recipient_public_key: PublicKey
    recipient_site: Site | None = None
    client_name: ClientName = "client.mirror_remote"
    site_name: Site | None = None


class SealedFsBootstrap(Reply, frozen=True, kw_only=True):
    """A sealed CephFS bootstrap token and what the importer needs to open it (no secret)."""

    fs: Fs
    sealed: str
    sender_site: str
    sender_public_key: str
    recipient_site: str | None = None
    fsid: str


class ImportFsBootstrap(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Open a sealed CephFS bootstrap token and add its cluster as the peer of `fs` (SENDING site).

    Pacific mirrors a file system pair in ONE direction: importing on a file system that is
    already the target of its peer fails with `conflict` until `fs.peer.remove` on the other site.
    Importing a peer that already exists changes nothing."""

    fs: Fs
    sealed: SealedBlob
    sender_public_key: PublicKey


class ListFsPeers(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The mirror peers of `fs` (never any key)."""

    fs: Fs


class FsPeer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One peer of a mirrored file system: where its directories are replicated to."""

    uuid: str
    site_name: str
    client_name: str
    fs_name: str
    mon_host: str | None = None


class FsPeers(Reply, frozen=True, kw_only=True):
    """`enabled` is false when mirroring is off for `fs` (then there are no peers)."""

    fs: Fs
    enabled: bool
    peers: list[FsPeer] = msgspec.field(default_factory=list)


class RemoveFsPeer(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Remove peer `peer` of `fs`: mirroring to it stops and its one-direction lock is cleared.

    `confirm` must equal the peer uuid. An unknown peer changes nothing."""

    fs: Fs
    peer: PeerId


# --- directories ------------------------------------------------------------------------------------


class AddFsDir(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Mirror directory `path` of `fs`. It need not exist yet (the daemon retries it).

    Already mirrored: changes nothing. A parent or child of a mirrored directory is refused."""

    fs: Fs
    path: Dir


class RemoveFsDir(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Stop mirroring directory `path` of `fs` (no data is deleted). Not mirrored: changes nothing."""

    fs: Fs
    path: Dir


class ListFsDirs(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The mirrored directories of `fs`, with the mgr's map of which daemon serves each."""

    fs: Fs


class FsDir(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A mirrored directory. `state` is the mgr's dirmap state: mapped | mapping | unmapping |
    shuffling | resolving | stalled (no mirror daemon running) | unknown."""

    path: str
    state: str
    instance_id: str | None = None
    reason: str | None = None


class FsDirs(Reply, frozen=True, kw_only=True):
    """`enabled` is false when mirroring is off for `fs`."""

    fs: Fs
    enabled: bool
    dirs: list[FsDir] = msgspec.field(default_factory=list)


# --- snapshot schedules (mgr snap_schedule, Pacific grammar) ----------------------------------------

# Pacific 16.2.15 snap_schedule (fs/schedule.py `Schedule.repeat`): M = minutes, h = hours,
# d = days, w = weeks; nothing else. Minutes also need mgr/snap_schedule/allow_m_granularity.
SCHEDULE_PATTERN = r"^[1-9][0-9]{0,5}[Mhdw]$"
# Retention (fs/schedule_client.py `get_prune_set`): n = last N snapshots, M = minutes, h, d, w,
# m = MONTHS, y = years. Any other letter is accepted by Ceph and then silently ignored.
RETENTION_LETTERS = "nMhdwmy"
_RETENTION_ITEM = re.compile(rf"([1-9][0-9]{{0,5}})([{RETENTION_LETTERS}])")
START_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"

_SCHEDULE_HELP = (
    'a number then one of M (minutes), h (hours), d (days), w (weeks), e.g. "1h", "15M"; '
    'in Ceph Pacific snap-schedule minutes are capital "M" (lowercase "m" is refused, unlike '
    'rbd mirror snapshot schedules where "m" is minutes) and months/years do not exist'
)
_RETENTION_HELP = (
    'count+letter items, e.g. "24h" or "24h7d": n (last N snapshots), M (minutes), h (hours), '
    "d (days), w (weeks), m (months), y (years); each letter at most once"
)


def check_schedule(spec: str) -> None:
    if not re.match(SCHEDULE_PATTERN, spec):
        raise ValueError(f"schedule {spec!r} is not valid: {_SCHEDULE_HELP}")


def parse_retention(spec: str, count: int | None) -> dict[str, int]:
    """`("h", 24)` or `("24h7d", None)` -> `{"h": 24, "d": 7}`; ValueError with the grammar."""
    if count is not None:
        if len(spec) != 1 or spec not in RETENTION_LETTERS:
            raise ValueError(f"with a count, retention must be one letter of {RETENTION_LETTERS!r}")
        return {spec: count}
    out: dict[str, int] = {}
    pos = 0
    for m in _RETENTION_ITEM.finditer(spec):
        if m.start() != pos or m.group(2) in out:
            break
        out[m.group(2)] = int(m.group(1))
        pos = m.end()
    if not out or pos != len(spec):
        raise ValueError(f"retention {spec!r} is not valid: {_RETENTION_HELP}")
    return out


def retention_spec(retention: dict[str, int]) -> str:
    return "".join(f"{n}{letter}" for letter, n in retention.items())


class AddFsSchedule(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Take a snapshot of `path` every `schedule`, from `start` (default: midnight UTC today).

    `schedule` (Ceph Pacific grammar): a number then M (MINUTES), h, d or w: "1h", "15M", "1d".
    Lowercase "m" is refused here (it is rbd's minute letter, not snap-schedule's). Minute
    schedules also need `mgr/snap_schedule/allow_m_granularity=true` on the cluster.
    `start` is UTC, `YYYY-MM-DDTHH:MM:SS`. The same schedule again changes nothing."""

    fs: Fs
    path: Dir
    schedule: Annotated[str, Meta(max_length=8, description="e.g. 1h, 15M (minutes), 1d, 1w")]
    start: Annotated[str, Meta(pattern=START_PATTERN, description="UTC YYYY-MM-DDTHH:MM:SS")] | None = None

    def __post_init__(self) -> None:
        check_schedule(self.schedule)


class RemoveFsSchedule(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Remove the schedules of `path` (only `schedule` / `start` ones when given). None: no change."""

    fs: Fs
    path: Dir
    schedule: Annotated[str, Meta(max_length=8)] | None = None
    start: Annotated[str, Meta(pattern=START_PATTERN)] | None = None

    def __post_init__(self) -> None:
        if self.schedule is not None:
            check_schedule(self.schedule)


class _Retention(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fs: Fs
    path: Dir
    spec: Annotated[str, Meta(min_length=1, max_length=64)]
    count: Annotated[int, Meta(ge=1, le=999_999)] | None = None

    def __post_init__(self) -> None:
        parse_retention(self.spec, self.count)

    @property
    def retention(self) -> dict[str, int]:
        return parse_retention(self.spec, self.count)


class AddFsRetention(_Retention, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Keep snapshots of `path` per `spec`: `"h"` with `count` 24, or `"24h"`, or `"24h7d"`.

    Letters (Pacific): n = last N, M = minutes, h, d, w, m = MONTHS, y = years. The schedule of
    `path` must exist. The same retention again changes nothing; a different count for a letter
    already set is a conflict (remove it first)."""


class RemoveFsRetention(_Retention, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Remove retention items of `path` (the counts must match what is set). Not set: no change."""


class FsScheduleStatus(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The snapshot schedules of exactly `path` in `fs`."""

    fs: Fs
    path: Dir = DirPath("/")


class FsSchedule(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One snap-schedule entry, as the mgr reports it; times are unix seconds (UTC)."""

    fs: str
    path: str
    schedule: str
    retention: dict[str, int] = msgspec.field(default_factory=dict)
    start: UnixTime | None = None
    created: UnixTime | None = None
    first: UnixTime | None = None
    last: UnixTime | None = None
    last_pruned: UnixTime | None = None
    created_count: int = 0
    pruned_count: int = 0
    active: bool = True
    subvol: str | None = None


class FsSchedules(Reply, frozen=True, kw_only=True):
    fs: Fs
    path: str
    schedules: list[FsSchedule] = msgspec.field(default_factory=list)


# --- snapshots, and preparing a directory to become a mirror target (failover) --------------------

SNAP_NAME_MAX = 100
# The JSON Schema pattern (ECMA regex); `check_snap_name` is the exact rule (also: UTF-8 <= 255 bytes).
SNAP_NAME_PATTERN = r"^[^/_.\x00-\x1f\x7f][^/\x00-\x1f\x7f]{0,99}$"
_SNAP_NAME_HELP = (
    "a snapshot name has no '/' and no control character, does not start with '_' (CephFS shows "
    "a parent directory's snapshots as _<name>_<inode>) or '.', and is at most 100 characters"
)
SnapName = Annotated[
    str,
    Meta(pattern=SNAP_NAME_PATTERN, min_length=1, max_length=SNAP_NAME_MAX, description=_SNAP_NAME_HELP),
]
SnapId = Annotated[int, Meta(ge=1, description="a CephFS snapshot id (per cluster)")]
ASIDE_INFIX = ".cephdr-"
ASIDE_SUFFIX_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"  # an op or request id fits
AsideSuffix = Annotated[
    str,
    Meta(
        pattern=ASIDE_SUFFIX_PATTERN,
        description="the renamed directory is <path>.cephdr-<suffix> (default: UTC time, 20260101T000000Z)",
    ),
]


def check_snap_name(name: str) -> None:
    """ValueError unless `name` is a snapshot name we let Ceph create (see `_SNAP_NAME_HELP`).

    Exact here because the wire pattern's `$` also matches before a trailing newline, and libcephfs
    `mksnap("a/b")` quietly creates a snapshot named "b" (seen on 16.2.15)."""
    bad = (
        not name
        or len(name) > SNAP_NAME_MAX
        or name[0] in "_."
        or any(c == "/" or ord(c) < 0x20 or ord(c) == 0x7F for c in name)
        or len(name.encode()) > 255
    )
    if bad:
        raise ValueError(f"snapshot name {name!r} is not valid: {_SNAP_NAME_HELP}")


def aside_path(path: str, suffix: str) -> str:
    """Where method `fresh` moves a directory: `<path>.cephdr-<suffix>` (ValueError if not valid)."""
    if not re.fullmatch(ASIDE_SUFFIX_PATTERN.strip("^$"), suffix):
        raise ValueError(f"aside_suffix {suffix!r} is not valid: 1 to 64 of A-Z a-z 0-9 . _ : -")
    out = f"{path}{ASIDE_INFIX}{suffix}"
    if len(out.rsplit("/", 1)[-1].encode()) > 255:
        raise ValueError(f"{out!r}: the renamed directory's name would exceed 255 bytes")
    return out


class CreateFsSnapshot(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Snapshot directory `path` of `fs` now, as `name` (`mkdir <path>/.snap/<name>`).

    A snapshot `name` that already exists changes nothing: the reply is that snapshot, with
    `changed` false. Refused (conflict) while `fs` on this site is the target of a mirror peer and
    `path` holds mirrored snapshots: a local snapshot there would stop cephfs-mirror ("invalid
    metadata in remote snapshot")."""

    fs: Fs
    path: Dir
    name: SnapName

    def __post_init__(self) -> None:
        check_snap_name(self.name)


class ListFsSnapshots(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The snapshots of directory `path` of `fs`, oldest first. A missing directory: `not_found`."""

    fs: Fs
    path: Dir


class FsSnapshotInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A snapshot of a directory. `id` is this cluster's snap id; `created` is `ceph.snap.btime`.
    A copy made by cephfs-mirror carries `metadata` {"primary_snap_id": "<id on the source>"}."""

    name: str
    id: int | None = None
    created: UnixTime | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class FsSnapshot(Reply, frozen=True, kw_only=True):
    """The snapshot `fs.snapshot.create` made, or found (`changed` false)."""

    fs: Fs
    path: str
    changed: bool
    name: str
    id: int | None = None
    created: UnixTime | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class FsSnapshots(Reply, frozen=True, kw_only=True):
    fs: Fs
    path: str
    snapshots: list[FsSnapshotInfo] = msgspec.field(default_factory=list)


class PrepareFsDir(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Prepare directory `path` of `fs` on this site, the OLD primary, to become the mirror target
    of the new primary (a reversed failover; Pacific's cephfs-mirror refuses a target whose
    snapshots lack `primary_snap_id` metadata). Do it before the new primary mirrors `path`
    (`fs.dir.add` there). `confirm` must be "<fs>:<path>". Refused (conflict) while this site
    itself mirrors `path`, or a parent or child of it, out: `fs.dir.remove` it first, and wait
    until `fs.dir.list` no longer shows it (the mgr keeps it a few seconds while it unmaps it).

    - `forge` (planned failover: the live `path` here must equal snapshot `snapshot`): removes every
      snapshot of `path` here, then makes `snapshot` again with metadata
      {"primary_snap_id": `primary_snap_id`}, the id of that same snapshot on the new primary
      (`fs.snapshot.list` there). Only data written after it is copied later. `snapshot` must be
      the newest snapshot here. Already done (`snapshot` carries that id, and every other snapshot
      is a mirrored copy): no change. The removed snapshots cannot be brought back.
    - `fresh` (the target may have diverged): renames `path` to `<path>.cephdr-<aside_suffix>`
      (default suffix: the UTC time), keeping its data and snapshots; cephfs-mirror then copies
      everything into a new `path`. `path` missing: no change."""

    fs: Fs
    path: Dir
    method: Literal["forge", "fresh"]
    snapshot: SnapName | None = None
    primary_snap_id: SnapId | None = None
    aside_suffix: AsideSuffix | None = None

    def __post_init__(self) -> None:
        if self.path == "/":
            raise ValueError("the root of a file system cannot be prepared; mirror a directory")
        if self.method == "forge":
            if self.snapshot is None or self.primary_snap_id is None:
                raise ValueError(
                    "method forge needs `snapshot` (the final snapshot) and `primary_snap_id` "
                    "(its id on the new primary)"
                )
            check_snap_name(self.snapshot)
            if self.aside_suffix is not None:
                raise ValueError("`aside_suffix` is for method fresh only")
        else:
            if self.snapshot is not None or self.primary_snap_id is not None:
                raise ValueError("`snapshot` and `primary_snap_id` are for method forge only")
            if self.aside_suffix is not None:
                aside_path(self.path, self.aside_suffix)

    @property
    def target(self) -> str:
        """What `confirm` must say."""
        return f"{self.fs}:{self.path}"
