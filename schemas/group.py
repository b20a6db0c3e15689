"""Protection groups: the unit of failover (design.md §3), as written in a TOML file or a request.

    name = "web"
    sites = ["site-a", "site-b"]
    primary = "site-a"          # the initial primary; afterwards only a failover moves it
    two_way = true              # mirror back after a failover (needed to fail back without loss)

    [schedule]
    interval = "15m"            # rbd mirror snapshot schedule (rbd grammar: m = minutes)
    fs_interval = "15M"         # CephFS snap-schedule (Pacific grammar: M = minutes); derived if unset
    fs_retention = "24h7d"

    [[rbd]]
    pool = "rbd"
    images = ["vm-1", "vm-2"]
    mode = "snapshot"

    [[fs]]
    fs = "cephfs"
    dirs = ["/shared"]

    [auto]                      # automatic failover (schemas/policy.py); off by default
    enabled = true
    down_after = "60s"

The controller keeps a `GroupRecord` per group: the spec as applied plus what it owns (current
primary, fencing epoch, the operation running on the group, what a returning site still owes).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from schemas.fs import check_schedule, parse_retention
from schemas.ids import Dir, DirPath, Fs, Group, Image, Op, Pool, Site, SiteName
from schemas.policy import AutoFailover, Pause
from schemas.rbd import ImageMode, Interval, StartTime


def fs_interval_of(interval: str) -> str:
    """The snap-schedule spelling of an rbd interval: rbd's `m` (or a bare number) is minutes,
    snap-schedule's minutes are `M`."""
    n, unit = (interval[:-1], interval[-1]) if interval[-1] in "dhm" else (interval, "m")
    return f"{int(n)}{'M' if unit == 'm' else unit}"


