"""Requests and replies of the agent's CephFS commands (`cephdr.agent.<site>.fs.*`).

CephFS snapshot mirroring (mgr module `mirroring`) and snapshot schedules (mgr module
`snap_schedule`), as in Ceph Pacific 16.2.15. Nothing here ever carries a cephx key: a bootstrap
token leaves an agent only sealed for one recipient agent.
"""

from __future__ import annotations

import re
from typing import Annotated

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
