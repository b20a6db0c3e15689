"""RBD image status, pool summary and daemons from real 16.2.15 output (FINDINGS B.3, step 7)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from agent.status.daemons import pool_daemon_health, rbd_mirror_daemons
from agent.status.normalize import image_state, image_status, image_status_from_cli, pool_summary
from schemas.status import Health, ImageState, MirrorMode, Role

DATA = Path(__file__).parent / "data" / "b3"


def b3(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return data


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


NOW = ts("2026-11-21 06:40:00")

# expected: role, state, up, mode, caught_up, split_brain, alerts
CASES: list[tuple[str, Role, ImageState, bool, MirrorMode | None, bool | None, bool, list[str]]] = [
    (
        "journal_nonprimary_caught_up",
        Role.NON_PRIMARY,
        ImageState.REPLAYING,
        True,
        MirrorMode.JOURNAL,
        True,
        False,
        [],
    ),
    (
        "journal_after_enable",
        Role.NON_PRIMARY,
        ImageState.REPLAYING,
        True,
        MirrorMode.JOURNAL,
        False,
        False,
        [],
    ),
    (
        "journal_first_sync_window",
        Role.NON_PRIMARY,
        ImageState.REPLAYING,
        True,
        MirrorMode.JOURNAL,
        False,
        False,
        [],
    ),
    ("journal_lagging", Role.NON_PRIMARY, ImageState.REPLAYING, True, MirrorMode.JOURNAL, False, False, []),
    (
        "journal_first_sync",
        Role.NON_PRIMARY,
        ImageState.SYNCING,
        True,
        None,
        False,
        False,
        ["not_replaying:syncing"],
    ),
    ("journal_primary", Role.PRIMARY, ImageState.STOPPED, True, MirrorMode.JOURNAL, False, False, []),
    (
        "journal_both_primary",
        Role.PRIMARY,
        ImageState.STOPPED,
        True,
        None,
        None,
        False,
        ["both_primary:site-b"],
    ),
    ("journal_split_brain_a", Role.NON_PRIMARY, ImageState.ERROR, True, None, False, True, ["split_brain"]),
    (
        "journal_split_brain_b",
        Role.PRIMARY,
        ImageState.STOPPED,
        True,
        None,
        False,
        False,
        ["peer_split_brain:site-a"],
    ),
    (
        "snapshot_nonprimary_idle",
        Role.NON_PRIMARY,
        ImageState.REPLAYING,
        True,
        MirrorMode.SNAPSHOT,
        True,
        False,
        [],
    ),
    (
        "snapshot_nonprimary_syncing",
        Role.NON_PRIMARY,
        ImageState.REPLAYING,
        True,
        MirrorMode.SNAPSHOT,
        False,
        False,
        [],
    ),
    ("snapshot_primary", Role.PRIMARY, ImageState.STOPPED, True, MirrorMode.SNAPSHOT, True, False, []),
    ("snapshot_split_brain_a", Role.NON_PRIMARY, ImageState.ERROR, True, None, False, True, ["split_brain"]),
    (
        "snapshot_split_brain_b",
        Role.PRIMARY,
        ImageState.STOPPED,
        True,
        None,
        False,
        False,
        ["peer_split_brain:site-a"],
    ),
    (
        "journal_down_stopped",
        Role.UNKNOWN,
        ImageState.STOPPED,
        False,
        None,
        None,
        False,
        ["down", "role_unknown"],
    ),
    (
        "journal_down_replaying",
        Role.NON_PRIMARY,
        ImageState.REPLAYING,
        False,
        MirrorMode.JOURNAL,
        None,
        False,
        ["down"],
    ),
]


@pytest.mark.parametrize(("name", "role", "state", "up", "mode", "caught_up", "split_brain", "alerts"), CASES)
def test_cli_examples(
    name: str,
    role: Role,
    state: ImageState,
    up: bool,
    mode: MirrorMode | None,
    caught_up: bool | None,
    split_brain: bool,
    alerts: list[str],
) -> None:
    raw = b3(name)
    s = image_status_from_cli(raw, pool="rbd", now=NOW)
    assert (s.role, s.state, s.up, s.mode, s.caught_up, s.split_brain) == (
        role,
        state,
        up,
        mode,
        caught_up,
        split_brain,
    )
    assert s.alerts == alerts
    assert s.healthy is (not alerts)
    assert s.image == raw["name"] and s.global_id == raw["global_id"] and s.pool == "rbd"
    assert s.description == raw["description"]
    assert s.last_update == ts(raw["last_update"])
    assert [p.site_name for p in s.peers] == [p["site_name"] for p in raw["peer_sites"]]


def test_cli_down_unknown_peer_has_no_last_update() -> None:
    s = image_status_from_cli(b3("journal_after_enable"), pool="rbd", now=NOW)
    (peer,) = s.peers
    assert (peer.state, peer.up, peer.last_update) == (ImageState.UNKNOWN, False, None)
    assert peer.mirror_uuid == "755217f1-a684-4836-91c4-a7af76ffa053"


def test_daemon_id_from_cli() -> None:
    assert image_status_from_cli(b3("snapshot_primary"), pool="rbd", now=NOW).daemon_id == "a"
    assert image_status_from_cli(b3("journal_down_stopped"), pool="rbd", now=NOW).daemon_id is None


def test_explicit_primary_and_mode_win() -> None:
    s = image_status_from_cli(b3("journal_down_stopped"), pool="rbd", now=NOW, primary=False, mode=0)
    assert s.role is Role.NON_PRIMARY and s.mode is MirrorMode.JOURNAL
    assert s.alerts == ["down"]


def test_primary_inferred_from_snapshots_list() -> None:
    raw = b3("snapshot_primary")
    raw["description"] = "stopped"  # hide the other hint
    assert image_status_from_cli(raw, pool="rbd", now=NOW).role is Role.PRIMARY


# -- RPO lag ---------------------------------------------------------------------------------------


def test_rpo_snapshot_nonprimary() -> None:
    s = image_status_from_cli(b3("snapshot_nonprimary_idle"), pool="rbd", now=1795242268 + 90)
    assert s.last_synced_snapshot_at == 1795242268
    assert s.rpo_lag_s == 90


def test_rpo_snapshot_syncing_uses_last_complete_snapshot() -> None:
    s = image_status_from_cli(b3("snapshot_nonprimary_syncing"), pool="rbd", now=1795243100)
    assert s.last_synced_snapshot_at == 1795242909
    assert s.rpo_lag_s == 1795243100 - 1795242909
    assert s.progress is not None and s.progress.seconds_until_synced is None


def test_rpo_snapshot_primary_from_peer() -> None:
    s = image_status_from_cli(b3("snapshot_primary"), pool="rbd", now=1795242268 + 10)
    assert s.role is Role.PRIMARY and s.rpo_lag_s == 10 and s.caught_up is True
    assert s.progress is None  # the local status has none; the peer's is on the peer
    assert s.peers[0].progress is not None and s.peers[0].progress.replay_state == "idle"


def test_rpo_never_negative() -> None:
    s = image_status_from_cli(b3("snapshot_nonprimary_idle"), pool="rbd", now=1795242268 - 5)
    assert s.rpo_lag_s == 0


def test_rpo_journal_caught_up_is_age_of_status() -> None:
    raw = b3("journal_nonprimary_caught_up")
    s = image_status_from_cli(raw, pool="rbd", now=ts(raw["last_update"]) + 12)
    assert s.last_caught_up_at == ts(raw["last_update"])
    assert s.rpo_lag_s == 12
    assert s.last_synced_snapshot_at is None


def test_rpo_journal_behind_without_history_is_none() -> None:
    s = image_status_from_cli(b3("journal_lagging"), pool="rbd", now=NOW)
    assert s.caught_up is False and s.rpo_lag_s is None and s.last_caught_up_at is None


def test_rpo_journal_behind_carries_previous_caught_up_time() -> None:
    before = b3("journal_nonprimary_caught_up")
    prev = image_status_from_cli(before, pool="rbd", now=NOW)
    s = image_status_from_cli(b3("journal_lagging"), pool="rbd", now=NOW, previous=prev)
    assert s.last_caught_up_at == prev.last_caught_up_at == ts(before["last_update"])
    assert s.rpo_lag_s == NOW - ts(before["last_update"])


def test_rpo_journal_hint_dropped_on_resync() -> None:
    prev = image_status_from_cli(b3("journal_nonprimary_caught_up"), pool="rbd", now=NOW)
    raw = b3("journal_first_sync")  # bootstrap: the local image is being re-copied
    raw["global_id"] = prev.global_id
    s = image_status_from_cli(raw, pool="rbd", mode="journal", now=NOW, previous=prev)
    assert s.last_caught_up_at is None and s.rpo_lag_s is None


def test_rpo_journal_primary_side_from_peer() -> None:
    s = image_status_from_cli(b3("journal_primary"), pool="rbd", now=NOW)
    assert s.caught_up is False and s.rpo_lag_s is None  # peer behind (3 entries, other tag)


@pytest.mark.parametrize("name", ["journal_down_replaying", "journal_down_stopped", "journal_split_brain_a"])
def test_rpo_none_when_down_or_error(name: str) -> None:
    assert image_status_from_cli(b3(name), pool="rbd", now=NOW).rpo_lag_s is None


# -- binding shape (bindings-output.txt, site-b / site-a mirror_image_status_list) ---------------

SNAP_DESC = (
    'replaying, {"bytes_per_second":3355443.2,"bytes_per_snapshot":33554432.0,"last_snapshot_bytes":0,'
    '"last_snapshot_sync_seconds":0,"local_snapshot_timestamp":1795239262,"remote_snapshot_timestamp":1795239262,'
    '"replay_state":"idle"}'
)
BINDING_B: dict[str, Any] = {
    "name": "pyimg",
    "id": "105acad297b5",
    "info": {"global_id": "b4688e0c-c792-4a14-81b0-46cb50d43221", "state": 1},
    "remote_statuses": [
        {
            "state": 6,
            "description": "local image is primary",
            "last_update": dt.datetime(2026, 11, 21, 5, 34, 53),
            "up": True,
            "mirror_uuid": "5e66312e-445c-4a96-aec6-6a1a7e728aa6",
        }
    ],
    "state": 4,
    "description": SNAP_DESC,
    "last_update": dt.datetime(2026, 11, 21, 5, 34, 54),
    "up": True,
}
BINDING_A: dict[str, Any] = {
    "name": "pyimg",
    "id": "105a5a160f88",
    "info": {"global_id": "b4688e0c-c792-4a14-81b0-46cb50d43221", "state": 1, "primary": True},
    "remote_statuses": [
        {
            "state": 4,
            "description": SNAP_DESC,
            "last_update": dt.datetime(2026, 11, 21, 5, 34, 54),
            "up": True,
            "mirror_uuid": "b91efa97-0a02-4f7f-a16c-8fdb38620c2e",
        }
    ],
    "state": 6,
    "description": "local image is primary",
    "last_update": dt.datetime(2026, 11, 21, 5, 34, 53),
    "up": True,
}


def test_binding_nonprimary() -> None:
    s = image_status(
        BINDING_B,
        pool="pyrbd",
        mode=1,
        primary=False,
        now=1795239262 + 30,
        peer_names={"5e66312e-445c-4a96-aec6-6a1a7e728aa6": "site-a"},
    )
    assert (s.role, s.state, s.up, s.mode, s.caught_up) == (
        Role.NON_PRIMARY,
        ImageState.REPLAYING,
        True,
        MirrorMode.SNAPSHOT,
        True,
    )
    assert s.rpo_lag_s == 30 and s.healthy
    assert s.last_update == ts("2026-11-21 05:34:54")  # naive datetime = UTC (utcfromtimestamp)
    assert s.peers[0].site_name == "site-a" and s.peers[0].state is ImageState.STOPPED


def test_binding_primary_with_default_peer_site() -> None:
    s = image_status(BINDING_A, pool="pyrbd", mode="snapshot", now=1795239262 + 5, default_peer_site="site-b")
    assert s.role is Role.PRIMARY  # from info.primary (get_status shape) when not passed
    assert (
        s.peers[0].site_name == "site-b" and s.peers[0].mirror_uuid == "b91efa97-0a02-4f7f-a16c-8fdb38620c2e"
    )
    assert s.rpo_lag_s == 5 and s.caught_up is True and s.healthy


def test_binding_missing_local_status() -> None:
    raw = {k: v for k, v in BINDING_B.items() if k not in ("state", "description", "last_update", "up")}
    s = image_status(raw, pool="pyrbd", now=NOW)
    assert (s.state, s.up, s.last_update) == (ImageState.UNKNOWN, False, None)
    assert "status_not_found" in s.alerts


def test_binding_epoch_last_update_is_none() -> None:
    raw = dict(
        BINDING_B,
        state=0,
        description="status not found",
        up=False,
        last_update=dt.datetime(1970, 1, 1, 0, 0),
    )
    s = image_status(raw, pool="pyrbd", primary=False, now=NOW)
    assert s.last_update is None and s.state is ImageState.UNKNOWN and not s.healthy


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"state": "x", "up": "yes", "remote_statuses": "nope", "info": []},
        {"name": 3, "state": 99, "remote_statuses": [None, 1, {"state": -1}]},
    ],
)
def test_binding_garbage(raw: dict[str, Any]) -> None:
    s = image_status(raw, pool="p", now=NOW)
    assert s.state is ImageState.UNKNOWN and not s.healthy


@pytest.mark.parametrize(
    ("value", "state"),
    [
        (0, ImageState.UNKNOWN),
        (1, ImageState.ERROR),
        (4, ImageState.REPLAYING),
        (6, ImageState.STOPPED),
        (7, ImageState.UNKNOWN),
        ("replaying", ImageState.REPLAYING),
        ("4", ImageState.REPLAYING),
        (None, ImageState.UNKNOWN),
        (True, ImageState.UNKNOWN),
    ],
)
def test_image_state(value: object, state: ImageState) -> None:
    assert image_state(value) is state


# -- pool summary ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "daemon", "health", "image_health"),
    [
        ([(1, 5), (4, 2)], Health.OK, Health.ERROR, Health.ERROR),  # B.3 first summary
        ([(1, 3), (4, 2), (6, 3)], Health.UNKNOWN, Health.ERROR, Health.ERROR),  # B.3 second
        ([(4, 1)], Health.OK, Health.OK, Health.OK),  # bindings-output
        ([(4, 1), (6, 2)], Health.WARNING, Health.WARNING, Health.OK),
        ([(2, 1), (4, 1)], Health.OK, Health.WARNING, Health.WARNING),
        ([(0, 1)], Health.OK, Health.WARNING, Health.WARNING),
        ([(4, 0), (1, 0)], Health.OK, Health.OK, Health.OK),
        ([], Health.UNKNOWN, Health.UNKNOWN, Health.OK),
    ],
)
def test_pool_summary_health(
    pairs: list[tuple[int, int]], daemon: Health, health: Health, image_health: Health
) -> None:
    s = pool_summary("rbd", 1, pairs, daemon_health=daemon)
    assert (s.health, s.daemon_health, s.image_health, s.mode) == (health, daemon, image_health, "image")


def test_pool_summary_matches_cli_json() -> None:
    cli = b3("pool_summary_daemon_stopped")["summary"]
    s = pool_summary("rbd", "image", [(1, 3), (4, 2), (6, 3)], daemon_health=Health(cli["daemon_health"]))
    assert s.states == cli["states"]
    assert (s.health.value, s.daemon_health.value, s.image_health.value) == (
        cli["health"],
        cli["daemon_health"],
        cli["image_health"],
    )
    assert s.images_total == 8


def test_pool_summary_falls_back_to_images() -> None:
    imgs = [
        image_status_from_cli(b3(n), pool="rbd", now=NOW)
        for n in ("journal_split_brain_a", "journal_lagging")
    ]
    s = pool_summary("rbd", 2, None, imgs, daemon_health=Health.OK)
    assert s.states == {"error": 1, "replaying": 1} and s.image_health is Health.ERROR and s.mode == "pool"


# -- rbd-mirror daemons (service dump + service status) --------------------------------------------

SERVICE_DUMP: dict[str, Any] = {
    "epoch": 12,
    "modified": "2026-11-21T05:30:00.000000+0000",
    "services": {
        "rbd-mirror": {
            "daemons": {
                "summary": "",
                "4166": {
                    "start_epoch": 5,
                    "start_stamp": "2026-11-21T05:20:00.0+0000",
                    "gid": 4166,
                    "addr": "127.0.0.1:0/1",
                    "metadata": {
                        "ceph_version_short": "16.2.15",
                        "hostname": "vm",
                        "id": "b",
                        "instance_id": "4168",
                    },
                    "task_status": {},
                },
            }
        }
    },
}


def service_status(
    pool_status: dict[str, Any] | None, beacon: str = "2026-11-21T05:34:50.000000+0000"
) -> Any:
    entry: dict[str, Any] = {"status_stamp": beacon, "last_beacon": beacon}
    if pool_status is not None:
        entry["status"] = {"json": json.dumps(pool_status)}
    return {"rbd-mirror": {"4166": entry}}


OK_POOL = {
    "5": {
        "name": "rbd",
        "callouts": {},
        "image_assigned_count": 1,
        "image_error_count": 0,
        "image_local_count": 1,
        "image_remote_count": 1,
        "image_warning_count": 0,
        "instance_id": "4168",
        "leader": True,
    }
}


def test_rbd_mirror_daemon_ok() -> None:
    (d,) = rbd_mirror_daemons(SERVICE_DUMP, service_status(OK_POOL))
    assert (d.kind, d.id, d.instance_id, d.hostname, d.version, d.up, d.health) == (
        "rbd-mirror",
        "b",
        "4168",
        "vm",
        "16.2.15",
        True,
        Health.OK,
    )
    assert d.serves == ["rbd"] and d.leader_pools == ["rbd"] and d.details == []
    assert pool_daemon_health(SERVICE_DUMP, service_status(OK_POOL), 5) is Health.OK


def test_rbd_mirror_daemon_callout() -> None:
    pool = {
        "5": dict(
            OK_POOL["5"], callouts={"x": {"level": "error", "text": "unable to connect to local cluster"}}
        )
    }
    (d,) = rbd_mirror_daemons(SERVICE_DUMP, service_status(pool))
    assert d.health is Health.ERROR and d.details == ["rbd: unable to connect to local cluster"]
    assert pool_daemon_health(SERVICE_DUMP, service_status(pool), 5) is Health.ERROR


def test_pool_daemon_health_rules() -> None:
    assert pool_daemon_health({"services": {}}, {}, 5) is Health.UNKNOWN  # no rbd-mirror at all
    assert pool_daemon_health(SERVICE_DUMP, service_status(OK_POOL), 6) is Health.ERROR  # none reports pool 6
    follower = {"5": dict(OK_POOL["5"], leader=False)}
    assert pool_daemon_health(SERVICE_DUMP, service_status(follower), 5) is Health.WARNING
    (d,) = rbd_mirror_daemons(SERVICE_DUMP, service_status(None))
    assert d.health is Health.WARNING and d.details == ["not reporting status"]


def test_rbd_mirror_daemon_stale_beacon() -> None:
    (d,) = rbd_mirror_daemons(
        SERVICE_DUMP, service_status(OK_POOL), now=ts("2026-11-21 05:36:00"), beacon_grace_s=30
    )
    assert not d.up and d.health is Health.ERROR


def test_rbd_mirror_daemons_garbage() -> None:
    assert rbd_mirror_daemons({}, None) == []
    assert (
        rbd_mirror_daemons({"services": {"rbd-mirror": {"daemons": {"1": {}}}}}, {"rbd-mirror": "x"})[0].id
        == "1"
    )
