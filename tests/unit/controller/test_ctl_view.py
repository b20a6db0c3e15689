"""A group's status and alerts (controller/view.py) from hand-built site statuses and site infos."""

from __future__ import annotations

from typing import Any

import pytest
from ctl_unit_build import (
    A,
    B,
    daemon,
    dir_status,
    fsm,
    image,
    primary_image,
    rbd,
    record,
    site_status,
    spec,
)

from controller import view
from schemas.ctl import Alert, GroupStatus, OpRecord, SiteInfo, StepRecord
from schemas.group import GroupRecord
from schemas.ids import GroupName, OpId, SiteName
from schemas.status import ImageState, SiteStatus

INTERVAL = 900  # "15m"


def group(**kw: Any) -> GroupRecord:
    owed = kw.pop("owed", None)
    primary = kw.pop("primary", None)
    s = spec(rbd_members=[rbd("rbd", "vm-1", "vm-2")], fs_members=[fsm("cephfs", "/shared")], **kw)
    return record(s, primary=primary, owed=owed)


def statuses(
    *, b_images: list[Any] | None = None, a_images: list[Any] | None = None, a_dirs: list[Any] | None = None
) -> dict[str, SiteStatus | None]:
    return {
        A: site_status(
            A,
            a_images if a_images is not None else [primary_image("rbd/vm-1"), primary_image("rbd/vm-2")],
            a_dirs if a_dirs is not None else [dir_status("cephfs", "/shared", rpo_lag_s=60.0)],
        ),
        B: site_status(
            B,
            b_images
            if b_images is not None
            else [image("rbd/vm-1", rpo_lag_s=100.0), image("rbd/vm-2", rpo_lag_s=200.0)],
        ),
    }


ALIVE = {A: SiteInfo(site=A, alive=True), B: SiteInfo(site=B, alive=True)}


def status(rec: GroupRecord | None = None, sts: Any = None, sites: Any = None, **kw: Any) -> GroupStatus:
    return view.group_status(
        rec or group(), statuses() if sts is None else sts, ALIVE if sites is None else sites, **kw
    )


def kinds(gs: GroupStatus) -> list[tuple[str, str]]:
    return sorted((a.kind, a.severity) for a in gs.alerts)


def alert(gs: GroupStatus, kind: str) -> Alert:
    found = [a for a in gs.alerts if a.kind == kind]
    assert len(found) == 1, gs.alerts
    return found[0]


# -- a healthy group -------------------------------------------------------------------------------


def test_a_healthy_group_is_ok_with_every_member_on_both_sites() -> None:
    gs = status()
    assert gs.alerts == []
    assert gs.health == "ok"
    assert (gs.group, gs.primary, gs.epoch) == ("web", A, 3)
    assert [(m.kind, m.name) for m in gs.members] == [
        ("rbd", "rbd/vm-1"),
        ("rbd", "rbd/vm-2"),
        ("fs", "cephfs:/shared"),
    ]
    vm1 = gs.members[0]
    assert set(vm1.sites) == {A, B}
    assert (vm1.sites[A].role, vm1.sites[B].role) == ("primary", "non_primary")
    assert gs.rpo_lag_s == 200.0  # the worst member


@pytest.mark.parametrize("primary", [A, B])
def test_a_member_lag_is_its_non_primary_copys(primary: SiteName) -> None:
    other = B if primary == A else A
    sts: dict[str, SiteStatus | None] = {
        primary: site_status(
            primary,
            [primary_image("rbd/vm-1", rpo_lag_s=5000.0), primary_image("rbd/vm-2", rpo_lag_s=5000.0)],
            [dir_status("cephfs", "/shared", peer_site=other)],
        ),
        other: site_status(
            other,
            [image("rbd/vm-1", rpo_lag_s=100.0), image("rbd/vm-2", rpo_lag_s=200.0)],
        ),
    }
    gs = status(group(primary=primary), sts)
    assert [m.rpo_lag_s for m in gs.members[:2]] == [100.0, 200.0]
    assert gs.alerts == []


def test_health_is_unknown_when_a_site_has_not_reported() -> None:
    sts = statuses()
    sts[B] = None
    gs = status(sts=sts)
    assert gs.alerts == []
    assert gs.health == "unknown"


# -- lag -------------------------------------------------------------------------------------------


LAG_CASES = [
    (2 * INTERVAL - 1, None),
    (2 * INTERVAL, None),  # exactly 2x: not above it
    (2 * INTERVAL + 0.5, "warning"),
    (3 * INTERVAL - 0.5, "warning"),
    (3 * INTERVAL, "critical"),  # exactly 3x: at least 3x
    (10 * INTERVAL, "critical"),
]
HEALTH = {None: "ok", "warning": "warning", "critical": "error"}


