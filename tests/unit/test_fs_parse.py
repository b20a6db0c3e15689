"""Pure parsing in the CephFS adapters: tokens are checked without leaking, schedule times are UTC."""

from __future__ import annotations

import base64
import json

import pytest

from agent.ceph.fs_mirror import check_token
from agent.ceph.fs_schedule import parse_schedule, utc_ts
from schemas.errors import InvalidRequest

KEY = "FAKE-cephx-key-for-tests-never-echoed"  # the test checks it is never echoed


def _token(**over: object) -> str:
    d = {
        "fsid": "f",
        "filesystem": "cephfs",
        "user": "client.mirror_remote",
        "site_name": "site-b",
        "key": KEY,
        "mon_host": "[v2:127.0.0.1:1]",
    }
    d.update(over)
    return base64.b64encode(json.dumps(d).encode()).decode()


def test_check_token_keeps_no_key() -> None:
    info = check_token(_token())
    assert info["site_name"] == "site-b" and KEY not in json.dumps(info)


@pytest.mark.parametrize(
    "bad", ["not base64!", base64.b64encode(b"[]").decode(), base64.b64encode(b'{"fsid": "x"}').decode()]
)
def test_check_token_refuses_without_echoing(bad: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        check_token(bad)
    assert bad not in e.value.message


def test_schedule_times_are_utc() -> None:
    assert utc_ts("2026-01-01T00:00:00") == 1767225600.0
    assert utc_ts(None) is None and utc_ts("garbage") is None
    s = parse_schedule(
        {
            "fs": "cephfs",
            "path": "/d",
            "schedule": "1M",
            "retention": {"M": 5, "h": 24},
            "start": "2026-01-01T00:00:00",
            "first": None,
            "created_count": 3,
            "active": True,
        }
    )
    assert (s.schedule, s.retention, s.start, s.first, s.created_count) == (
        "1M",
        {"M": 5, "h": 24},
        1767225600.0,
        None,
        3,
    )