class RbdMember(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """RBD images of one pool mirrored in one mode (a pool may have a `snapshot` member and a
    `journal` member). Without `images`, the whole pool is mirrored in Ceph's `pool` mode, which
    mirrors every journaling image; snapshot mode needs the images named."""

    pool: Pool
    images: Annotated[list[Image], Meta(max_length=1000)] = msgspec.field(default_factory=list)
    mode: ImageMode = "snapshot"

    def __post_init__(self) -> None:
        if not self.images and self.mode == "snapshot":
            raise ValueError(
                f"pool {self.pool}: snapshot mode needs the images listed (a whole pool mirrors "
                'in journal mode: set mode = "journal" or list the images)'
            )
        dup = {i for i in self.images if self.images.count(i) > 1}
        if dup:
            raise ValueError(f"pool {self.pool}: image(s) listed twice: {', '.join(sorted(dup))}")

    @property
    def whole_pool(self) -> bool:
        return not self.images


class FsMember(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Directories of one CephFS file system, mirrored by snapshots."""

    fs: Fs
    dirs: Annotated[list[Dir], Meta(min_length=1, max_length=100)]

    def __post_init__(self) -> None:
        if "/" in self.dirs:
            raise ValueError(f"fs {self.fs}: mirror directories, not the root '/'")
        dup = {d for d in self.dirs if self.dirs.count(d) > 1}
        if dup:
            raise ValueError(f"fs {self.fs}: directory listed twice: {', '.join(sorted(dup))}")


class Schedule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Snapshot schedules, kept on the current primary only."""

    interval: Interval = "15m"
    start_time: StartTime | None = None
    fs_interval: Annotated[str, Meta(max_length=8)] | None = None
    fs_retention: Annotated[str, Meta(max_length=64)] | None = None

    def __post_init__(self) -> None:
        if self.fs_interval is not None:
            check_schedule(self.fs_interval)
        if self.fs_retention is not None:
            parse_retention(self.fs_retention, None)

    @property
    def fs_schedule(self) -> str:
        return self.fs_interval or fs_interval_of(self.interval)

    @property
    def fs_interval_s(self) -> int:
        """The CephFS schedule in seconds (snap-schedule letters: M, h, d, w)."""
        spec = self.fs_schedule
        return int(spec[:-1]) * {"M": 60, "h": 3600, "d": 86400, "w": 604800}[spec[-1]]

    @property
    def interval_s(self) -> int:
        """The rbd interval in seconds (what lag alerts compare against)."""
        i = self.interval
        n, unit = (i[:-1], i[-1]) if i[-1] in "dhm" else (i, "m")
        return int(n) * {"m": 60, "h": 3600, "d": 86400}[unit]


class GroupSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a protection group should be. Applying it again is safe; only a failover changes which
    site is primary once the group exists."""

    name: Group
    sites: Annotated[list[Site], Meta(min_length=2, max_length=2)]
    primary: Site
    two_way: bool = True
    rbd: list[RbdMember] = msgspec.field(default_factory=list)
    fs: list[FsMember] = msgspec.field(default_factory=list)
    schedule: Schedule = msgspec.field(default_factory=Schedule)
    auto: AutoFailover = msgspec.field(default_factory=AutoFailover)
    description: Annotated[str, Meta(max_length=512)] = ""

    def __post_init__(self) -> None:
        if self.sites[0] == self.sites[1]:
            raise ValueError(f"sites must be two different sites, got {self.sites[0]} twice")
        if self.primary not in self.sites:
            raise ValueError(f"primary {self.primary} is not one of the sites {self.sites}")
        if not self.rbd and not self.fs:
            raise ValueError("a group needs at least one [[rbd]] or [[fs]] member")
        pools = [m.pool for m in self.rbd]
        for m in self.rbd:
            if m.whole_pool and pools.count(m.pool) > 1:
                raise ValueError(f"pool {m.pool}: a whole-pool member must be the pool's only [[rbd]] entry")
        images = [f"{m.pool}/{i}" for m in self.rbd for i in m.images]
        dup = {i for i in images if images.count(i) > 1}
        if dup:
            raise ValueError(f"image(s) in two [[rbd]] members: {', '.join(sorted(dup))}")
        fss = [m.fs for m in self.fs]
        if len(set(fss)) != len(fss):
            raise ValueError("each file system may appear in one [[fs]] member only")

    def other(self, site: SiteName) -> SiteName:
        return self.sites[1] if site == self.sites[0] else self.sites[0]


class Owed(msgspec.Struct, frozen=True, kw_only=True):
    """What a site that was failed away from (unplanned) must do when it returns: fence itself,
    then resync. The failback operation pays it."""

    site: Site
    since_epoch: int
    reason: str


class ReconcileSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The last reconcile of a group: what it repaired and what it could not."""

    at: float
    op_id: Op
    ok: bool
    repaired: list[str] = msgspec.field(default_factory=list)
    errors: list[str] = msgspec.field(default_factory=list)
    generation: int = 0  # the spec generation reconciled: repairs at an unchanged one are drift


class GroupRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A group as the controller holds it (KV `group.<name>`)."""

    spec: GroupSpec
    primary: Site
    epoch: Annotated[int, Meta(ge=0)] = 0
    generation: Annotated[int, Meta(ge=1)] = 1
    created_at: float = 0.0
    updated_at: float = 0.0
    active_op: Op | None = None
    last_op: Op | None = None
    owed: Owed | None = None
    reconciled: ReconcileSummary | None = None
    paused: Pause | None = None  # automatic actions held for this group
    auto_failovers: list[float] = msgspec.field(default_factory=list)  # when (wall clock), last 10

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def secondary(self) -> SiteName:
        return self.spec.other(self.primary)


def member_names(spec: GroupSpec) -> list[str]:
    """Every member as an operator writes it: `pool/image`, `pool/*` (whole pool), `fs:/dir`."""
    out = [f"{m.pool}/{i}" for m in spec.rbd for i in m.images]
    out += [f"{m.pool}/*" for m in spec.rbd if m.whole_pool]
    out += [f"{m.fs}:{d}" for m in spec.fs for d in m.dirs]
    return out


__all__ = [
    "DirPath",
    "FsMember",
    "GroupRecord",
    "GroupSpec",
    "Owed",
    "RbdMember",
    "ReconcileSummary",
    "Schedule",
    "fs_interval_of",
    "member_names",
]
