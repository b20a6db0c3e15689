"""`fs.snapshot.*` and `fs.dir.prepare`: what is refused before Ceph is touched, and what a forge
would remove (the pure plan), without I/O."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from agent.fs_prepare import forge_plan, overlapping
from agent.service.fs_snapshot import dir_prepare
from bus.codec import decode_request
from schemas.errors import ConfirmationRequired, Conflict, InvalidRequest
from schemas.fs import CreateFsSnapshot, FsSnapshotInfo, PrepareFsDir, aside_path, check_snap_name

RID = "unit-0000001"


def dec(typ: type, **body: Any) -> Any:
    return decode_request(msgspec.json.encode({"request_id": RID, **body}), typ)


# --- snapshot names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["final", "scheduled-2026-01-01-00_00_00", "a b", "x" * 100, "é" * 100, "a.b_"]
)
def test_snapshot_names_accepted(name: str) -> None:
    assert dec(CreateFsSnapshot, fs="cephfs", path="/d", name=name).name == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a/b",  # libcephfs mksnap("a/b") quietly makes a snapshot "b"
        "_x_1099511627776",  # how CephFS shows a parent's snapshot
        ".snap",
        ".",
        "x" * 101,
        "final\n",  # the wire pattern's `$` alone would let this through
        "a\tb",
        "a\x00b",
        "\U0001f600" * 64,  # 64 characters, 256 bytes: over NAME_MAX
    ],
)
def test_snapshot_names_refused(name: str) -> None:
    with pytest.raises(InvalidRequest):
        dec(CreateFsSnapshot, fs="cephfs", path="/d", name=name)
    with pytest.raises(ValueError):
        check_snap_name(name)


def test_snapshot_name_error_says_the_rule() -> None:
    with pytest.raises(InvalidRequest, match="does not start with '_'") as e:
        dec(CreateFsSnapshot, fs="cephfs", path="/d", name="ok\n")
    assert e.value.where == "$"


# --- fs.dir.prepare requests ----------------------------------------------------------------------


def test_forge_needs_the_final_snapshot_and_its_id_on_the_new_primary() -> None:
    ok = dec(PrepareFsDir, fs="cephfs", path="/d", method="forge", snapshot="final", primary_snap_id=18)
    assert (ok.snapshot, ok.primary_snap_id, ok.target) == ("final", 18, "cephfs:/d")
    for body in ({"snapshot": "final"}, {"primary_snap_id": 18}, {}):
        with pytest.raises(InvalidRequest, match="primary_snap_id"):
            dec(PrepareFsDir, fs="cephfs", path="/d", method="forge", **body)
    forge = {"method": "forge", "snapshot": "s", "primary_snap_id": 1}
    with pytest.raises(InvalidRequest, match="fresh only"):
        dec(PrepareFsDir, fs="c", path="/d", aside_suffix="a", **forge)
    with pytest.raises(InvalidRequest) as e:
        dec(PrepareFsDir, fs="c", path="/d", method="forge", snapshot="s", primary_snap_id=0)
    assert e.value.where == "$.primary_snap_id"
    with pytest.raises(InvalidRequest) as e:
        dec(PrepareFsDir, fs="c", path="/d", method="forge", snapshot="_s", primary_snap_id=3)
    assert e.value.where == "$.snapshot"


def test_fresh_takes_only_an_optional_suffix() -> None:
    assert dec(PrepareFsDir, fs="c", path="/d", method="fresh").aside_suffix is None
    assert dec(PrepareFsDir, fs="c", path="/d", method="fresh", aside_suffix="pre-failover.1").aside_suffix
    with pytest.raises(InvalidRequest, match="forge only"):
        dec(PrepareFsDir, fs="c", path="/d", method="fresh", snapshot="s")
    for bad in ("a/b", "-x", "x\n", "x" * 65, ""):
        with pytest.raises(InvalidRequest):
            dec(PrepareFsDir, fs="c", path="/d", method="fresh", aside_suffix=bad)
    assert aside_path("/a/d", "20260101T000000Z") == "/a/d.cephdr-20260101T000000Z"
    with pytest.raises(InvalidRequest, match="255 bytes"):
        dec(PrepareFsDir, fs="c", path="/" + "d" * 200, method="fresh", aside_suffix="x" * 60)


@pytest.mark.parametrize(
    "body",
    [
        {"path": "/", "method": "fresh"},
        {"path": "d", "method": "fresh"},
        {"path": "/d", "method": "trim"},
        {"path": "/d", "method": "fresh", "extra": 1},
    ],
)
def test_prepare_refuses(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        dec(PrepareFsDir, fs="c", **body)


def test_prepare_needs_a_request_id() -> None:
    with pytest.raises(InvalidRequest) as e:
        decode_request(b'{"fs": "c", "path": "/d", "method": "fresh"}', PrepareFsDir)
    assert e.value.where == "$"  # msgspec reports a missing field at the object


class _Untouchable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the cluster was touched ({name}) before the confirmation check")


@pytest.mark.parametrize("confirm", [None, "/d", "cephfs", "cephfs:/d/", "cephfs:/other"])
async def test_prepare_without_the_exact_confirmation_touches_nothing(confirm: str | None) -> None:
    req = dec(PrepareFsDir, fs="cephfs", path="/d", method="fresh", confirm=confirm)
    ctx: Any = SimpleNamespace(cluster=_Untouchable(), fs_mount=_Untouchable())
    with pytest.raises(ConfirmationRequired) as e:
        await dir_prepare(ctx, req)
    assert e.value.where == "$.confirm"
    assert e.value.details == {"expected": "cephfs:/d"}
    assert '"confirm": "cephfs:/d"' in e.value.message


# --- what a forge removes ---------------------------------------------------------------------------


def snap(name: str, sid: int, psid: int | None = None) -> FsSnapshotInfo:
    return FsSnapshotInfo(name=name, id=sid, metadata={"primary_snap_id": str(psid)} if psid else {})


def test_forge_removes_everything_then_remakes_the_final_snapshot() -> None:
    plan = forge_plan([snap("s1", 2), snap("s2", 3), snap("final", 6)], "/d", "final", 18)
    assert plan.remove == ("s1", "s2", "final") and plan.remake and plan.changed
    assert "s1, s2, final" in plan.message and "primary_snap_id 18" in plan.message


def test_forge_done_already_changes_nothing() -> None:
    plan = forge_plan([snap("final", 9, 18)], "/d", "final", 18)
    assert (plan.remove, plan.remake, plan.changed) == ((), False, False)
    # copies cephfs-mirror made since stay; only a local (metadata-less) snapshot would go
    plan = forge_plan([snap("final", 9, 18), snap("next", 10, 21)], "/d", "final", 18)
    assert not plan.changed
    plan = forge_plan([snap("final", 9, 18), snap("oops", 10)], "/d", "final", 18)
    assert plan.remove == ("oops",) and not plan.remake


def test_forge_with_another_id_remakes() -> None:
    plan = forge_plan([snap("final", 9, 17)], "/d", "final", 18)
    assert plan.remove == ("final",) and plan.remake


def test_forge_refuses_when_the_final_snapshot_is_not_the_newest() -> None:
    with pytest.raises(Conflict, match=r"not the newest.*later") as e:
        forge_plan([snap("final", 6), snap("later", 7)], "/d", "final", 18)
    assert e.value.where == "$.snapshot"


def test_forge_refuses_without_the_final_snapshot_unless_nothing_is_left() -> None:
    with pytest.raises(Conflict, match=r"no snapshot 'final'.*use method fresh"):
        forge_plan([snap("s1", 2)], "/d", "final", 18)
    plan = forge_plan([], "/d", "final", 18)  # an interrupted forge left nothing: finish it
    assert plan.remove == () and plan.remake and "interrupted" in plan.message


def test_message_lists_at_most_20_names() -> None:
    snaps = [snap(f"s{i}", i + 2) for i in range(30)] + [snap("final", 40)]
    msg = forge_plan(snaps, "/d", "final", 1).message
    assert "s19" in msg and "s20," not in msg and "and 11 more" in msg


@pytest.mark.parametrize(
    ("path", "mirrored", "hit"),
    [
        ("/d", ["/d"], "/d"),
        ("/d", ["/a", "/d/sub"], "/d/sub"),
        ("/d/sub", ["/d"], "/d"),
        ("/d", ["/dd", "/d2", "/"], "/"),
        ("/d", ["/dd", "/d2"], None),
        ("/d", [], None),
    ],
)
def test_overlapping(path: str, mirrored: list[str], hit: str | None) -> None:
    assert overlapping(path, mirrored) == hit
