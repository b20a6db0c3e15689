"""The failover checks (controller/checks.py) over hand-built site statuses: each returns the
problems it finds, and an empty list only when the condition holds."""

from __future__ import annotations

from typing import Any

import pytest
from ctl_unit_build import A, B, dir_status, image, primary_image, site_status
from msgspec.structs import replace

from controller import checks
from schemas.status import (
    DirState,
    ImageState,
    JournalPosition,
    MirrorMode,
    ReplayProgress,
    Role,
)

RBD: list[dict[str, Any]] = [{"pool": "rbd", "images": ["vm-1", "vm-2"], "mode": "snapshot"}]
WHOLE: list[dict[str, Any]] = [{"pool": "jpool", "images": [], "mode": "journal"}]
FS: list[dict[str, Any]] = [{"fs": "cephfs", "dirs": ["/shared"]}]


def healthy_src(**dir_kw: Any) -> Any:
    return site_status(
        A, [primary_image("rbd/vm-1"), primary_image("rbd/vm-2")], [dir_status("cephfs", "/shared", **dir_kw)]
    )


def healthy_dst() -> Any:
    return site_status(B, [image("rbd/vm-1"), image("rbd/vm-2")])


def only(problems: list[str], *words: str) -> None:
    assert len(problems) == 1, problems
    for w in words:
        assert w in problems[0], problems


# -- member_images ---------------------------------------------------------------------------------


def test_member_images_lists_named_images_and_none_for_missing_ones() -> None:
    st = site_status(A, [primary_image("rbd/vm-1"), primary_image("other/vm-2")])
    got = checks.member_images(st, RBD)
    assert set(got) == {"rbd/vm-1", "rbd/vm-2"}
    assert got["rbd/vm-1"] is not None and got["rbd/vm-2"] is None


def test_member_images_of_a_whole_pool_is_what_the_site_reports_in_that_pool() -> None:
    st = site_status(A, [image("jpool/a"), image("jpool/b"), image("rbd/vm-1")])
    assert set(checks.member_images(st, WHOLE)) == {"jpool/a", "jpool/b"}
    assert checks.member_images(site_status(A), WHOLE) == {}


# -- check_failover --------------------------------------------------------------------------------


def test_check_failover_passes_a_healthy_group() -> None:
    assert checks.check_failover(healthy_src(), healthy_dst(), RBD, FS) == []


def test_check_failover_leaves_a_copy_not_yet_replaying_to_the_wait_step() -> None:
    dst = site_status(B, [image("rbd/vm-1", state=ImageState.SYNCING, caught_up=False), image("rbd/vm-2")])
    assert checks.check_failover(healthy_src(), dst, RBD, FS) == []


def test_check_failover_refuses_a_source_that_is_not_primary() -> None:
    src = site_status(A, [image("rbd/vm-1"), primary_image("rbd/vm-2")], healthy_src().dirs)
    only(checks.check_failover(src, healthy_dst(), RBD, FS), "rbd/vm-1", "not primary on site-a")


def test_check_failover_refuses_two_primaries() -> None:
    dst = site_status(B, [image("rbd/vm-1"), primary_image("rbd/vm-2")])
    only(checks.check_failover(healthy_src(), dst, RBD, FS), "rbd/vm-2", "two primaries")


@pytest.mark.parametrize("on", ["source", "target"])
def test_check_failover_refuses_split_brain_on_either_side(on: str) -> None:
    src, dst = healthy_src(), healthy_dst()
    if on == "source":
        src = site_status(A, [primary_image("rbd/vm-1", split_brain=True), src.images[1]], src.dirs)
    else:
        dst = site_status(B, [image("rbd/vm-1", state=ImageState.ERROR, split_brain=True), dst.images[1]])
    only(checks.check_failover(src, dst, RBD, FS), "rbd/vm-1", "split-brain")


def test_check_failover_refuses_a_missing_copy() -> None:
    dst = site_status(B, [image("rbd/vm-1")])
    only(checks.check_failover(healthy_src(), dst, RBD, FS), "rbd/vm-2", "no copy on site-b")
    src = site_status(A, [primary_image("rbd/vm-1")], healthy_src().dirs)
    only(checks.check_failover(src, healthy_dst(), RBD, FS), "rbd/vm-2", "not mirrored on site-a")


def test_check_failover_refuses_a_whole_pool_member_the_source_reports_no_image_of() -> None:
    problems = checks.check_failover(site_status(A), site_status(B), WHOLE, [])
    only(problems, "pool jpool", "site-a reports no mirrored image")


def test_check_failover_judges_a_whole_pool_member_image_by_image() -> None:
    src = site_status(A, [primary_image("jpool/a"), primary_image("jpool/b")])
    dst = site_status(B, [image("jpool/a"), image("jpool/b"), image("jpool/c")])
    assert checks.check_failover(src, site_status(B, [image("jpool/a"), image("jpool/b")]), WHOLE, []) == []
    only(checks.check_failover(src, dst, WHOLE, []), "jpool/c", "not mirrored on site-a")
    only(
        checks.check_failover(src, site_status(B, [image("jpool/a")]), WHOLE, []),
        "jpool/b",
        "no copy on site-b",
    )