@pytest.mark.parametrize(("lag", "severity"), LAG_CASES)
def test_rbd_lag_alerts_at_2x_and_3x_the_interval(lag: float, severity: str | None) -> None:
    gs = status(sts=statuses(b_images=[image("rbd/vm-1", rpo_lag_s=lag), image("rbd/vm-2")]))
    lags = [a for a in gs.alerts if a.kind == "lag"]
    assert [(a.severity, a.member) for a in lags] == ([] if severity is None else [(severity, "rbd/vm-1")])
    assert gs.health == HEALTH[severity]
    assert gs.rpo_lag_s == lag


@pytest.mark.parametrize(("lag", "severity"), LAG_CASES)
def test_fs_lag_alerts_at_2x_and_3x_the_interval(lag: float, severity: str | None) -> None:
    gs = status(sts=statuses(a_dirs=[dir_status("cephfs", "/shared", rpo_lag_s=lag)]))
    lags = [a for a in gs.alerts if a.kind == "lag"]
    assert [(a.severity, a.member) for a in lags] == (
        [] if severity is None else [(severity, "cephfs:/shared")]
    )
    assert gs.health == HEALTH[severity]


def test_lag_alerts_follow_the_groups_interval() -> None:
    rec = group(interval="1h")
    gs = status(rec, statuses(b_images=[image("rbd/vm-1", rpo_lag_s=2 * 3600.0), image("rbd/vm-2")]))
    assert gs.alerts == []
    gs = status(rec, statuses(b_images=[image("rbd/vm-1", rpo_lag_s=3 * 3600.0), image("rbd/vm-2")]))
    assert kinds(gs) == [("lag", "critical")]


def test_fs_lag_is_judged_against_the_fs_schedule() -> None:
    rec = group(interval="15m", fs_interval="1h")
    # 50 minutes since the last hourly snapshot: less than 2x the fs schedule, nothing to report
    gs = status(rec, statuses(a_dirs=[dir_status("cephfs", "/shared", rpo_lag_s=50 * 60.0)]))
    assert [a for a in gs.alerts if a.kind == "lag"] == []


# -- roles -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [A, B])
def test_split_brain_is_critical(side: str) -> None:
    a_images = [primary_image("rbd/vm-1"), primary_image("rbd/vm-2")]
    b_images = [image("rbd/vm-1"), image("rbd/vm-2")]
    if side == A:
        a_images[1] = primary_image("rbd/vm-2", split_brain=True)
    else:
        b_images[1] = image("rbd/vm-2", state=ImageState.ERROR, split_brain=True)
    gs = status(sts=statuses(a_images=a_images, b_images=b_images))
    a = alert(gs, "split_brain")
    assert (a.severity, a.member) == ("critical", "rbd/vm-2")
    assert gs.health == "error"
    assert gs.members[1].sites[side].split_brain


def test_two_primaries_is_critical_and_names_both_sites() -> None:
    gs = status(sts=statuses(b_images=[image("rbd/vm-1"), primary_image("rbd/vm-2")]))
    a = alert(gs, "two_primaries")
    assert (a.severity, a.member) == ("critical", "rbd/vm-2")
    assert A in a.message and B in a.message
    assert gs.health == "error"
    assert not [x for x in gs.alerts if x.kind == "no_primary"]


def test_an_image_not_primary_on_the_groups_primary_is_a_warning() -> None:
    gs = status(sts=statuses(a_images=[primary_image("rbd/vm-1"), image("rbd/vm-2")]))
    a = alert(gs, "no_primary")
    assert (a.severity, a.member) == ("warning", "rbd/vm-2")
    assert gs.health == "warning"


# -- sites -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("info", ["dead", "never-seen"])
def test_a_site_not_alive_is_critical(info: str) -> None:
    sites = dict(ALIVE)
    if info == "dead":
        sites[B] = SiteInfo(site=B, alive=False, cluster_reachable=False)
    else:
        del sites[B]
    gs = status(sites=sites)
    a = alert(gs, "site_down")
    assert (a.severity, a.site) == ("critical", B)
    assert gs.health == "error"


def test_a_daemon_down_is_a_warning() -> None:
    sts = statuses()
    b = sts[B]
    assert b is not None
    sts[B] = site_status(B, b.images, daemons=[daemon("b1", up=False), daemon("b2", up=True)])
    gs = status(sts=sts)
    a = alert(gs, "daemon_down")
    assert (a.severity, a.site) == ("warning", B)
    assert "b1" in a.message


# -- mirroring -------------------------------------------------------------------------------------


