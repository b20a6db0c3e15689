"""Self-fencing of CephFS members (pure): a site an epoch does not name primary stops mirroring the
group's directories out, so a returning old primary cannot push stale snapshots onto the new one."""

from __future__ import annotations

from agent.fencing import FsFenceTarget, filesystems_of, fs_fence_targets
from schemas.fencing import FenceRecord, FsFenceMember
from schemas.ids import DirPath, FsName, GroupName, SiteName

HERE = SiteName("site-a")


def _rec(group: str, primary: str, dirs: list[str], epoch: int = 2) -> FenceRecord:
    return FenceRecord(
        group=GroupName(group),
        epoch=epoch,
        primary=SiteName(primary),
        fs=[FsFenceMember(fs=FsName("cephfs"), dirs=[DirPath(d) for d in dirs])],
    )


def test_only_directories_of_groups_owned_elsewhere_and_mirrored_here_are_fenced() -> None:
    records = [_rec("g1", "site-b", ["/a", "/b"]), _rec("g2", "site-a", ["/c"])]
    mirrored = {"cephfs": {"/a", "/c", "/other"}}
    assert fs_fence_targets(HERE, records, mirrored) == [
        FsFenceTarget("g1", 2, FsName("cephfs"), DirPath("/a"))
    ]
    assert filesystems_of(records, HERE) == {"cephfs"}


def test_nothing_to_fence_when_primary_here_or_nothing_mirrored() -> None:
    assert fs_fence_targets(HERE, [_rec("g1", "site-a", ["/a"])], {"cephfs": {"/a"}}) == []
    assert fs_fence_targets(HERE, [_rec("g1", "site-b", ["/a"])], {}) == []
    assert filesystems_of([_rec("g1", "site-a", ["/a"])], HERE) == set()


def test_a_record_without_fs_members_still_decodes_from_older_writers() -> None:
    import msgspec

    old = b'{"group":"g1","epoch":1,"primary":"site-b","rbd":[]}'
    assert msgspec.json.decode(old, type=FenceRecord).fs == []
