"""Builders for the controller unit tests: hand-built Structs, nothing real (see conftest.py)."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas.ctl import OpRecord, StepRecord
from schemas.group import FsMember, GroupRecord, GroupSpec, Owed, RbdMember, Schedule
from schemas.ids import DirPath, FsName, GroupName, ImageName, PoolName, SiteName
from schemas.status import (
    DaemonStatus,
    DirState,
    DirStatus,
    Health,
    Heartbeat,
    ImageState,
    ImageStatus,
    MirrorMode,
    Role,
    SiteStatus,
    SnapRef,
)

A = SiteName("site-a")
B = SiteName("site-b")
NOW = 1_795_242_300.0
KEY_1 = "A" * 43 + "="
KEY_2 = "B" * 43 + "="


def rbd(pool: str, *images: str, mode: str = "snapshot") -> RbdMember:
    return RbdMember(pool=PoolName(pool), images=[ImageName(i) for i in images], mode=mode)  # type: ignore[arg-type]


def fsm(fs: str, *dirs: str) -> FsMember:
    return FsMember(fs=FsName(fs), dirs=[DirPath(d) for d in dirs])


def spec(
    *,
    rbd_members: list[RbdMember] | None = None,
    fs_members: list[FsMember] | None = None,
    two_way: bool = True,
    primary: SiteName = A,
    interval: str = "15m",
    fs_interval: str | None = None,
    fs_retention: str | None = None,
    start_time: str | None = None,
    name: str = "web",
) -> GroupSpec:
    return GroupSpec(
        name=GroupName(name),
        sites=[A, B],
        primary=primary,
        two_way=two_way,
        rbd=list(rbd_members or []),
        fs=list(fs_members or []),
        schedule=Schedule(
            interval=interval, fs_interval=fs_interval, fs_retention=fs_retention, start_time=start_time
        ),
    )


RBD_MEMBERS = [rbd("rbd", "vm-1", "vm-2"), rbd("jpool", mode="journal")]
FS_MEMBERS = [fsm("cephfs", "/shared", "/home"), fsm("fs2", "/x")]


def rbd_spec(**kw: Any) -> GroupSpec:
    return spec(rbd_members=RBD_MEMBERS, **kw)


def fs_spec(**kw: Any) -> GroupSpec:
    return spec(fs_members=FS_MEMBERS, **kw)


def both_spec(**kw: Any) -> GroupSpec:
    return spec(rbd_members=RBD_MEMBERS, fs_members=FS_MEMBERS, **kw)


def record(
    s: GroupSpec, *, primary: SiteName | None = None, epoch: int = 3, owed: SiteName | None = None
) -> GroupRecord:
    return GroupRecord(
        spec=s,
        primary=primary or s.primary,
        epoch=epoch,
        owed=None if owed is None else Owed(site=owed, since_epoch=epoch, reason="unit test"),
    )


def image(
    spec_: str,
    role: Role = Role.NON_PRIMARY,
    *,
    state: ImageState = ImageState.REPLAYING,
    up: bool = True,
    caught_up: bool | None = True,
    split_brain: bool = False,
    healthy: bool = True,
    rpo_lag_s: float | None = None,
    mode: MirrorMode | None = MirrorMode.SNAPSHOT,
) -> ImageStatus:
    pool, name = spec_.split("/")
    return ImageStatus(
        pool=PoolName(pool),
        image=ImageName(name),
        mode=mode,
        role=role,
        state=state,
        up=up,
        healthy=healthy,
        caught_up=caught_up,
        split_brain=split_brain,
        rpo_lag_s=rpo_lag_s,
    )


def primary_image(spec_: str, **kw: Any) -> ImageStatus:
    kw.setdefault("state", ImageState.STOPPED)
    kw.setdefault("caught_up", None)
    return image(spec_, Role.PRIMARY, **kw)


def dir_status(
    fs: str,
    path: str,
    *,
    state: DirState = DirState.IDLE,
    peer_site: str | None = "site-b",
    last: str | None = "snap-1",
    rpo_lag_s: float | None = None,
    failure_reason: str | None = None,
) -> DirStatus:
    return DirStatus(
        fs=FsName(fs),
        path=DirPath(path),
        peer_site=peer_site,
        state=state,
        healthy=state != DirState.FAILED,
        last_synced_snap=None if last is None else SnapRef(name=last, id=7),
        rpo_lag_s=rpo_lag_s,
        failure_reason=failure_reason,
    )


def site_status(
    site: SiteName,
    images: list[ImageStatus] | None = None,
    dirs: list[DirStatus] | None = None,
    *,
    reachable: bool = True,
    daemons: list[DaemonStatus] | None = None,
) -> SiteStatus:
    return SiteStatus(
        site=site,
        taken_at=NOW,
        cluster_reachable=reachable,
        images=list(images or []),
        dirs=list(dirs or []),
        daemons=list(daemons or []),
    )


def daemon(id_: str, *, up: bool) -> DaemonStatus:
    return DaemonStatus(kind="rbd-mirror", id=id_, up=up, health=Health.OK if up else Health.ERROR)


def heartbeat(
    site: SiteName, *, key: str = KEY_1, version: str = "1.0", reachable: bool = True, seq: int = 0
) -> Heartbeat:
    return Heartbeat(
        site=site, version=version, public_key=key, seq=seq, sent_at=NOW, cluster_reachable=reachable
    )


def persist(op: OpRecord) -> OpRecord:
    """What the store does to an operation record: JSON out, JSON back in."""
    return msgspec.json.decode(msgspec.json.encode(op), type=OpRecord)


def persist_steps(steps: list[StepRecord]) -> list[StepRecord]:
    return msgspec.json.decode(msgspec.json.encode(steps), type=list[StepRecord])