def test_check_failover_refuses_a_directory_the_source_does_not_mirror() -> None:
    src = site_status(A, healthy_src().images, [])
    only(checks.check_failover(src, healthy_dst(), RBD, FS), "cephfs:/shared", "not mirrored from site-a")


def test_check_failover_refuses_a_directory_mirrored_to_another_site() -> None:
    problems = checks.check_failover(healthy_src(peer_site="site-c"), healthy_dst(), RBD, FS)
    only(problems, "cephfs:/shared", "site-c", "not site-b")


def test_check_failover_accepts_a_directory_whose_peer_site_is_unknown() -> None:
    assert checks.check_failover(healthy_src(peer_site=None), healthy_dst(), RBD, FS) == []


def test_check_failover_refuses_a_failed_directory_with_its_reason() -> None:
    src = healthy_src(state=DirState.FAILED, failure_reason="invalid metadata in remote snapshot")
    only(checks.check_failover(src, healthy_dst(), RBD, FS), "cephfs:/shared", "invalid metadata")


def test_check_failover_reports_every_problem_at_once() -> None:
    src = site_status(A, [image("rbd/vm-1")], [])
    dst = site_status(B, [primary_image("rbd/vm-1")])
    problems = checks.check_failover(src, dst, RBD, FS)
    assert len(problems) == 4, problems  # vm-1 not primary, vm-1 two primaries, vm-2 nowhere, the dir


# -- check_unplanned -------------------------------------------------------------------------------


def test_check_unplanned_passes_when_the_target_holds_every_member() -> None:
    assert checks.check_unplanned(healthy_dst(), RBD, FS) == []
    # already promoted there (a re-run after a crash): still holds every member
    promoted = site_status(B, [primary_image("rbd/vm-1"), image("rbd/vm-2")])
    assert checks.check_unplanned(promoted, RBD, FS) == []


def test_check_unplanned_refuses_an_unreachable_cluster() -> None:
    dst = site_status(B, healthy_dst().images, reachable=False)
    only(checks.check_unplanned(dst, RBD, FS), "site-b", "unreachable")


def test_check_unplanned_refuses_a_missing_copy() -> None:
    only(checks.check_unplanned(site_status(B, [image("rbd/vm-2")]), RBD, FS), "rbd/vm-1", "no copy")


def test_check_unplanned_refuses_a_whole_pool_member_without_images() -> None:
    only(checks.check_unplanned(site_status(B), WHOLE, []), "pool jpool", "no mirrored image")
    assert checks.check_unplanned(site_status(B, [image("jpool/a")]), WHOLE, []) == []


# -- not_caught_up ---------------------------------------------------------------------------------


def _journal(caught_up: bool, *, same_tag: bool) -> Any:
    """A journal-mode follower with 0 entries behind: caught up only when the positions, tag
    included, are equal (FINDINGS B.2 trap 1)."""
    prim = JournalPosition(entry_tid=3, object_number=3, tag_tid=2)
    local = prim if same_tag else JournalPosition(entry_tid=1028, object_number=0, tag_tid=1)
    progress = ReplayProgress(
        mode=MirrorMode.JOURNAL,
        caught_up=caught_up,
        entries_behind_primary=0,
        primary_position=prim,
        non_primary_position=local,
    )
    i = image("jpool/a", mode=MirrorMode.JOURNAL, caught_up=caught_up)
    return site_status(B, [replace(i, progress=progress)])


def test_not_caught_up_passes_a_caught_up_journal_follower() -> None:
    assert checks.not_caught_up(_journal(True, same_tag=True), WHOLE) == []


def test_not_caught_up_waits_for_a_journal_follower_still_on_the_old_tag() -> None:
    only(checks.not_caught_up(_journal(False, same_tag=False), WHOLE), "jpool/a", "caught_up=False")


@pytest.mark.parametrize("caught_up", [False, None])
def test_not_caught_up_waits_for_a_snapshot_follower_until_it_says_so(caught_up: bool | None) -> None:
    dst = site_status(B, [image("rbd/vm-1"), image("rbd/vm-2", caught_up=caught_up)])
    only(checks.not_caught_up(dst, RBD), "rbd/vm-2", f"caught_up={caught_up}")
    assert checks.not_caught_up(healthy_dst(), RBD) == []


def test_not_caught_up_waits_for_a_down_follower_even_if_it_said_caught_up() -> None:
    dst = site_status(B, [image("rbd/vm-1", up=False), image("rbd/vm-2")])
    only(checks.not_caught_up(dst, RBD), "rbd/vm-1", "down")


@pytest.mark.parametrize("state", [ImageState.SYNCING, ImageState.STOPPED, ImageState.ERROR])
def test_not_caught_up_wants_replaying(state: ImageState) -> None:
    dst = site_status(B, [image("rbd/vm-1", state=state), image("rbd/vm-2")])
    only(checks.not_caught_up(dst, RBD), "rbd/vm-1", str(state))


