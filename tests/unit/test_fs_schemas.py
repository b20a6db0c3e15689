"""The CephFS request schemas refuse what Ceph Pacific would refuse (or silently ignore)."""

from __future__ import annotations

import pytest

from bus.codec import decode_request
from schemas.errors import InvalidRequest
from schemas.fs import (
    AddFsRetention,
    AddFsSchedule,
    ImportFsBootstrap,
    RemoveFsPeer,
    parse_retention,
)

RID = '"request_id": "unit-0000001"'


def dec(typ: type, body: str) -> object:
    return decode_request(("{" + RID + ", " + body + "}").encode(), typ)


@pytest.mark.parametrize("spec", ["1h", "15M", "1d", "2w", "999999h"])
def test_schedule_accepts_pacific_grammar(spec: str) -> None:
    assert dec(AddFsSchedule, f'"fs": "cephfs", "path": "/d", "schedule": "{spec}"')


@pytest.mark.parametrize("spec", ["1m", "1Y", "1y", "0h", "h", "1", "1hh", "1h2d", "-1h"])
def test_schedule_refuses_other_letters(spec: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        dec(AddFsSchedule, f'"fs": "cephfs", "path": "/d", "schedule": "{spec}"')
    assert "minutes are capital" in e.value.message


def test_lowercase_m_message_names_the_rbd_confusion() -> None:
    with pytest.raises(InvalidRequest, match='lowercase "m" is refused'):
        dec(AddFsSchedule, '"fs": "cephfs", "path": "/d", "schedule": "5m"')


def test_start_must_be_utc_timestamp() -> None:
    assert dec(AddFsSchedule, '"fs": "c", "path": "/d", "schedule": "1h", "start": "2026-01-01T00:00:00"')
    with pytest.raises(InvalidRequest):
        dec(AddFsSchedule, '"fs": "c", "path": "/d", "schedule": "1h", "start": "tomorrow"')


@pytest.mark.parametrize(
    ("spec", "count", "want"),
    [
        ("h", 24, {"h": 24}),
        ("24h", None, {"h": 24}),
        ("24h7d10n", None, {"h": 24, "d": 7, "n": 10}),
        ("m", 6, {"m": 6}),
        ("1y", None, {"y": 1}),
        ("30M", None, {"M": 30}),
    ],
)
def test_retention_grammar(spec: str, count: int | None, want: dict[str, int]) -> None:
    assert parse_retention(spec, count) == want


@pytest.mark.parametrize(
    ("spec", "count"),
    [("Y", 3), ("3Y", None), ("24h24h", None), ("hd", 2), ("24", None), ("24h ", None), ("0h", None)],
)
def test_retention_refuses(spec: str, count: int | None) -> None:
    body = f'"fs": "c", "path": "/d", "spec": "{spec}"' + (f', "count": {count}' if count else "")
    with pytest.raises(InvalidRequest):
        dec(AddFsRetention, body)


def test_path_must_be_absolute_and_fs_named() -> None:
    with pytest.raises(InvalidRequest) as e:
        dec(AddFsSchedule, '"fs": "c", "path": "rel/dir", "schedule": "1h"')
    assert e.value.where == "$.path"
    with pytest.raises(InvalidRequest) as e:
        dec(AddFsSchedule, '"fs": "a/b", "path": "/d", "schedule": "1h"')
    assert e.value.where == "$.fs"


def test_peer_remove_needs_uuid_and_import_needs_keys() -> None:
    with pytest.raises(InvalidRequest):
        dec(RemoveFsPeer, '"fs": "c", "peer": "not-a-uuid"')
    with pytest.raises(InvalidRequest) as e:
        dec(ImportFsBootstrap, '"fs": "c", "sealed": "AAAAAAAAAAAAAAAAAAAA", "sender_public_key": "short"')
    assert e.value.where == "$.sender_public_key"


def test_commands_need_request_id() -> None:
    with pytest.raises(InvalidRequest, match="request_id"):
        decode_request(b'{"fs": "c", "path": "/d", "schedule": "1h"}', AddFsSchedule)
