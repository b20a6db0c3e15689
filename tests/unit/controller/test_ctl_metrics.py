"""The controller's /metrics text (controller/metrics.py) from hand-built snapshots, read back with
an independent parser (prometheus_client's) and, where installed, checked by the real `promtool`."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
from ctl_unit_build import A, B, daemon, dir_status, fsm, image, primary_image, rbd, record, site_status, spec
from prometheus_client.parser import text_string_to_metric_families

from controller import metrics
from schemas.ctl import OpRecord, SiteInfo
from schemas.group import GroupRecord
from schemas.ids import GroupName, OpId, SiteName
from schemas.policy import Decision, DecisionEvent
from schemas.status import ImageState

Labels = frozenset[tuple[str, str]]


def parse(text: str) -> dict[tuple[str, Labels], float]:
    out: dict[tuple[str, Labels], float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def value(series: dict[tuple[str, Labels], float], name: str, **labels: str) -> float:
    return series[(name, frozenset(labels.items()))]


def group() -> GroupRecord:
    s = spec(rbd_members=[rbd("rbd", "vm-1")], fs_members=[fsm("cephfs", "/shared")], interval="5m")
    return record(s, epoch=4)


def op(op_id: str, kind: str, state: str, took: float, actor: str | None = None) -> OpRecord:
    return OpRecord(
        op_id=OpId(op_id), kind=kind, group=GroupName("web"), state=state,  # type: ignore[arg-type]
        created_at=1000.0, finished_at=None if state == "running" else 1000.0 + took, actor=actor,
    )


def snapshot(**kw: Any) -> metrics.Snapshot:
    statuses = {
        A: site_status(
            A,
            [primary_image("rbd/vm-1")],
            [dir_status("cephfs", "/shared", rpo_lag_s=42.0)],
            daemons=[daemon("rbd-mirror.a", up=True)],
        ),
        B: site_status(B, [image("rbd/vm-1", rpo_lag_s=700.0)], daemons=[daemon("rbd-mirror.b", up=False)]),
    }
    base: dict[str, Any] = dict(
        holder="ctl-1",
        leader=True,
        store_up=True,
        version="1.2.3",
        sites=[
            SiteInfo(site=A, alive=True, age_s=1.5, cluster_reachable=True, peer_reachable={"site-b": True}),
            SiteInfo(site=B, alive=False, age_s=99.0, cluster_reachable=False),
        ],
        groups=[group()],
        statuses=statuses,
    )
    base.update(kw)
    return metrics.Snapshot(**base)


def test_leader_sites_and_daemons() -> None:
    m = parse(metrics.render(snapshot()))
    assert value(m, "cephdr_controller_leader", holder="ctl-1") == 1
    assert value(m, "cephdr_build_info", version="1.2.3") == 1
    assert value(m, "cephdr_site_up", site="site-a") == 1
    assert value(m, "cephdr_site_up", site="site-b") == 0
    assert value(m, "cephdr_site_heartbeat_age_seconds", site="site-b") == 99.0
    assert value(m, "cephdr_site_peer_reachable", site="site-a", peer="site-b") == 1
    assert value(m, "cephdr_mirror_daemon_up", site="site-b", daemon="rbd-mirror", id="rbd-mirror.b") == 0
    standby = parse(metrics.render(snapshot(leader=False)))
    assert value(standby, "cephdr_controller_leader", holder="ctl-1") == 0


def test_image_series_per_site_with_lag_and_state() -> None:
    m = parse(metrics.render(snapshot()))
    lab = {"group": "web", "pool": "rbd", "image": "vm-1"}
    assert value(m, "cephdr_rbd_image_primary", site="site-a", **lab) == 1
    assert value(m, "cephdr_rbd_image_primary", site="site-b", **lab) == 0
    assert value(m, "cephdr_rbd_image_rpo_lag_seconds", site="site-b", **lab) == 700.0
    assert ("cephdr_rbd_image_rpo_lag_seconds", frozenset({**lab, "site": "site-a"}.items())) not in m
    states = {s: value(m, "cephdr_rbd_image_state", site="site-b", state=str(s), **lab) for s in ImageState}
    assert states.pop(ImageState.REPLAYING) == 1 and set(states.values()) == {0}
    assert value(m, "cephdr_rbd_image_split_brain", site="site-b", **lab) == 0


def test_group_interval_and_lag_alert_agree_with_the_view() -> None:
    m = parse(metrics.render(snapshot()))
    assert value(m, "cephdr_group_rbd_interval_seconds", group="web") == 300
    assert value(m, "cephdr_group_fs_interval_seconds", group="web") == 300  # fs follows rbd
    assert value(m, "cephdr_group_rpo_lag_seconds", group="web") == 700.0
    # 700 s is above 2x but below 3x the 300 s interval: the view raises a warning
    assert value(m, "cephdr_group_alerts", group="web", kind="lag", severity="warning") == 1
    assert value(m, "cephdr_group_alerts", group="web", kind="site_down", severity="critical") == 1
    assert value(m, "cephdr_group_health", group="web", health="error") == 1
    assert value(m, "cephdr_group_primary", group="web", site="site-a") == 1
    assert value(m, "cephdr_group_epoch", group="web") == 4


def test_fs_directory_series() -> None:
    m = parse(metrics.render(snapshot()))
    lab = {"group": "web", "site": "site-a", "fs": "cephfs", "path": "/shared"}
    assert value(m, "cephdr_fs_dir_rpo_lag_seconds", **lab) == 42.0
    assert value(m, "cephdr_fs_dir_state", state="idle", **lab) == 1
    assert value(m, "cephdr_fs_dir_healthy", **lab) == 1


def test_operations_counted_once_with_durations_and_triggers() -> None:
    tally = metrics.OpTally()
    ops = [
        op("o1", "unplanned_failover", "succeeded", 40.0, actor="controller:autopilot"),
        op("o2", "reconcile", "succeeded", 3.0, actor="controller:periodic"),
        op("o3", "planned_failover", "failed", 400.0, actor="alice"),
    ]
    tally.add(ops)
    tally.add(ops)  # the next scrape reads them again: counted once
    running = [op("o4", "failback", "running", 0)]
    tally.add(running)
    m = parse(metrics.render(snapshot(tally=tally, running=running)))
    c = "cephdr_operations_total"
    assert value(m, c, kind="unplanned_failover", state="succeeded", trigger="auto") == 1
    assert value(m, c, kind="reconcile", state="succeeded", trigger="periodic") == 1
    assert value(m, c, kind="planned_failover", state="failed", trigger="operator") == 1
    # every other combination exists at zero, so the first real failover is an increase
    assert value(m, c, kind="planned_failover", state="succeeded", trigger="operator") == 0
    assert sum(v for (n, _), v in m.items() if n == c) == 3
    h = {"kind": "planned_failover", "state": "failed"}
    assert value(m, "cephdr_operation_duration_seconds_bucket", le="300.0", **h) == 0
    assert value(m, "cephdr_operation_duration_seconds_bucket", le="600.0", **h) == 1
    assert value(m, "cephdr_operation_duration_seconds_bucket", le="+Inf", **h) == 1
    assert value(m, "cephdr_operation_duration_seconds_sum", **h) == 400.0
    assert value(m, "cephdr_operations_running", kind="failback") == 1


def test_autopilot_decisions() -> None:
    d = metrics.Decisions()
    ev = DecisionEvent(at=1.0, group=GroupName("web"), primary=SiteName("site-a"),
                       decision=Decision(verdict="failover", code="fail_over"), acted=True)
    d.observe(ev)
    d.observe(ev)
    m = parse(metrics.render(snapshot(decisions=d, last_decision={"web": ev})))
    assert value(m, "cephdr_autopilot_decisions_total", group="web", verdict="failover") == 2
    assert value(m, "cephdr_autopilot_verdict", group="web", verdict="failover", code="fail_over") == 1


def test_store_down_shows_what_memory_holds() -> None:
    m = parse(metrics.render(snapshot(store_up=False, groups=[])))
    assert value(m, "cephdr_controller_state_store_up") == 0
    assert value(m, "cephdr_site_up", site="site-a") == 1
    assert not [k for k in m if k[0] == "cephdr_operations_total"]


def test_label_values_are_escaped() -> None:
    text = metrics.render(snapshot(holder='a"b\\c\nd'))
    assert value(parse(text), "cephdr_controller_leader", holder='a"b\\c\nd') == 1


@pytest.mark.parametrize(
    ("listen", "want"),
    [("", None), ("127.0.0.1:9283", ("127.0.0.1", 9283)), ("[::1]:9283", ("::1", 9283)),
     ("0.0.0.0:1", ("0.0.0.0", 1))],
)
def test_parse_listen(listen: str, want: tuple[str, int] | None) -> None:
    assert metrics.parse_listen(listen) == want


@pytest.mark.parametrize("listen", ["9283", ":9283", "host:", "host:0", "host:70000", "host:x"])
def test_parse_listen_rejects(listen: str) -> None:
    with pytest.raises(ValueError, match="metrics_listen"):
        metrics.parse_listen(listen)


def test_promtool_accepts_the_text() -> None:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    tally = metrics.OpTally()
    tally.add([op("o1", "planned_failover", "succeeded", 30.0)])
    cp = subprocess.run([tool, "check", "metrics"], input=metrics.render(snapshot(tally=tally)),
                        capture_output=True, text=True, timeout=60, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr
