"""diff / carry_forward / counts, the wire form of status and events, and the no-I/O contract."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from agent.status.diff import (
    SCOPE_RBD,
    SCOPE_RBD_MIRROR,
    carry_forward,
    counts,
    diff,
    pool_scope,
    scope_error,
)
from agent.status.normalize import (
    cephfs_mirror_daemons,
    dir_statuses,
    image_status_from_cli,
    pool_summary,
    rbd_schedules,
)
from schemas.ids import SiteName
from schemas.status import (
    EVENT_SUBJECTS,
    Change,
    DaemonEvent,
    DirEvent,
    Event,
    Heartbeat,
    ImageEvent,
    ImageState,
    PoolEvent,
    Role,
    ScheduleEvent,
    SiteStatus,
    event_subject,
    event_type,
)

DATA = Path(__file__).parent / "data" / "b3"
NOW = 1795242300.0
SITE = SiteName("site-b")


def b3(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


def site(
    images: list[str],
    *,
    now: float = NOW,
    fs: str = "fs_idle_after_syncs",
    errors: list[str] | None = None,
    reachable: bool = True,
    pairs: list[tuple[int, int]] | None = None,
    **overrides: Any,
) -> SiteStatus:
    imgs = sorted((image_status_from_cli(b3(n), pool="rbd", now=now) for n in images), key=lambda i: i.image)
    return SiteStatus(
        site=SITE,
        taken_at=now,
        cluster_reachable=reachable,
        peer_reachable={"site-a": True},
        pools=[pool_summary("rbd", 1, pairs if pairs is not None else [(4, len(imgs))])],
        images=imgs,
        dirs=dir_statuses(
            "myfs",
            b3(fs),
            peer_uuid="u",
            peer_site="site-a",
            snap_times={"/dir": {"snapbig": now - 60}},
            now=now,
        ),
        daemons=cephfs_mirror_daemons(b3("fs_daemon_status_failed")),
        schedules=rbd_schedules(
            {"1": {"name": "rbd/", "schedule": [{"interval": "1m", "start_time": None}]}}
        ),
        errors=errors or [],
        **overrides,
    )


def test_first_scan_reports_everything_added() -> None:
    events = diff(None, site(["snapshot_nonprimary_idle", "journal_lagging"]))
    assert [(type(e).__name__, e.change) for e in events] == [
        ("PoolEvent", Change.ADDED),
        ("ImageEvent", Change.ADDED),
        ("ImageEvent", Change.ADDED),
        ("DirEvent", Change.ADDED),
        ("DaemonEvent", Change.ADDED),
        ("ScheduleEvent", Change.ADDED),
    ]
    imgs = [e for e in events if isinstance(e, ImageEvent)]
    assert [e.image for e in imgs] == ["jimg", "sfo1"]  # sorted by (pool, image)
    assert all(e.previous is None and e.status is not None for e in imgs)


def test_no_event_when_only_noise_changes() -> None:
    a = site(["snapshot_nonprimary_idle", "journal_nonprimary_caught_up"], now=NOW)
    # 30 s later: lag grew, last_update ticked, bytes_per_second changed
    raw = b3("snapshot_nonprimary_idle")
    raw["last_update"] = "2026-11-21 06:25:23"
    raw["description"] = raw["description"].replace('"bytes_per_second":1048576.0', '"bytes_per_second":7.5')
    b = site(["journal_nonprimary_caught_up"], now=NOW + 30, pairs=[(4, 2)])
    b = msgspec.structs.replace(
        b,
        images=sorted(
            [*b.images, image_status_from_cli(raw, pool="rbd", now=NOW + 30)], key=lambda i: i.image
        ),
    )
    assert a.images[1].rpo_lag_s != b.images[1].rpo_lag_s
    assert diff(a, b) == []


def test_state_change_event_carries_previous() -> None:
    a = site(["journal_nonprimary_caught_up"])
    b = site(["journal_lagging"])  # same image jimg, now behind
    (e,) = [e for e in diff(a, b) if isinstance(e, ImageEvent)]
    assert e.change is Change.CHANGED and e.fields == ["caught_up"]
    assert e.previous is not None and e.previous.caught_up is True
    assert e.status is not None and e.status.caught_up is False


def test_split_brain_event() -> None:
    a = site(["journal_primary"])
    b = site(["journal_split_brain_a"])
    (e,) = [e for e in diff(a, b) if isinstance(e, ImageEvent)]
    assert {"state", "role", "split_brain", "healthy", "alerts"} <= set(e.fields)
    assert (
        e.previous is not None and e.previous.role is Role.PRIMARY and e.previous.state is ImageState.STOPPED
    )
    assert e.status is not None and e.status.split_brain


def test_down_event() -> None:
    (e,) = [
        e
        for e in diff(site(["journal_first_sync"]), site(["journal_down_stopped"]))
        if isinstance(e, ImageEvent)
    ]
    assert "up" in e.fields and e.previous is not None and e.previous.up is True


def test_removed_image() -> None:
    a = site(["snapshot_nonprimary_idle", "journal_lagging"])
    b = site(["journal_lagging"])
    (e,) = [e for e in diff(a, b) if isinstance(e, ImageEvent)]
    assert (e.change, e.image, e.status) == (Change.REMOVED, "sfo1", None)
    assert e.previous is not None and e.previous.state is ImageState.REPLAYING


def test_failed_scope_reports_no_removal_and_carry_forward_keeps_entries() -> None:
    a = site(["snapshot_nonprimary_idle", "journal_lagging"])
    b = msgspec.structs.replace(
        site([], pairs=[]), pools=[], errors=[scope_error(pool_scope("rbd"), "timed out")]
    )
    assert [e for e in diff(a, b) if isinstance(e, ImageEvent | PoolEvent)] == []
    kept = carry_forward(a, b)
    assert kept.images == a.images and kept.pools == a.pools and kept.errors == b.errors
    assert diff(a, kept) == []


def test_whole_rbd_scope_failed() -> None:
    a = site(["snapshot_nonprimary_idle"])
    b = msgspec.structs.replace(
        site([], pairs=[]), pools=[], errors=[scope_error(SCOPE_RBD, "listing pools")]
    )
    assert [e for e in diff(a, b) if isinstance(e, ImageEvent | PoolEvent)] == []
    assert carry_forward(a, b).images == a.images


def test_unreachable_cluster_reports_no_removal() -> None:
    a = site(["journal_lagging"])
    b = SiteStatus(site=SITE, taken_at=NOW + 5, cluster_reachable=False)
    assert diff(a, b) == []
    assert carry_forward(a, b).images == a.images


def test_daemon_scope() -> None:
    a = site([])
    b = site([], errors=[scope_error(SCOPE_RBD_MIRROR, "x")])
    b = msgspec.structs.replace(b, daemons=[])
    (e,) = diff(a, b)  # cephfs-mirror vanished: its scope did not fail
    assert isinstance(e, DaemonEvent) and e.change is Change.REMOVED and e.previous is not None


def test_dir_events() -> None:
    a = site([], fs="fs_idle_after_syncs")
    b = site([], fs="fs_syncing")
    c = site([], fs="fs_failed_recovering")
    (e1,) = diff(a, b)
    assert isinstance(e1, DirEvent) and e1.fields == ["state"]
    (e2,) = diff(b, c)
    assert isinstance(e2, DirEvent) and set(e2.fields) == {"state", "last_synced_snap", "healthy", "alerts"}
    assert e2.previous is not None and e2.previous.last_synced_snap is not None


def test_pool_and_schedule_events() -> None:
    a = site(["journal_lagging"])
    b = site(["journal_lagging"], pairs=[(1, 1)])
    (e,) = diff(a, b)
    assert isinstance(e, PoolEvent) and {"health", "image_health", "states"} <= set(e.fields)
    c = msgspec.structs.replace(
        a,
        schedules=rbd_schedules(
            {"1": {"name": "rbd/", "schedule": [{"interval": "5m", "start_time": None}]}}
        ),
    )
    assert [(type(x).__name__, x.change) for x in diff(a, c)] == [
        ("ScheduleEvent", Change.REMOVED),
        ("ScheduleEvent", Change.ADDED),
    ]  # 1m, then 5m


def test_counts() -> None:
    s = site(
        ["snapshot_nonprimary_idle", "journal_split_brain_a", "journal_down_stopped", "snapshot_primary"]
    )
    c = counts(s)
    assert c.images_total == 4 and c.dirs_total == 1
    assert c.image_states == {"error": 1, "replaying": 1, "stopped": 2}
    assert c.image_roles == {"non_primary": 2, "primary": 1, "unknown": 1}
    assert (c.images_down, c.images_split_brain, c.images_unhealthy, c.dirs_unhealthy) == (1, 1, 2, 0)
    assert c.dir_states == {"idle": 1}
    assert c.max_rpo_lag_s == 60  # the dir (60 s) lags more than the images (32 s)


# -- wire form ---------------------------------------------------------------------------------------


def test_site_status_round_trip() -> None:
    s = site(["snapshot_nonprimary_syncing", "journal_primary", "journal_after_enable"])
    data = msgspec.json.encode(s)
    assert msgspec.json.decode(data, type=SiteStatus) == s
    assert b'"seconds_until_synced"' not in data  # None omitted


def test_events_round_trip_and_subjects() -> None:
    a = site(["snapshot_nonprimary_idle"])
    b = site(["snapshot_split_brain_a"], fs="fs_failed")
    events = diff(None, a) + diff(a, b)
    kinds = {type(e) for e in events}
    assert kinds == {ImageEvent, DirEvent, DaemonEvent, PoolEvent, ScheduleEvent}
    for e in events:
        data = msgspec.json.encode(e)
        assert msgspec.json.decode(data, type=Event) == e
        assert json.loads(data)["type"] == event_type(e)
        assert event_subject(e) == f"cephdr.evt.site-b.{EVENT_SUBJECTS[event_type(e)]}"
    assert set(EVENT_SUBJECTS.values()) == {"rbd.image", "rbd.pool", "fs.dir", "daemon", "schedule"}


def test_heartbeat() -> None:
    s = site(["snapshot_nonprimary_idle"])
    hb = Heartbeat(
        site=SITE,
        version="0.1.0",
        public_key="AAAA",
        seq=3,
        sent_at=NOW,
        cluster_reachable=True,
        peer_reachable={"site-a": None},
        counts=counts(s),
        scan_age_s=1.5,
        fenced_groups=["g1"],
    )
    assert msgspec.json.decode(msgspec.json.encode(hb), type=Heartbeat) == hb
    assert event_subject(hb, prefix="x") == "x.evt.site-b.heartbeat"


# -- properties --------------------------------------------------------------------------------------

NAMES = sorted(p.stem for p in DATA.glob("*.json") if p.stem.startswith(("journal", "snapshot")))


@given(st.lists(st.sampled_from(NAMES), max_size=6), st.floats(min_value=1.7e9, max_value=1.9e9))
def test_diff_of_itself_is_empty(names: list[str], now: float) -> None:
    # the same image name may appear under several fixtures: keep one per name
    s = site(sorted(set(names)), now=now)
    s = msgspec.structs.replace(s, images=list({i.image: i for i in s.images}.values()))
    assert diff(s, s) == []
    assert diff(None, s) == diff(None, msgspec.json.decode(msgspec.json.encode(s), type=SiteStatus))


@given(st.lists(st.sampled_from(NAMES), max_size=5), st.lists(st.sampled_from(NAMES), max_size=5))
def test_diff_is_presence_consistent(a_names: list[str], b_names: list[str]) -> None:
    a, b = site(sorted(set(a_names))), site(sorted(set(b_names)))
    a = msgspec.structs.replace(a, images=list({i.image: i for i in a.images}.values()))
    b = msgspec.structs.replace(b, images=list({i.image: i for i in b.images}.values()))
    imgs = [e for e in diff(a, b) if isinstance(e, ImageEvent)]
    before, after = {i.image for i in a.images}, {i.image for i in b.images}
    assert {e.image for e in imgs if e.change is Change.ADDED} == after - before
    assert {e.image for e in imgs if e.change is Change.REMOVED} == before - after


# -- no I/O in agent/status --------------------------------------------------------------------------

FORBIDDEN = {"nats", "rados", "rbd", "cephfs", "socket", "subprocess", "asyncio"}


def test_status_package_does_no_io() -> None:
    root = Path(__file__).resolve().parents[2] / "agent" / "status"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
