"""CephFS dir status, cephfs-mirror daemons and schedules from real 16.2.15 output (FINDINGS B.3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.status.normalize import (
    cephfs_mirror_daemons,
    dir_status,
    dir_statuses,
    fs_schedules,
    rbd_schedules,
)
from schemas.status import DirState, Health, SnapRef

DATA = Path(__file__).parent / "data" / "b3"
PEER = "f4bd9c3c-0000-4000-8000-000000000000"
NOW = 1_800_000_000.0


def b3(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


# name, state, last synced, syncing, snaps_synced, alerts
CASES: list[tuple[str, DirState, SnapRef | None, SnapRef | None, int, list[str]]] = [
    ("fs_idle_after_syncs", DirState.IDLE, SnapRef(name="snapbig", id=4), None, 3, []),
    ("fs_idle_registered_no_sync", DirState.IDLE, SnapRef(name="final-b", id=18), None, 0, []),
    ("fs_syncing", DirState.SYNCING, SnapRef(name="snapbig", id=4), SnapRef(name="snapmany", id=5), 3, []),
    ("fs_syncing_first", DirState.SYNCING, None, SnapRef(name="final-b", id=16), 0, ["no_synced_snapshot"]),
    ("fs_failed", DirState.FAILED, None, None, 0, ["failed", "no_synced_snapshot"]),
    ("fs_failed_recovering", DirState.FAILED, SnapRef(name="snap2", id=3), None, 2, ["failed"]),
]


@pytest.mark.parametrize(("name", "state", "last", "syncing", "synced", "alerts"), CASES)
def test_peer_status_examples(
    name: str, state: DirState, last: SnapRef | None, syncing: SnapRef | None, synced: int, alerts: list[str]
) -> None:
    (d,) = dir_statuses("myfs", b3(name), peer_uuid=PEER, peer_site="site-b", now=NOW)
    assert (d.fs, d.path, d.peer_uuid, d.peer_site) == ("myfs", "/dir", PEER, "site-b")
    assert (d.state, d.last_synced_snap, d.syncing_snap, d.snaps_synced) == (state, last, syncing, synced)
    assert d.alerts == alerts and d.healthy is (not alerts)
    assert d.rpo_lag_s is None  # no snapshot times given


def test_rpo_from_snapshot_creation_time_not_sync_time_stamp() -> None:
    raw = b3("fs_idle_after_syncs")["/dir"]
    d = dir_status(
        "myfs",
        "/dir",
        raw,
        peer_uuid=PEER,
        peer_site="site-b",
        snap_times={"snapbig": NOW - 120, "snap1": NOW - 999},
        now=NOW,
    )
    assert d.last_synced_snapshot_at == NOW - 120 and d.rpo_lag_s == 120
    assert d.last_sync_duration_s == pytest.approx(0.972000035)


def test_rpo_unknown_snapshot_time() -> None:
    raw = b3("fs_idle_after_syncs")["/dir"]
    d = dir_status("myfs", "/dir", raw, peer_uuid=PEER, peer_site=None, snap_times={"other": 1.0}, now=NOW)
    assert d.rpo_lag_s is None and d.last_synced_snapshot_at is None


def test_new_spelling_of_syncing_snap() -> None:
    raw = {"state": "syncing", "current_syncing_snap": {"id": 7, "name": "s7"}}
    d = dir_status("myfs", "/d", raw, peer_uuid=None, peer_site=None, snap_times=None, now=NOW)
    assert d.syncing_snap == SnapRef(name="s7", id=7)


def test_no_dirs_and_configured_paths() -> None:
    assert dir_statuses("myfs", b3("fs_no_dirs"), peer_uuid=PEER, peer_site=None, now=NOW) == []
    (d,) = dir_statuses("myfs", {}, peer_uuid=PEER, peer_site=None, paths=["/dir"], now=NOW)
    assert d.state is DirState.UNKNOWN and d.alerts == ["not_reported"] and not d.healthy


def test_newer_metrics_shape_and_failure_reason() -> None:
    raw = {
        "metrics": {
            "/a": {
                "peer": {
                    PEER: {
                        "state": "failed",
                        "failure_reason": "snapshot 'snap2' has invalid metadata",
                        "last_synced_snap": {"id": 1, "name": "s1"},
                    }
                }
            }
        }
    }
    (d,) = dir_statuses(
        "myfs", raw, peer_uuid=PEER, peer_site=None, snap_times={"/a": {"s1": NOW - 5}}, now=NOW
    )
    assert d.state is DirState.FAILED and d.failure_reason == "snapshot 'snap2' has invalid metadata"
    assert d.alerts == ["failed:snapshot 'snap2' has invalid metadata"] and d.rpo_lag_s == 5


@pytest.mark.parametrize(
    "raw",
    [
        {"/d": "x"},
        {"/d": {"state": 3, "last_synced_snap": "x", "snaps_synced": "a"}},
        {"/d": {"state": "weird", "current_sycning_snap": {"id": "x"}}},
        {"x": 1},
    ],
)
def test_garbage(raw: dict[str, Any]) -> None:
    for d in dir_statuses("myfs", raw, peer_uuid=None, peer_site=None, now=NOW):
        assert d.state is DirState.UNKNOWN


# -- cephfs-mirror daemons -------------------------------------------------------------------------


def test_daemon_status_with_failed_dir() -> None:
    (d,) = cephfs_mirror_daemons(b3("fs_daemon_status_failed"))
    assert (d.kind, d.id, d.up, d.health, d.serves) == (
        "cephfs-mirror",
        "4219",
        True,
        Health.WARNING,
        ["myfs"],
    )
    assert d.details == ["myfs: 1 failed directory toward site-a"]


def test_daemon_status_ok_from_bindings_output() -> None:
    raw = [
        {
            "daemon_id": 4181,
            "filesystems": [
                {
                    "filesystem_id": 1,
                    "name": "myfs",
                    "directory_count": 1,
                    "peers": [
                        {
                            "uuid": "85a8b902-f20f-4cd8-9166-385e17a73c92",
                            "remote": {
                                "client_name": "client.mirror_remote",
                                "cluster_name": "site-b",
                                "fs_name": "myfs",
                            },
                            "stats": {"failure_count": 0, "recovery_count": 0},
                        }
                    ],
                }
            ],
        }
    ]
    (d,) = cephfs_mirror_daemons(raw)
    assert d.health is Health.OK and d.details == []


@pytest.mark.parametrize("raw", [None, {}, [], [{}], [1, "x"], [{"daemon_id": 1, "filesystems": "x"}]])
def test_daemon_status_garbage(raw: object) -> None:
    cephfs_mirror_daemons(raw)


# -- schedules -------------------------------------------------------------------------------------


def test_rbd_schedule_list_mgr_json() -> None:
    raw = {
        "10": {"name": "P/", "schedule": [{"interval": "1m", "start_time": None}]},
        "5": {
            "name": "pyrbd/",
            "schedule": [
                {"interval": "1h", "start_time": "14:00:00-05:00"},
                {"interval": "1d", "start_time": None},
            ],
        },
    }
    out = rbd_schedules(raw)
    assert [(s.kind, s.target, s.interval, s.start_time) for s in out] == [
        ("rbd", "P/", "1m", None),
        ("rbd", "pyrbd/", "1d", None),
        ("rbd", "pyrbd/", "1h", "14:00:00-05:00"),
    ]


def test_rbd_schedule_cli_ls_form() -> None:
    (s,) = rbd_schedules([{"interval": "1m", "start_time": ""}], level_spec="rbd/")
    assert (s.target, s.interval, s.start_time) == ("rbd/", "1m", None)


def test_fs_snap_schedule_status() -> None:
    raw = [
        {
            "fs": "myfs",
            "subvol": None,
            "path": "/dir",
            "rel_path": "/dir",
            "schedule": "1h",
            "retention": {"M": 5, "h": 24},
            "start": "2026-11-21T00:00:00",
            "created": "2026-11-21T04:00:00",
            "first": "2026-11-21T05:00:00",
            "last": "2026-11-21T06:00:00",
            "last_pruned": None,
            "created_count": 2,
            "pruned_count": 0,
            "active": True,
        }
    ]
    (s,) = fs_schedules(raw)
    assert (s.kind, s.fs, s.target, s.interval, s.retention, s.active) == (
        "fs",
        "myfs",
        "/dir",
        "1h",
        {"M": 5, "h": 24},
        True,
    )
    assert s.last_snapshot_at == 1795240800.0 and s.created_count == 2


def test_fs_snap_schedule_json_lines_and_garbage() -> None:
    line = json.dumps({"fs": "myfs", "path": "/d", "schedule": "1M", "active": False})
    (s,) = fs_schedules([line, "not json", 3, {"path": "/x"}])
    assert s.target == "/d" and s.active is False
    assert fs_schedules(None) == [] and rbd_schedules("x") == []
