"""Requests and replies of the agent's RBD mirroring commands (`cephdr.agent.<site>.rbd.*`).

Names follow the `rbd mirror ...` CLI so an operator recognises them. Bootstrap tokens hold a cephx
key: they only ever travel sealed to one recipient agent (NaCl Box), never in clear.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.common import Command, ConfirmableCommand, Reply, Request
from schemas.errors import ErrorBody
from schemas.ids import CEPH_NAME_PATTERN, Image, PeerId, Pool, PublicKey, SealedBlob, Site

# rbd_support's own grammar (schedule.py `Interval.from_string`): a count of minutes, or of
# d(ays) / h(ours) / m(inutes). A zero interval is refused on top (see `ScheduleAt.__post_init__`).
# rbd_support's grammar is ^\d+[dhm]?$ (a bare number is minutes); zero is excluded here because
# "0m" passes Ceph's parser and then its scheduler divides by the period
INTERVAL_PATTERN = r"^0*[1-9]\d*[dhm]?$"
Interval = Annotated[
    str,
    Meta(
        pattern=INTERVAL_PATTERN,
        max_length=16,
        description="snapshot interval in rbd_support's grammar: N (minutes), Nm, Nh or Nd; not 0",
        examples=["1m", "15m", "1h", "1d"],
    ),
]
# rbd_support parses it with dateutil and keeps only the time of day and the UTC offset
_TZ = r"(Z|[+-]\d{2}:?\d{2})?"
_START_TIME_PATTERN = rf"^(\d{{4}}-\d{{2}}-\d{{2}}[T ])?\d{{2}}:\d{{2}}(:\d{{2}})?{_TZ}$"
StartTime = Annotated[
    str,
    Meta(
        pattern=_START_TIME_PATTERN,
        max_length=40,
        description="ISO-8601 start time (date and time, or time of day): 2026-01-01T00:00:00Z, 02:30",
    ),
]
Namespace = Annotated[str, Meta(pattern=CEPH_NAME_PATTERN, description="RBD namespace within the pool")]
Direction = Literal["rx-only", "rx-tx"]
PeerDirection = Literal["rx-only", "tx-only", "rx-tx"]
PoolMode = Literal["image", "pool"]
ImageMode = Literal["journal", "snapshot"]
WaitSeconds = Annotated[
    float,
    Meta(ge=0, le=10, description="how long to retry a promote that Ceph refuses as transient (EBUSY/EROFS)"),
]
BulkWaitSeconds = Annotated[
    float, Meta(ge=0, le=300, description="per image: how long to retry a transient EBUSY/EROFS")
]


# -- pool ---------------------------------------------------------------------------------------


class EnablePoolMirroring(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Enable mirroring on a pool. `pool` mode mirrors every journaling image; snapshot-based
    mirroring needs `image` mode (images are then enabled one by one). Idempotent."""

    pool: Pool
    mode: PoolMode
    site_name: Site | None = None  # also set this cluster's site name (as `--site-name`)


