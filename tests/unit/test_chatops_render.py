"""ChatOps rendering: replies, errors and the channel text of controller events (pure)."""

from __future__ import annotations

from bus.codec import encode
from chatops import render
from schemas.common import Accepted, Done
from schemas.ctl import (
    Alert,
    AlertEvent,
    CtlOpEvent,
    FleetStatus,
    GroupEvent,
    GroupStatus,
    MemberSite,
    MemberStatus,
    OpList,
    OpRecord,
    SiteInfo,
)
from schemas.errors import ConfirmationRequired, Conflict, DeadlineExceeded
from schemas.ids import GroupName, OpId, SiteName
from schemas.policy import Decision, DecisionEvent

G = GroupName("web")


def _op_event(**kw: object) -> bytes:
    base: dict[str, object] = {
        "at": 1.0,
        "op_id": OpId("plan-1"),
        "kind": "planned_failover",
        "group": G,
        "state": "running",
        "total": 7,
    }
    base.update(kw)
    return encode(CtlOpEvent(**base))  # type: ignore[arg-type]


def test_errors_lead_with_their_code() -> None:
    text = render.error("failover of web", Conflict("site-b is already the primary", where="$.to"))
    assert text == "failover of web refused [conflict]: site-b is already the primary (at $.to)"
    late = render.error("status", DeadlineExceeded("no reply on cephdr.ctl.status within 10s", where="x"))
    assert late.startswith("status failed [deadline_exceeded]: no reply")
    assert "[confirmation_required]" in render.error("x", ConfirmationRequired("say the name"))


def test_status_shows_sites_groups_alerts_and_members_for_one_group() -> None:
    st = FleetStatus(
        sites=[
            SiteInfo(site=SiteName("site-a"), alive=True),
            SiteInfo(site=SiteName("site-b"), alive=False, cluster_reachable=False),
        ],
        groups=[
            GroupStatus(
                group=G,
                primary=SiteName("site-a"),
                epoch=3,
                health="error",
                rpo_lag_s=912.4,
                members=[
                    MemberStatus(
                        kind="rbd",
                        name="rbd/vm1",
                        sites={"site-a": MemberSite(role="primary", split_brain=True)},
                        rpo_lag_s=912.4,
                    )
                ],
                alerts=[Alert(kind="site_down", severity="critical", message="site-b: agent silent")],
            )
        ],
    )
    fleet = render.status(st)
    assert "site-a up, site-b DOWN (cluster unreachable)" in fleet
    assert "web: primary site-a (epoch 3), health error, RPO lag 912s" in fleet
    assert "CRITICAL site_down: site-b: agent silent" in fleet
    assert "rbd/vm1" not in fleet
    one = render.status(st, "web")
    assert "rbd/vm1: site-a primary SPLIT-BRAIN, lag 912s" in one
    assert render.status(FleetStatus()) == "sites: none reported\nno protection groups"


def test_ops_show_who_asked() -> None:
    op = OpRecord(
        op_id=OpId("plan-1"),
        kind="planned_failover",
        group=G,
        source=SiteName("site-a"),
        target=SiteName("site-b"),
        state="failed",
        actor="chat:@alice",
        message="prechecks failed",
    )
    line = render.ops(OpList(ops=[op]))
    assert line.startswith("plan-1 planned_failover web site-a->site-b failed (0/0 steps) by chat:@alice")
    assert line.endswith(": prechecks failed")
    assert render.ops(OpList()) == "no operations"


def test_replies() -> None:
    acc = Accepted(op_id=OpId("plan-1"), events_subject="cephdr.ctl.evt.op")
    assert render.accepted("planned failover", "web", acc, "#dr") == (
        "planned failover of web accepted: operation plan-1; progress in #dr (or `!dr ops web`)"
    )
    assert render.done(Done(changed=False, message="pause lifted")) == "pause lifted (nothing to change)"
    prompt = render.confirm_prompt("@alice", "web", "site-b", 60)
    assert "FORCED failover of web to site-b" in prompt and "`!dr confirm web` within 60 s" in prompt


def test_op_events_progress_for_failovers_and_only_failures_for_reconciles() -> None:
    assert render.event("op", _op_event()) == "[web] planned failover plan-1 started (7 steps)"
    done = _op_event(step="demote on site-a", step_state="done", done=2)
    assert render.event("op", done) == "[web] planned failover plan-1 step 2/7 done: demote on site-a"
    assert render.event("op", done, steps=False) is None
    assert render.event("op", _op_event(step="x", step_state="running")) is None
    failed = _op_event(step="precheck", step_state="failed", message="rbd/vm1: no copy on site-b")
    assert render.event("op", failed) == (
        "[web] planned failover plan-1 step 0/7 failed: precheck (rbd/vm1: no copy on site-b)"
    )
    end = _op_event(state="succeeded", done=7, message="site-b is primary")
    assert render.event("op", end) == "[web] planned failover plan-1 SUCCEEDED (7/7 steps): site-b is primary"
    assert render.event("op", _op_event(kind="reconcile")) is None
    assert render.event("op", _op_event(kind="reconcile", state="succeeded")) is not None


def test_alert_and_decision_events() -> None:
    lag = Alert(
        kind="lag", severity="critical", member="rbd/vm1", message="rbd/vm1: RPO lag 950s is at least 3x"
    )
    assert render.event("alert", encode(AlertEvent(at=1, group=G, raised=True, alert=lag))) == (
        "[web] CRITICAL lag: rbd/vm1: RPO lag 950s is at least 3x"
    )
    assert render.event("alert", encode(AlertEvent(at=1, group=G, raised=False, alert=lag))) == (
        "[web] cleared lag: rbd/vm1: RPO lag 950s is at least 3x"
    )
    acted = DecisionEvent(
        at=1,
        group=G,
        primary=SiteName("site-a"),
        decision=Decision(verdict="failover", code="fail_over", reasons=["site-a lost for 75 s"]),
        acted=True,
        op_id=OpId("unpl-1"),
    )
    assert render.event("decision", encode(acted)) == (
        "[web] autopilot: failover (fail_over), started unpl-1: site-a lost for 75 s"
    )
    off = DecisionEvent(
        at=1, group=G, primary=SiteName("site-a"), decision=Decision(verdict="disabled", code="ok")
    )
    assert render.event("decision", encode(off)) is None
    moved = GroupEvent(at=1, group=G, change="primary", message="site-b is now primary of web")
    assert render.event("group", encode(moved)) == "[web] site-b is now primary of web"


def test_events_it_cannot_read_are_skipped_not_fatal() -> None:
    assert render.event("op", b"{not json") is None
    assert render.event("alert", b'{"type": "something.new"}') is None
    assert render.event("leader", b"{}") is None
