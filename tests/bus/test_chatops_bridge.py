"""The ChatOps bridge (chatops/bridge.py): errbot's threads calling the controller through a NATS
connection that lives on the bridge's own asyncio loop thread.

Real: the session's nats-server and nats-py on both sides. The controller is a few subscriptions
in the test answering the way bus.service does (a reply, or the micro error headers and body).
The bridge's blocking calls run in a worker thread, as errbot would run them."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterator

import msgspec
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from bus.codec import encode
from chatops.bridge import Bridge
from schemas.ctl import Alert, AlertEvent, FleetStatus, GetStatus, SiteInfo
from schemas.errors import Conflict, DeadlineExceeded, ErrorReply, Unavailable
from schemas.ids import GroupName, SiteName

pytestmark = pytest.mark.bus


@pytest.fixture
def posts() -> queue.Queue[str]:
    return queue.Queue()


@pytest.fixture
def bridge(nats_url: str, posts: queue.Queue[str]) -> Iterator[Bridge]:
    b = Bridge(nats_url, prefix="chattest", timeout=2)
    b.start(post=posts.put)
    assert b.wait_connected(10)
    yield b
    b.stop()


async def test_a_reply_comes_back_decoded_and_on_the_roles_inbox(nc: NATS, bridge: Bridge) -> None:
    seen: list[str] = []

    async def serve(msg: Msg) -> None:
        seen.append(msg.reply)
        assert msgspec.json.decode(msg.data, type=GetStatus).actor == "chat:@alice"
        await msg.respond(encode(FleetStatus(sites=[SiteInfo(site=SiteName("site-a"), alive=True)])))

    sub = await nc.subscribe("chattest.ctl.status", cb=serve)
    await nc.flush()
    try:
        got = await asyncio.to_thread(bridge.call, "status", GetStatus(actor="chat:@alice"), FleetStatus)
    finally:
        await sub.unsubscribe()
    assert got.sites[0].site == "site-a"
    assert seen[0].startswith("_INBOX_chatops.")  # what the chatops role's permissions allow


async def test_errors_come_back_as_the_error_tree(nc: NATS, bridge: Bridge) -> None:
    async def refuse(msg: Msg) -> None:
        body = ErrorReply(error=Conflict("site-a is already the primary", where="$.to").body())
        headers = {"Nats-Service-Error-Code": "409", "Nats-Service-Error": "site-a is already the primary"}
        await nc.publish(msg.reply, encode(body), headers=headers)

    async def ignore(msg: Msg) -> None:
        return None

    subs = [
        await nc.subscribe("chattest.ctl.failover", cb=refuse),
        await nc.subscribe("chattest.ctl.op.list", cb=ignore),
    ]
    await nc.flush()
    try:
        with pytest.raises(Conflict, match="already the primary"):
            await asyncio.to_thread(bridge.call, "failover", {"group": "web"}, FleetStatus)
        with pytest.raises(DeadlineExceeded, match="within 2s"):
            await asyncio.to_thread(bridge.call, "op.list", {}, FleetStatus)
        with pytest.raises(Unavailable, match=r"nobody serves chattest\.ctl\.group\.get"):
            await asyncio.to_thread(bridge.call, "group.get", {}, FleetStatus)
    finally:
        for s in subs:
            await s.unsubscribe()


async def test_controller_events_are_posted_in_order(
    nc: NATS, bridge: Bridge, posts: queue.Queue[str]
) -> None:
    for i in range(5):
        alert = Alert(kind="lag", severity="warning", message=f"rbd/vm{i}: RPO lag above 2x")
        ev = AlertEvent(at=1.0, group=GroupName("web"), raised=True, alert=alert)
        await nc.publish("chattest.ctl.evt.alert", encode(ev))
    await nc.publish("chattest.ctl.evt.op", b"not an event")  # skipped, and the bridge lives on
    await nc.flush()
    got = [await asyncio.to_thread(posts.get, True, 10) for _ in range(5)]
    assert got == [f"[web] WARNING lag: rbd/vm{i}: RPO lag above 2x" for i in range(5)]


async def test_without_nats_a_call_is_unavailable_at_once(posts: queue.Queue[str]) -> None:
    b = Bridge("nats://127.0.0.1:1", timeout=2)
    b.start(post=posts.put)
    try:
        with pytest.raises(Unavailable, match="not connected to NATS"):
            await asyncio.to_thread(b.call, "status", GetStatus(), FleetStatus)
    finally:
        await asyncio.to_thread(b.stop)