def test_not_caught_up_refuses_a_primary_or_missing_copy() -> None:
    only(checks.not_caught_up(site_status(B, [primary_image("rbd/vm-1"), image("rbd/vm-2")]), RBD), "primary")
    only(checks.not_caught_up(site_status(B, [image("rbd/vm-1")]), RBD), "rbd/vm-2", "no copy")


# -- wrong_roles / primary_members -----------------------------------------------------------------


def test_wrong_roles_passes_after_a_clean_switch() -> None:
    assert checks.wrong_roles(healthy_src(), healthy_dst(), RBD) == []


def test_wrong_roles_with_the_other_site_unknown_checks_the_primary_only() -> None:
    assert checks.wrong_roles(healthy_src(), None, RBD) == []
    bad = site_status(A, [primary_image("rbd/vm-1"), image("rbd/vm-2")])
    only(checks.wrong_roles(bad, None, RBD), "rbd/vm-2", "not primary on site-a")
    only(checks.wrong_roles(site_status(A, [primary_image("rbd/vm-1")]), None, RBD), "rbd/vm-2")


def test_wrong_roles_refuses_an_image_still_primary_on_the_other_site() -> None:
    other = site_status(B, [image("rbd/vm-1"), primary_image("rbd/vm-2")])
    only(checks.wrong_roles(healthy_src(), other, RBD), "rbd/vm-2", "still primary on site-b")


def test_primary_members_lists_only_primary_copies() -> None:
    st = site_status(A, [primary_image("rbd/vm-1"), image("rbd/vm-2")])
    assert checks.primary_members(st, RBD) == ["rbd/vm-1"]
    assert checks.primary_members(healthy_dst(), RBD) == []


# -- needs_resync ----------------------------------------------------------------------------------


def test_needs_resync_picks_split_brain_and_error_non_primary_copies_only() -> None:
    rbd = [{"pool": "rbd", "images": ["sb", "err", "sync", "ok", "prim-sb", "gone"], "mode": "snapshot"}]
    st = site_status(
        A,
        [
            image("rbd/sb", state=ImageState.STOPPED, split_brain=True),
            image("rbd/err", state=ImageState.ERROR, caught_up=None),
            image("rbd/sync", state=ImageState.SYNCING, caught_up=False),
            image("rbd/ok"),
            primary_image("rbd/prim-sb", split_brain=True),
        ],
    )
    assert checks.needs_resync(st, rbd) == [("rbd", "err"), ("rbd", "sb")]


def test_needs_resync_is_empty_once_the_resync_took() -> None:
    st = site_status(A, [image("rbd/vm-1", state=ImageState.SYNCING, caught_up=False), image("rbd/vm-2")])
    assert checks.needs_resync(st, RBD) == []
    assert all(i.role == Role.NON_PRIMARY for i in st.images)


# -- fs_not_synced ---------------------------------------------------------------------------------


def test_fs_not_synced_waits_for_the_named_snapshot() -> None:
    src = site_status(A, dirs=[dir_status("cephfs", "/shared", last="snap-1", state=DirState.SYNCING)])
    only(checks.fs_not_synced(src, "cephfs", "/shared", "final"), "snap-1", "final")
    done = site_status(A, dirs=[dir_status("cephfs", "/shared", last="final")])
    assert checks.fs_not_synced(done, "cephfs", "/shared", "final") == []


def test_fs_not_synced_without_a_name_wants_some_snapshot_synced_and_idle() -> None:
    idle = site_status(A, dirs=[dir_status("cephfs", "/shared")])
    assert checks.fs_not_synced(idle, "cephfs", "/shared", None) == []
    never = site_status(A, dirs=[dir_status("cephfs", "/shared", last=None)])
    only(checks.fs_not_synced(never, "cephfs", "/shared", None), "cephfs:/shared", "None")
    busy = site_status(A, dirs=[dir_status("cephfs", "/shared", state=DirState.SYNCING)])
    only(checks.fs_not_synced(busy, "cephfs", "/shared", None), "syncing")


@pytest.mark.parametrize("name", ["final", None])
def test_fs_not_synced_refuses_a_directory_the_site_does_not_mirror(name: str | None) -> None:
    st = site_status(A, dirs=[dir_status("cephfs", "/other"), dir_status("fs2", "/shared")])
    only(checks.fs_not_synced(st, "cephfs", "/shared", name), "site-a does not mirror it")


def test_needs_resync_does_not_wait_for_ceph_to_latch_split_brain() -> None:
    # right after the fence's demote a diverged copy shows stopped/unknown, not yet split-brain
    rbd = [{"pool": "rbd", "images": ["stopped", "unknown", "ok"], "mode": "snapshot"}]
    st = site_status(
        A,
        [
            image("rbd/stopped", state=ImageState.STOPPED, caught_up=None),
            image("rbd/unknown", state=ImageState.UNKNOWN, caught_up=None),
            image("rbd/ok"),
        ],
    )
    assert checks.needs_resync(st, rbd) == [("rbd", "stopped"), ("rbd", "unknown")]
