"""The operator CLI's tables and lines (cli/tables.py): exact text from fixed records. Pure."""

from __future__ import annotations

import pytest

from cli import tables
from schemas.ctl import (
    Alert,
    CtlOpEvent,
    FleetStatus,
    GroupStatus,
    MemberSite,
    MemberStatus,
    OpRecord,
    SiteInfo,
    StepRecord,
)
from schemas.errors import ErrorBody
from schemas.group import GroupRecord, GroupSpec, Owed, RbdMember
from schemas.ids import GroupName, OpId, SiteName

A, B = SiteName("site-a"), SiteName("site-b")
T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC


def member(name: str, a: MemberSite, b: MemberSite | None, lag: float | None) -> MemberStatus:
    sites = {"site-a": a} | ({"site-b": b} if b else {})
    return MemberStatus(kind="rbd", name=name, sites=sites, rpo_lag_s=lag)


def web(**kw: object) -> GroupStatus:
    base: dict[str, object] = dict(
        group=GroupName("web"),
        primary=A,
        epoch=3,
        health="ok",
        rpo_lag_s=12.34,
        members=[
            member(
                "rbd/vm-1",
                MemberSite(role="primary", state="stopped"),
                MemberSite(role="non_primary", state="replaying"),
                12.34,
            ),
            member(
                "rbd/db-1",
                MemberSite(role="primary", state="stopped"),
                MemberSite(role="non_primary", state="error", split_brain=True, up=False),
                None,
            ),
        ],
    )
    return GroupStatus(**(base | kw))  # type: ignore[arg-type]


class TestTable:
    def test_pads_columns_to_the_widest_cell_without_trailing_spaces(self) -> None:
        out = tables.table(["A", "LONG"], [["xyz", "1"], ["q", ""]])
        assert out.splitlines() == ["A    LONG", "xyz  1", "q"]

    def test_refuses_a_row_of_the_wrong_width(self) -> None:
        with pytest.raises(ValueError, match="2 cells"):
            tables.table(["A"], [["x", "y"]])


class TestDuration:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [(None, "-"), (0.25, "250ms"), (12.34, "12.3s"), (245, "4m05s"), (7380, "2h03m"), (273600, "3d04h")],
    )
    def test_reads_at_a_glance(self, seconds: float | None, text: str) -> None:
        assert tables.duration(seconds) == text


class TestStatus:
    def test_fleet_shows_sites_and_each_group_with_state_primary_lag_and_alerts(self) -> None:
        st = FleetStatus(
            sites=[
                SiteInfo(
                    site=A,
                    alive=True,
                    age_s=1.5,
                    cluster_reachable=True,
                    peer_reachable={"site-b": True},
                    version="0.1.0",
                ),
                SiteInfo(site=B, alive=False, age_s=95, cluster_reachable=None),
            ],
            groups=[
                web(
                    health="error",
                    alerts=[
                        Alert(
                            kind="split_brain",
                            severity="critical",
                            message="rbd/db-1 split-brain on site-b",
                            site=B,
                            member="rbd/db-1",
                        ),
                        Alert(kind="site_down", severity="critical", message="site-b: agent silent", site=B),
                    ],
                )
            ],
        )
        assert tables.fleet(st) == (
            "Sites\n"
            "SITE    AGENT  SEEN   CLUSTER  PEERS       FENCED  VERSION\n"
            "site-a  up     1.5s   yes      site-b:yes  -       0.1.0\n"
            "site-b  DOWN   1m35s  -        -           -       -\n"
            "\n"
            "Groups\n"
            "GROUP  STATE  PRIMARY  EPOCH  RPO LAG  MEMBERS  RUNNING OP  ALERTS\n"
            "web    ERROR  site-a   3      12.3s    2        -           "
            "2 (2 critical): site_down,split_brain"
        )

    def test_a_site_view_keeps_that_site_and_its_groups_members(self) -> None:
        st = FleetStatus(sites=[SiteInfo(site=A, alive=True), SiteInfo(site=B, alive=True)], groups=[web()])
        out = tables.fleet(st, "site-b")
        assert "site-a  up" not in out and "site-b  up" in out
        assert "web on site-b" in out
        assert "non_primary error SPLIT-BRAIN down" in out

    def test_group_detail_has_every_member_on_each_site_and_the_alerts(self) -> None:
        g = web(active_op=OpId("plan-1"), alerts=[Alert(kind="lag", severity="warning", message="lag 3m")])
        lines = tables.group_detail(g).splitlines()
        assert lines[0] == "Group web: OK, primary site-a (epoch 3), worst RPO lag 12.3s"
        assert lines[1] == "Running operation: plan-1"
        assert lines[3] == "MEMBER    KIND  SITE-A           SITE-B                              RPO LAG"
        assert lines[4] == "rbd/vm-1  rbd   primary stopped  non_primary replaying               12.3s"
        assert lines[5] == "rbd/db-1  rbd   primary stopped  non_primary error SPLIT-BRAIN down  -"
        assert lines[-1] == "WARNING   lag    -     -       lag 3m"

    def test_no_alert_is_said_plainly(self) -> None:
        assert tables.group_detail(web()).endswith("No alerts.")


