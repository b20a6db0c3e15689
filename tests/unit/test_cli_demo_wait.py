"""What `cephdr demo` waits for before and after each failover (lab/demo.py `not_mirrored`):
every image primary on the group's primary and replaying on the other site, every directory
synced, no operation running, no alert. Pure: status records in, reasons out."""

from __future__ import annotations

from lab.demo import not_mirrored
from schemas.ctl import Alert, FleetStatus, GroupStatus, MemberSite, MemberStatus
from schemas.ids import GroupName, OpId, SiteName

SITES = ["site-a", "site-b"]


def status(
    primary: str = "site-a", b_state: str = "replaying", fs_state: str = "idle", **kw: object
) -> FleetStatus:
    other = "site-b" if primary == "site-a" else "site-a"
    members = [
        MemberStatus(
            kind="rbd",
            name="demo/vm-1",
            sites={
                primary: MemberSite(role="primary", state="stopped"),
                other: MemberSite(role="non_primary", state=b_state),
            },
        ),
        MemberStatus(
            kind="fs", name="cephfs:/demo", sites={primary: MemberSite(role="source", state=fs_state)}
        ),
    ]
    g = GroupStatus(
        group=GroupName("demo"), primary=SiteName(primary), epoch=1, health="ok", members=members, **kw
    )  # type: ignore[arg-type]
    return FleetStatus(groups=[g])


def test_fully_mirrored_has_no_reason_to_wait() -> None:
    assert not_mirrored(status(), "site-a", SITES) == []
    assert not_mirrored(status("site-b"), "site-b", SITES) == []
    assert not_mirrored(status(), None, SITES) == []


def test_each_missing_piece_is_named() -> None:
    assert not_mirrored(status(b_state="syncing"), None, SITES) == ["demo/vm-1: syncing on site-b"]
    assert not_mirrored(status(fs_state="syncing"), None, SITES) == ["cephfs:/demo: syncing on site-a"]
    assert not_mirrored(status(), "site-b", SITES) == ["primary is site-a, not site-b"]


def test_a_running_operation_or_an_alert_keeps_it_waiting() -> None:
    assert not_mirrored(status(active_op=OpId("plan-1")), None, SITES) == ["operation plan-1 running"]
    alert = Alert(kind="not_mirrored", severity="warning", message="x")
    assert not_mirrored(status(alerts=[alert]), None, SITES) == ["alert not_mirrored"]


def test_an_unknown_group_is_not_mirrored() -> None:
    assert not_mirrored(FleetStatus(), None, SITES) == ["the controller has no such group"]