def test_an_image_missing_on_a_reporting_site_is_not_mirrored() -> None:
    gs = status(sts=statuses(b_images=[image("rbd/vm-1")]))
    a = alert(gs, "not_mirrored")
    assert (a.severity, a.member) == ("warning", "rbd/vm-2")
    assert B in a.message
    assert set(gs.members[1].sites) == {A}


def test_a_site_that_has_not_reported_is_not_called_unmirrored() -> None:
    sts = statuses()
    sts[B] = None
    assert not [a for a in status(sts=sts).alerts if a.kind == "not_mirrored"]


def test_a_directory_the_primary_does_not_mirror_is_not_mirrored() -> None:
    gs = status(sts=statuses(a_dirs=[dir_status("cephfs", "/elsewhere")]))
    a = alert(gs, "not_mirrored")
    assert a.member == "cephfs:/shared"
    fs_member = gs.members[-1]
    assert (fs_member.kind, fs_member.sites, fs_member.rpo_lag_s) == ("fs", {}, None)


def test_an_fs_member_is_read_from_the_current_primarys_dir_status() -> None:
    rec = group(primary=B)
    sts = {
        # the old sender still reports the dir, stale: not what the member is judged on
        A: site_status(
            A, [image("rbd/vm-1"), image("rbd/vm-2")], [dir_status("cephfs", "/shared", rpo_lag_s=1e6)]
        ),
        B: site_status(
            B,
            [primary_image("rbd/vm-1"), primary_image("rbd/vm-2")],
            [dir_status("cephfs", "/shared", peer_site=A, rpo_lag_s=30.0, failure_reason=None)],
        ),
    }
    gs = status(rec, sts)
    fs_member = gs.members[-1]
    assert set(fs_member.sites) == {B}
    on_b = fs_member.sites[B]
    assert (on_b.role, on_b.state, fs_member.rpo_lag_s) == ("source", "idle", 30.0)
    assert gs.alerts == []


def test_a_whole_pool_member_lists_what_the_sites_report_in_the_pool() -> None:
    s = spec(rbd_members=[rbd("jpool", mode="journal")])
    sts: dict[str, SiteStatus | None] = {
        A: site_status(A, [primary_image("jpool/a"), primary_image("jpool/b"), primary_image("rbd/x")]),
        B: site_status(B, [image("jpool/a")]),
    }
    gs = view.group_status(record(s), sts, ALIVE)
    assert [m.name for m in gs.members] == ["jpool/a", "jpool/b"]
    assert alert(gs, "not_mirrored").member == "jpool/b"


# -- group-level -----------------------------------------------------------------------------------


def test_a_group_owing_a_failback_says_so() -> None:
    sts: dict[str, SiteStatus | None] = {
        A: site_status(A, [image("rbd/vm-1"), image("rbd/vm-2")]),
        B: site_status(
            B, [primary_image("rbd/vm-1"), primary_image("rbd/vm-2")], [dir_status("cephfs", "/shared")]
        ),
    }
    assert status(group(primary=B), sts).alerts == []
    gs = status(group(primary=B, owed=A), sts)
    a = alert(gs, "failback_needed")
    assert (a.severity, a.site) == ("warning", A)
    assert gs.health == "warning"


def _op(state: str) -> OpRecord:
    return OpRecord(
        op_id=OpId("op-7"),
        kind="planned_failover",
        group=GroupName("web"),
        state=state,  # type: ignore[arg-type]
        steps=[StepRecord(name="s", action="check.sites", state="failed")],
        message="step 1 (s) failed: boom",
    )


def test_a_failed_last_operation_is_a_warning() -> None:
    gs = status(last_op=_op("failed"))
    a = alert(gs, "op_failed")
    assert a.severity == "warning"
    assert "op-7" in a.message and "boom" in a.message
    assert gs.last_op == _op("failed")


@pytest.mark.parametrize("state", ["succeeded", "running", "cancelled"])
def test_other_last_operations_raise_nothing(state: str) -> None:
    assert status(last_op=_op(state)).alerts == []


def test_alert_key_tells_alerts_apart_by_kind_site_and_member() -> None:
    def key(kind: str, severity: str = "warning", message: str = "", **kw: Any) -> str:
        return view.alert_key(Alert(kind=kind, severity=severity, message=message, **kw))  # type: ignore[arg-type]

    lag = key("lag", member="rbd/vm-1")
    assert lag == key("lag", "critical", "worse", member="rbd/vm-1")  # same alert, new severity
    assert lag != key("lag", member="rbd/vm-2")
    assert lag != key("split_brain", member="rbd/vm-1")
    assert key("site_down", site=A) != key("site_down", site=B)