def op(state: str = "succeeded", kind: str = "planned_failover", **kw: object) -> OpRecord:
    steps = [
        StepRecord(
            name="agents alive", action="check.sites", state="done", started_at=T0, finished_at=T0 + 0.1
        ),
        StepRecord(
            name="demote web on site-a",
            action="rbd.demote",
            site=A,
            state="done",
            started_at=T0 + 1,
            finished_at=T0 + 3,
            point_of_no_return=True,
            message="2 changed",
        ),
        StepRecord(
            name="promote web on site-b",
            action="rbd.promote",
            site=B,
            state="failed" if state == "failed" else "done",
            started_at=T0 + 3,
            finished_at=T0 + 65,
            error=ErrorBody(code="busy", message="EBUSY from librbd") if state == "failed" else None,
        ),
    ]
    base: dict[str, object] = dict(
        op_id=OpId("plan-20260921-1"),
        kind=kind,
        group=GroupName("web"),
        source=A,
        target=B,
        state=state,
        steps=steps,
        created_at=T0,
        finished_at=T0 + 65,
        epoch=4,
        actor="alice",
    )
    return OpRecord(**(base | kw))  # type: ignore[arg-type]


class TestOps:
    def test_list_one_line_per_operation(self) -> None:
        out = tables.ops_table([op()], now=T0 + 100).splitlines()
        assert out[0].split() == [
            "OP",
            "KIND",
            "GROUP",
            "MOVE",
            "STATE",
            "STEPS",
            "STARTED",
            "(UTC)",
            "TOOK",
            "BY",
        ]
        assert out[1].split() == [
            "plan-20260921-1",
            "planned_failover",
            "web",
            "site-a->site-b",
            "succeeded",
            "3/3",
            "2026-09-21",
            "14:13:20",
            "1m05s",
            "alice",
        ]

    def test_a_running_operation_counts_its_time_until_now(self) -> None:
        running = op(state="running", finished_at=None)
        assert "40.0s" in tables.ops_table([running], now=T0 + 40)

    def test_show_marks_the_point_of_no_return_and_the_failed_step(self) -> None:
        out = tables.op_detail(
            op(state="failed", error=ErrorBody(code="busy", message="EBUSY")), now=T0 + 100
        )
        assert (
            out.splitlines()[0] == "Operation plan-20260921-1: planned_failover of web site-a->site-b, FAILED"
        )
        assert "Error: busy: EBUSY" in out
        assert "demote web on site-a (!)" in out
        assert "failed  promote web on site-b" in out and "EBUSY from librbd" in out
        assert out.endswith("once this step started")


class TestProgressAndSummary:
    def ev(self, **kw: object) -> CtlOpEvent:
        base: dict[str, object] = dict(
            at=T0 + 3,
            op_id=OpId("plan-1"),
            kind="planned_failover",
            group=GroupName("web"),
            state="running",
            step="demote web on site-a",
            step_state="done",
            done=4,
            total=22,
            message="demote web on site-a: 2 changed",
        )
        return CtlOpEvent(**(base | kw))  # type: ignore[arg-type]

    def test_a_step_line_says_the_time_the_count_and_the_message_once(self) -> None:
        assert (
            tables.progress_line(self.ev(), T0) == "[   3.0s]  4/22 done     demote web on site-a: 2 changed"
        )

    def test_a_running_step_shows_its_name(self) -> None:
        line = tables.progress_line(self.ev(step_state="running", message="old"), T0)
        assert line == "[   3.0s]  4/22 running  demote web on site-a"

    def test_the_operation_end(self) -> None:
        line = tables.progress_line(
            self.ev(step=None, step_state=None, state="succeeded", message="done"), T0
        )
        assert line == "[   3.0s] operation plan-1 succeeded: done"

    def test_planned_summary_states_rpo_zero_steps_and_duration(self) -> None:
        out = tables.summary(op(), now=T0 + 100).splitlines()
        assert out[0] == "planned_failover of web SUCCEEDED (site-a -> site-b) in 1m05s"
        assert "  steps: 3/3 done" in out and "  epoch: 4" in out
        assert any(line.startswith("  RPO: 0 ") for line in out)
        assert out[-1] == "  details: cephdr ops show plan-20260921-1"

    def test_forced_summary_bounds_the_loss_by_the_lag_before(self) -> None:
        out = tables.summary(op(kind="unplanned_failover"), now=T0, rpo_lag_s=42.0)
        assert "RPO: up to 42.0s of writes" in out

    def test_a_failed_operation_names_its_failed_step_and_no_rpo(self) -> None:
        out = tables.summary(op(state="failed"), now=T0)
        assert "FAILED" in out and "failed at: promote web on site-b: EBUSY from librbd" in out
        assert "RPO" not in out


class TestGroupsAndEvents:
    def test_groups_table_shows_a_pending_failback(self) -> None:
        spec = GroupSpec(
            name=GroupName("web"),
            sites=[A, B],
            primary=A,
            rbd=[RbdMember(pool="rbd", images=["vm-1", "vm-2"])],
        )  # type: ignore[list-item]
        rec = GroupRecord(
            spec=spec, primary=B, epoch=2, owed=Owed(site=A, since_epoch=2, reason="forced failover")
        )
        row = tables.groups_table([rec]).splitlines()[1].split()
        assert row == ["web", "site-b", "site-a", "2", "2", "no", "-", "to", "site-a", "-"]

    def test_event_lines_give_the_gist_of_each_kind(self) -> None:
        alert = {
            "type": "cephdr.ctl.alert.v1",
            "at": T0,
            "group": "web",
            "raised": True,
            "alert": {"kind": "lag", "severity": "warning", "message": "vm-1 lag 3m"},
        }
        assert (
            tables.event_line("cephdr.ctl.evt.alert", alert)
            == "14:13:20 cephdr.ctl.evt.alert web: RAISED lag vm-1 lag 3m"
        )
        pool = {"type": "cephdr.rbd.pool.v1", "site": "site-a", "at": T0, "change": "added", "pool": "rbd"}
        assert (
            tables.event_line("cephdr.evt.site-a.rbd.pool", pool)
            == "14:13:20 cephdr.evt.site-a.rbd.pool site=site-a change=added pool=rbd"
        )
