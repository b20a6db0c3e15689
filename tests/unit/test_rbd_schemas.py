"""RBD request validation: interval grammar, start times, level specs, confirm fields, bounds."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from agent.ceph.rbd_peer import parse_token
from schemas.errors import InvalidRequest
from schemas.rbd import (
    AddSchedule,
    BulkPromote,
    EnableImageMirroring,
    ImportBootstrap,
    ListSchedules,
    PromoteImage,
    RemoveSchedule,
    level_spec,
)

RID = "req-00000001"


def dec(t: type[Any], **body: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(body), type=t)


@pytest.mark.parametrize("interval", ["1", "1m", "15m", "2h", "1d", "1440", "007h"])
def test_interval_accepts_ceph_grammar(interval: str) -> None:
    assert dec(AddSchedule, request_id=RID, pool="rbd", interval=interval).interval == interval


@pytest.mark.parametrize(
    "interval", ["", "m", "1s", "1w", "1M", "1.5h", "-1m", " 1m", "1m ", "1hm", "0", "0m", "00d"]
)
def test_interval_rejects_the_rest(interval: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        dec(AddSchedule, request_id=RID, pool="rbd", interval=interval)


@pytest.mark.parametrize(
    "start", ["14:00", "2026-01-01T00:00:00Z", "2026-01-01 14:00:00+01:00", "02:30-0500"]
)
def test_start_time_iso(start: str) -> None:
    assert dec(AddSchedule, request_id=RID, pool="rbd", interval="1h", start_time=start).start_time == start


@pytest.mark.parametrize("start", ["tomorrow", "2026-01-01", "25", "14h"])
def test_start_time_rejects(start: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        dec(AddSchedule, request_id=RID, pool="rbd", interval="1h", start_time=start)


def test_remove_start_time_needs_interval() -> None:
    with pytest.raises(msgspec.ValidationError):
        dec(RemoveSchedule, request_id=RID, pool="rbd", start_time="14:00")
    assert dec(RemoveSchedule, request_id=RID, pool="rbd").interval is None


@pytest.mark.parametrize(
    ("ns", "image", "spec"),
    [
        (None, None, "rbd/"),
        ("ns1", None, "rbd/ns1/"),
        (None, "img", "rbd/img"),
        ("ns1", "img", "rbd/ns1/img"),
    ],
)
def test_level_spec(ns: str | None, image: str | None, spec: str) -> None:
    assert level_spec("rbd", ns, image) == spec
    assert dec(ListSchedules, pool="rbd", namespace=ns, image=image).level_spec() == spec


def test_pool_and_image_names_validated() -> None:
    for bad in ({"pool": "a/b"}, {"pool": "rbd", "image": "x@snap"}, {"pool": "rbd", "namespace": "a b"}):
        with pytest.raises(msgspec.ValidationError):
            dec(ListSchedules, **bad)


def test_image_enable_needs_explicit_mode() -> None:
    with pytest.raises(msgspec.ValidationError, match="mode"):
        dec(EnableImageMirroring, request_id=RID, pool="rbd", image="x")
    with pytest.raises(msgspec.ValidationError):
        dec(EnableImageMirroring, request_id=RID, pool="rbd", image="x", mode="Snapshot")


def test_commands_need_request_id_and_reject_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError, match="request_id"):
        dec(PromoteImage, pool="rbd", image="x")
    with pytest.raises(msgspec.ValidationError, match="forse"):
        dec(PromoteImage, request_id=RID, pool="rbd", image="x", forse=True)


def test_promote_wait_is_bounded_and_confirm_carried() -> None:
    req = dec(PromoteImage, request_id=RID, pool="rbd", image="x", force=True, confirm="rbd/x")
    assert req.confirm == "rbd/x" and req.wait_s == 10
    with pytest.raises(msgspec.ValidationError):
        dec(PromoteImage, request_id=RID, pool="rbd", image="x", wait_s=11)


def test_bulk_bounds() -> None:
    req = dec(BulkPromote, request_id=RID, pool="rbd")
    assert req.images == [] and req.concurrency == 8
    for bad in ({"concurrency": 0}, {"concurrency": 33}, {"images": ["x"] * 1001}, {"wait_s": 301}):
        with pytest.raises(msgspec.ValidationError):
            dec(BulkPromote, request_id=RID, pool="rbd", **bad)


def test_import_direction_and_key_shape() -> None:
    key = "A" * 43 + "="
    body = {"request_id": RID, "pool": "rbd", "sealed": "x" * 40, "sender_public_key": key}
    assert dec(ImportBootstrap, **body).direction == "rx-tx"
    for bad in ({"direction": "tx-only"}, {"sender_public_key": "abc"}):
        with pytest.raises(msgspec.ValidationError):
            dec(ImportBootstrap, **{**body, **bad})


def test_parse_token_never_echoes_content() -> None:
    import base64
    import json

    secret = "AQSECRETKEY=="
    good = base64.b64encode(
        json.dumps({"fsid": "f", "client_id": "rbd-mirror-peer", "key": secret, "mon_host": "m"}).encode()
    )
    tok = parse_token(good)
    assert (tok.fsid, tok.mon_host) == ("f", "m") and secret not in repr(tok)
    broken = base64.b64encode(json.dumps({"fsid": "f", "key": secret}).encode())
    for bad in (broken, b"not base64!", secret.encode()):
        with pytest.raises(InvalidRequest) as e:
            parse_token(bad)
        assert secret not in str(e.value) and "SECRET" not in str(e.value.body())
