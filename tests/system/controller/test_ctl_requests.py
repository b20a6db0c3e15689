"""Controller requests that must be refused with a structured error and change nothing, and the
sealed peer exchange: a subscriber to every subject never sees the cephx key it carries."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers import oracle
from helpers.ctl import Ctl, describe, rid
from helpers.lab_bus import lab_nats

from lab.model import LabInfo
from schemas.ctl import GroupApplied, GroupList, OpRecord, PeerConnected
from schemas.errors import Busy, ConfirmationRequired, Conflict, InvalidRequest, NotFound
from schemas.group import GroupRecord

pytestmark = pytest.mark.system


def spec(name: str, pool: str, images: list[str], **over: Any) -> dict[str, Any]:
    return {
        "name": name,
        "sites": ["site-a", "site-b"],
        "primary": "site-a",
        "schedule": {"interval": "5m"},
        "rbd": [{"pool": pool, "images": images, "mode": "snapshot"}],
        **over,
    }


@pytest.fixture(scope="module")
async def small(lab: LabInfo, ctl: Ctl) -> AsyncIterator[dict[str, str]]:
    """A fresh pool on both sites with one image on site-a; no mirroring yet."""
    sa, sb = lab.site("site-a"), lab.site("site-b")
    pool, image = oracle.unique_name("rq"), oracle.unique_name("img")
    for s in (sa, sb):
        oracle.ceph(s, "osd", "pool", "create", pool, "8", "8")
        oracle.rbd(s, "pool", "init", pool)
    oracle.rbd(sa, "create", "--size", "8M", f"{pool}/{image}")
    yield {"pool": pool, "image": image, "group": oracle.unique_name("rq").lower()[:30]}
    for s in (sa, sb):
        with contextlib.suppress(oracle.CliError):
            oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", pool, "--image", image)


def _leaks(payload: bytes, secret: str) -> bool:
    """The secret in clear, or inside any base64 string of a JSON payload (a token is base64)."""
    if secret.encode() in payload:
        return True
    try:
        doc = json.loads(payload)
    except ValueError:
        return False
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and len(v) >= 16:
            try:
                if secret.encode() in base64.b64decode(v + "=" * (-len(v) % 4)):
                    return True
            except (binascii.Error, ValueError):
                pass
    return False


async def test_bad_specs_and_requests_are_refused_and_change_nothing(ctl: Ctl, small: dict[str, str]) -> None:
    before: GroupList = await ctl.req("group.list")
    pool, image, name = small["pool"], small["image"], small["group"]
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        (spec(name, pool, [image], sites=["site-a", "site-a"]), InvalidRequest, "two different sites"),
        (spec(name, pool, [image], primary="site-c"), InvalidRequest, "not one of the sites"),
        (
            spec(name, pool, [image], sites=["site-a", "site-z"]),
            InvalidRequest,
            "no agent has reported site site-z",
        ),
        (spec(name, pool, []), InvalidRequest, "snapshot mode needs the images listed"),
        (spec(name, pool, [image, image]), InvalidRequest, "listed twice"),
        (spec("Bad_Name", pool, [image]), InvalidRequest, "spec.name"),
        ({**spec(name, pool, [image]), "rbd": []}, InvalidRequest, "at least one"),
        (spec(name, pool, [image], schedule={"interval": "0m"}), InvalidRequest, "interval"),
        (spec(name, pool, [image], schedule={"fs_interval": "15m"}), InvalidRequest, "Pacific"),
        (spec(name, pool, [image], fs=[{"fs": "cephfs", "dirs": ["/"]}]), InvalidRequest, "root"),
        ({**spec(name, pool, [image]), "colour": "red"}, InvalidRequest, "colour"),
    ]
    for body, exc, text in cases:
        with pytest.raises(exc, match=text) as err:
            await ctl.req("group.apply", request_id=rid(), spec=body)
        assert err.value.where, f"{text}: no `where` in the error"
    with pytest.raises(InvalidRequest, match="request_id"):
        await ctl.req("group.apply", spec=spec(name, pool, [image]))
    with pytest.raises(NotFound):
        await ctl.req("group.get", group="no-such-group")
    with pytest.raises(NotFound):
        await ctl.req("failover", request_id=rid(), group="no-such-group")
    with pytest.raises(NotFound):
        await ctl.req("op.get", op_id="no-such-op")
    after: GroupList = await ctl.req("group.list")
    assert after == before


async def test_peer_connect_is_sealed_and_group_requests_guard_their_state(
    lab: LabInfo, ctl: Ctl, small: dict[str, str]
) -> None:
    pool, image, name = small["pool"], small["image"], small["group"]
    sa, sb = lab.site("site-a"), lab.site("site-b")
    seen: list[tuple[str, bytes]] = []

    async def record(msg: Any) -> None:
        seen.append((msg.subject, bytes(msg.data)))

    spy = await lab_nats(lab, "tap")  # reads everything on the bus
    sub = await spy.subscribe(">", cb=record)
    try:
        applied: GroupApplied = await ctl.req("group.apply", request_id=rid(), spec=spec(name, pool, [image]))
        assert applied.op_id
        op: OpRecord = await ctl.wait_op(applied.op_id)
        assert op.state == "succeeded", describe(op)
        again: PeerConnected = await ctl.req(
            "peer.connect", request_id=rid(), source="site-a", target="site-b", pool=pool
        )
        assert not again.changed
        await asyncio.sleep(0)  # let the spy's callback drain what already arrived
    finally:
        await sub.unsubscribe()
        await spy.close()
    peers = oracle.rbd(sb, "mirror", "pool", "info", pool, json=True)["peers"]
    assert [p["site_name"] for p in peers] == ["site-a"]
    key = oracle.ceph(sa, "auth", "get-key", "client.rbd-mirror-peer").strip()
    assert key and len(seen) > 10
    leaked = [subject for subject, payload in seen if _leaks(payload, key)]
    assert not leaked, f"the cephx key crossed the bus on {leaked}"
    assert any(b"bootstrap.create" in s.encode() for s, _ in seen), "the exchange was not observed"

    # a member already in a group cannot join another one
    with pytest.raises(Conflict, match=name):
        await ctl.req("group.apply", request_id=rid(), spec=spec(oracle.unique_name("x")[:20], pool, [image]))
    # the sites of a group cannot change
    with pytest.raises((Conflict, InvalidRequest)):
        await ctl.req(
            "group.apply", request_id=rid(), spec=spec(name, pool, [image], sites=["site-b", "site-c"])
        )
    # failover to the current primary, failback with nothing owed, forced without confirmation
    with pytest.raises(Conflict, match="already the primary"):
        await ctl.req("failover", request_id=rid(), group=name, to="site-a")
    with pytest.raises(Conflict, match="no failback pending"):
        await ctl.req("failback", request_id=rid(), group=name)
    with pytest.raises(ConfirmationRequired, match=f'"confirm": "{name}"'):
        await ctl.req("failover", request_id=rid(), group=name, force=True, confirm="wrong")
    with pytest.raises(InvalidRequest, match="not a site"):
        await ctl.req("failover", request_id=rid(), group=name, to="site-z")
    rec: GroupRecord = await ctl.req("group.get", group=name)
    assert rec.primary == "site-a" and rec.epoch == 1 and rec.active_op is None

    # a failover preempts a reconcile holding the group (a periodic one can be waiting on a dead site)
    reco = await ctl.req("group.reconcile", request_id=rid(), group=name)
    accepted = await ctl.req("failover", request_id=rid(), group=name)
    preempted: OpRecord = await ctl.req("op.get", op_id=reco.op_id)
    assert preempted.state == "cancelled", describe(preempted)
    assert "preempted by a failover" in (preempted.message or ""), describe(preempted)

    # an operation in flight holds the group; cancelling it before the demote changes nothing
    with pytest.raises(Busy):
        await ctl.req("failover", request_id=rid(), group=name)
    try:
        cancelled: OpRecord = await ctl.req("op.cancel", request_id=rid(), op_id=accepted.op_id)
        assert cancelled.state == "cancelled"
        rec = await ctl.req("group.get", group=name)
        assert rec.primary == "site-a" and rec.epoch == 1 and rec.active_op is None
    except Conflict:  # the failover was quicker than the cancel: it passed the demote
        op = await ctl.wait_op(accepted.op_id)
        assert op.state == "succeeded", describe(op)
    with pytest.raises(ConfirmationRequired):
        await ctl.req("group.delete", request_id=rid(), group=name)
    await ctl.req("group.delete", request_id=rid(), group=name, confirm=name)
    with pytest.raises(NotFound):
        await ctl.req("group.get", group=name)