class DisablePoolMirroring(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Disable mirroring on a pool. Ceph refuses while peers or mirror-enabled images remain;
    rbd-mirror deletes the non-primary copies of disabled images, so `confirm` must be the pool name."""

    pool: Pool


class PoolInfoRequest(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Mirroring mode, site name and peers of a pool (as `rbd mirror pool info`)."""

    pool: Pool


class PeerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A mirror peer of a pool. Its cephx key is never returned."""

    uuid: str
    site_name: str
    direction: PeerDirection
    client_name: str
    mirror_uuid: str = ""  # empty until the peer's rbd-mirror registered


class PoolMirrorInfo(Reply, frozen=True, kw_only=True):
    """A pool's mirroring configuration."""

    pool: Pool
    mode: Literal["disabled", "image", "pool"]
    site_name: str
    mirror_uuid: str
    peers: list[PeerInfo] = msgspec.field(default_factory=list)


class SetSiteName(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Set this cluster's mirroring site name (shown to peers). Idempotent."""

    site_name: Site


# -- peers --------------------------------------------------------------------------------------


class CreateBootstrap(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Create a peer bootstrap token for `pool` and seal it for one recipient agent.

    The token carries a cephx key: only `recipient_public_key` can open the returned blob."""

    pool: Pool
    recipient_site: Site
    recipient_public_key: PublicKey
    site_name: Site | None = None  # set this cluster's site name first (as `--site-name`)


class SealedBootstrap(Reply, frozen=True, kw_only=True):
    """A sealed bootstrap token and what the importer needs to open and check it (no secret)."""

    pool: Pool
    sealed: str
    sender_site: str  # this cluster's mirroring site name
    sender_public_key: str
    recipient_site: Site
    fsid: str


class ImportBootstrap(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Open a sealed bootstrap token and import it into `pool` (as `peer bootstrap import`).

    `rx-tx` configures both sides from the one token. Importing a peer that already exists (same
    monitors) changes nothing."""

    pool: Pool
    sealed: SealedBlob
    sender_public_key: PublicKey
    direction: Direction = "rx-tx"
    site_name: Site | None = None  # set this cluster's site name first


class ListPeers(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The mirror peers of a pool (no keys)."""

    pool: Pool


class PeerList(Reply, frozen=True, kw_only=True):
    """The mirror peers of a pool."""

    pool: Pool
    peers: list[PeerInfo] = msgspec.field(default_factory=list)


class RemovePeer(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Remove a mirror peer: replication with it stops. `confirm` must be the peer uuid."""

    pool: Pool
    uuid: PeerId


# -- images -------------------------------------------------------------------------------------


class ImageRef(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One image of a pool."""

    pool: Pool
    image: Image


class EnableImageMirroring(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Enable mirroring of one image in `journal` or `snapshot` mode.

    Journal mode needs the exclusive-lock feature and turns journaling on if it is off (the reply
    says so). Snapshot mode needs the pool in `image` mode. Idempotent."""

    pool: Pool
    image: Image
    mode: ImageMode


class DisableImageMirroring(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Disable mirroring of one image; rbd-mirror then deletes the peer's non-primary copy.

    `force` also works on a non-primary image (its copy here stays, unmirrored) and needs
    `confirm` = "<pool>/<image>"."""

    pool: Pool
    image: Image
    force: bool = False


class MirrorSnapshot(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Take a mirror snapshot of a primary snapshot-mode image now (as `mirror image snapshot`)."""

    pool: Pool
    image: Image


class SnapshotTaken(Reply, frozen=True, kw_only=True):
    """The mirror snapshot just created."""

    pool: Pool
    image: Image
    snap_id: int


class PromoteImage(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Promote an image to primary on this site. Already primary: nothing changes.

    Right after the peer's demote Ceph refuses for a few seconds (EBUSY/EROFS); the agent retries
    for up to `wait_s`. `force` promotes while the peer still holds it primary (split-brain risk)
    and needs `confirm` = "<pool>/<image>"."""

    pool: Pool
    image: Image
    force: bool = False
    wait_s: WaitSeconds = 10.0


class DemoteImage(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Demote a primary image to non-primary. Already non-primary: nothing changes."""

    pool: Pool
    image: Image
    wait_s: WaitSeconds = 10.0


class ResyncImage(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Flag a non-primary image for a full resync from the primary: its local copy is discarded.

    Only a non-primary image can be resynced. `confirm` must be "<pool>/<image>". rbd-mirror does
    the work asynchronously (about a minute for a small image); follow it with `rbd.image.status`."""

    pool: Pool
    image: Image


# -- bulk ---------------------------------------------------------------------------------------

ImageList = Annotated[
    list[Image], Meta(max_length=1000, description="images of the pool; empty = every mirror-enabled image")
]
Concurrency = Annotated[int, Meta(ge=1, le=32, description="images handled at the same time")]


class BulkPromote(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Promote many images of a pool (a long operation: answers `Accepted`, then progress events).

    Images already primary are left alone. `force` needs `confirm` = the pool name."""

    pool: Pool
    images: ImageList = msgspec.field(default_factory=list)
    concurrency: Concurrency = 8
    force: bool = False
    wait_s: BulkWaitSeconds = 30.0


class BulkDemote(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Demote many images of a pool (a long operation). Images already non-primary are left alone."""

    pool: Pool
    images: ImageList = msgspec.field(default_factory=list)
    concurrency: Concurrency = 8
    wait_s: BulkWaitSeconds = 30.0


class ImageOutcome(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What happened to one image of a bulk operation."""

    image: Image
    ok: bool
    changed: bool = False
    error: ErrorBody | None = None


class BulkResult(Reply, frozen=True, kw_only=True):
    """The result of a bulk promote / demote: one outcome per image."""

    pool: Pool
    action: Literal["promote", "demote"]
    total: int
    succeeded: int
    failed: int
    results: list[ImageOutcome] = msgspec.field(default_factory=list)


# -- snapshot schedules ---------------------------------------------------------------------------


def level_spec(pool: str, namespace: str | None = None, image: str | None = None) -> str:
    """rbd_support's level spec: `pool/`, `pool/ns/`, `pool/image` or `pool/ns/image`.

    A pool level without the trailing slash fails in the mgr ("failed to parse")."""
    ns = f"{namespace}/" if namespace else ""
    return f"{pool}/{ns}{image or ''}"


class _LevelRequest(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pool: Pool
    namespace: Namespace | None = None
    image: Image | None = None

    def level_spec(self) -> str:
        return level_spec(self.pool, self.namespace, self.image)


class _LevelCommand(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pool: Pool
    namespace: Namespace | None = None
    image: Image | None = None

    def level_spec(self) -> str:
        return level_spec(self.pool, self.namespace, self.image)


class AddSchedule(_LevelCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Add a mirror snapshot schedule (mgr rbd_support). Only the most specific level that matches
    an image runs for it; only primary snapshot-mode images get snapshots. Idempotent."""

    interval: Interval
    start_time: StartTime | None = None


class RemoveSchedule(_LevelCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Remove a mirror snapshot schedule; without `interval`, every schedule of that level."""

    interval: Interval | None = None
    start_time: StartTime | None = None

    def __post_init__(self) -> None:
        if self.start_time is not None and self.interval is None:
            raise ValueError("start_time needs interval")


class ListSchedules(_LevelRequest, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Mirror snapshot schedules at a level and below it (and the parent level that applies)."""


class ScheduleEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One schedule: its level spec (`pool/`, `pool/image`...), interval and start time."""

    level_spec: str
    interval: str
    start_time: str | None = None


class ScheduleList(Reply, frozen=True, kw_only=True):
    """Mirror snapshot schedules."""

    schedules: list[ScheduleEntry] = msgspec.field(default_factory=list)


class ScheduleStatusRequest(_LevelRequest, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When each scheduled image gets its next mirror snapshot (images under the level)."""


class ScheduledImage(msgspec.Struct, frozen=True, kw_only=True):
    """An image and the time (UTC, as rbd_support writes it: `YYYY-MM-DD HH:MM:00`) of its next snapshot."""

    image: str  # "pool/image" or "pool/ns/image"
    schedule_time: str


class ScheduleStatusReply(Reply, frozen=True, kw_only=True):
    """Images waiting for a scheduled snapshot. Empty until rbd_support refreshed (up to ~1 min)."""

    scheduled: list[ScheduledImage] = msgspec.field(default_factory=list)
