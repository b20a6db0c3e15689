"""The permission matrix, against a REAL nats-server running the configuration `cephdr nats-config`
generates (nkey identities, per-role permissions), with real nats-py clients. No Ceph.

Each row says, by hand (not derived from bus/permissions.py), whether a role may publish to,
subscribe to or request a subject family. An allowed publish is proved by a `tap` subscriber
receiving it; an allowed request by its reply; a denial must come back as `PermissionDenied`,
never as a timeout (the clients use `bus.client`, which turns the server's -ERR into that).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from helpers.wait import async_wait_for
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, StreamConfig

from bus import client as bus_client
from bus import identities
from bus.connect import PermissionLog, connect
from lab import nats as labnats
from lab import procs
from schemas.errors import PermissionDenied

SITES = ["site-a", "site-b"]
ROLES = ["agent-site-a", "controller", "operator", "chatops", "viewer"]


@pytest.fixture(scope="module")
def secured() -> Iterator[tuple[str, identities.Generated]]:
    with tempfile.TemporaryDirectory(prefix="cephdr-perm-") as d:
        paths = labnats.NatsPaths(Path(d))
        gen = identities.generate(paths.creds_dir, SITES, tap=True)
        pid, url = labnats.start(paths, auth=gen.auth_conf)
        try:
            yield url, gen
        finally:
            procs.stop([pid], term_timeout=5, what="nats-server")


class Conn:
    def __init__(self, nc: NATS, perms: PermissionLog) -> None:
        self.nc, self.perms = nc, perms


@pytest.fixture
async def conns(secured: tuple[str, identities.Generated]) -> AsyncIterator[dict[str, Conn]]:
    url, gen = secured
    out: dict[str, Conn] = {}
    for role in [*ROLES, "tap"]:
        perms = PermissionLog()
        nc = await connect(url, name=f"test-{role}", credentials=gen.credentials[role], permissions=perms,
                           forever=False)
        out[role] = Conn(nc, perms)
    yield out
    for c in out.values():
        await c.nc.close()


# subject -> roles that may publish to it
PUBLISH = {
    "cephdr.agent.site-a.status": {"controller", "operator", "viewer"},
    "cephdr.agent.site-a.rbd.image.promote": {"controller"},
    "cephdr.agent.site-b.rbd.image.promote": {"controller"},
    "cephdr.ctl.status": {"controller", "operator", "chatops", "viewer"},
    "cephdr.ctl.failover": {"controller", "operator", "chatops"},
    "cephdr.ctl.evt.op": {"controller"},
    "cephdr.evt.site-a.rbd.image": {"agent-site-a"},
    "cephdr.evt.site-b.rbd.image": set(),
    "cephdr.audit.agent.site-a": {"agent-site-a"},
    "cephdr.audit.agent.site-b": set(),
    "cephdr.audit.ctl": {"controller"},
    "$KV.cephdr_state.site.site-a.status": {"agent-site-a", "controller"},
    "$KV.cephdr_state.site.site-b.status": {"controller"},
    "$KV.cephdr_state.fence.g1": {"controller"},
    "$KV.cephdr_leases.leader": {"controller"},
    "_INBOX_operator.stolen": set(),
}

# subject -> roles that may subscribe to it
SUBSCRIBE = {
    "cephdr.agent.site-a.>": {"agent-site-a"},
    "cephdr.agent.site-b.>": set(),
    "cephdr.ctl.>": {"controller"},
    "cephdr.evt.>": {"controller", "operator", "viewer"},
    "cephdr.ctl.evt.>": {"controller", "operator", "chatops", "viewer"},
    "cephdr.audit.>": {"operator"},
    "_INBOX_operator.>": {"operator"},
    "_INBOX_chatops.>": {"chatops"},
    ">": set(),
}


@pytest.mark.parametrize("role", ROLES)
async def test_publish_matrix(conns: dict[str, Conn], role: str) -> None:
    got: list[str] = []

    async def on_tap(msg: Msg) -> None:
        got.append(msg.subject)

    tap = conns["tap"].nc
    sub = await tap.subscribe(">", cb=on_tap)
    await tap.flush()
    c = conns[role]
    wrong = []
    for subject, allowed in PUBLISH.items():
        try:
            await bus_client.publish(c.nc, subject, b"{}", permissions=c.perms)
            outcome = True
        except PermissionDenied as exc:
            assert "permission denied" in str(exc) and subject in str(exc)
            outcome = False
        if outcome != (role in allowed):
            wrong.append(f"{role} publish {subject}: {'allowed' if outcome else 'denied'}")
    assert not wrong
    delivered = {s for s in PUBLISH if role in PUBLISH[s]}
    await async_wait_for(lambda: delivered <= set(got), timeout=10, interval=0.05,
                         what=f"the tap receiving {delivered}")
    await tap.flush()
    await sub.unsubscribe()
    assert not {s for s in got if s in PUBLISH and role not in PUBLISH[s]}


@pytest.mark.parametrize("role", ROLES)
async def test_subscribe_matrix(conns: dict[str, Conn], role: str) -> None:
    c = conns[role]
    wrong = []

    async def ignore(msg: Msg) -> None:
        pass

    for subject, allowed in SUBSCRIBE.items():
        try:
            sub = await bus_client.subscribe(c.nc, subject, cb=ignore, permissions=c.perms)
            await sub.unsubscribe()
            outcome = True
        except PermissionDenied as exc:
            assert "permission denied" in str(exc)
            outcome = False
        if outcome != (role in allowed):
            wrong.append(f"{role} subscribe {subject}: {'allowed' if outcome else 'denied'}")
    assert not wrong


# subject -> (the role that serves it, roles that may call it)
REQUESTS = {
    "cephdr.agent.site-a.status": ("agent-site-a", {"controller", "operator", "viewer"}),
    "cephdr.agent.site-a.rbd.image.promote": ("agent-site-a", {"controller"}),
    "cephdr.ctl.status": ("controller", {"operator", "chatops", "viewer"}),
    "cephdr.ctl.failover": ("controller", {"operator", "chatops"}),
}


@pytest.mark.parametrize("role", ROLES)
async def test_request_matrix(conns: dict[str, Conn], role: str) -> None:
    """A served request gets its reply through the caller's own inbox (the server lets the
    responder answer once); a denied one is `PermissionDenied`, even with a long deadline."""

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"ok": true}')

    subs = [await conns[server].nc.subscribe(subject, cb=answer) for subject, (server, _) in REQUESTS.items()]
    for server in {s for s, _ in REQUESTS.values()}:
        await conns[server].nc.flush()
    wrong = []
    c = conns[role]
    try:
        for subject, (server, allowed) in REQUESTS.items():
            if role == server:
                continue
            try:
                reply: Any = await bus_client.request(c.nc, subject, {}, timeout=30, permissions=c.perms)
                outcome = reply == {"ok": True}
            except PermissionDenied as exc:
                assert subject in str(exc)
                outcome = False
            if outcome != (role in allowed):
                wrong.append(f"{role} request {subject}: {'allowed' if outcome else 'denied'}")
    finally:
        for s in subs:
            await s.unsubscribe()
    assert not wrong


async def test_a_client_cannot_read_replies_on_another_roles_inbox(
    secured: tuple[str, identities.Generated], conns: dict[str, Conn]
) -> None:
    url, gen = secured

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"ok": true}')

    sub = await conns["controller"].nc.subscribe("cephdr.ctl.status", cb=answer)
    await conns["controller"].nc.flush()
    perms = PermissionLog()
    thief = await connect(url, name="thief", credentials=gen.credentials["chatops"], permissions=perms,
                          inbox_prefix="_INBOX_operator", forever=False)
    try:
        with pytest.raises(PermissionDenied, match="may not read replies on _inbox_operator"):
            await bus_client.request(thief, "cephdr.ctl.status", {}, timeout=30, permissions=perms)
    finally:
        await thief.close()
        await sub.unsubscribe()


async def test_without_credentials_the_server_refuses_the_connection(
    secured: tuple[str, identities.Generated],
) -> None:
    url, _ = secured
    errors: list[Exception] = []

    async def on_error(e: Exception) -> None:
        errors.append(e)

    with pytest.raises(Exception) as refused:
        await nats.connect(url, error_cb=on_error, connect_timeout=2, allow_reconnect=False,
                           max_reconnect_attempts=0)
    assert "authorization violation" in " ".join(map(str, [refused.value, *errors])).lower()


# ---------------------------------------------------------------------- JetStream
async def test_jetstream_each_role_reaches_only_its_part(conns: dict[str, Conn]) -> None:
    """The controller owns the assets; an agent writes only its own keys and watches the fence
    records; operator and viewer read without writing."""
    ctl = conns["controller"].nc.jetstream(timeout=3)
    await ctl.add_stream(StreamConfig(name="CEPHDR_EVENTS", subjects=["cephdr.evt.*.rbd.>"]))
    kv_ctl = await ctl.create_key_value(KeyValueConfig(bucket="cephdr_state", history=5))
    await kv_ctl.put("fence.g1", b"fenced")
    await kv_ctl.put("site.site-b.status", b"b")

    agent = conns["agent-site-a"]
    kv_a = await agent.nc.jetstream(timeout=3).key_value("cephdr_state")
    await kv_a.put("site.site-a.status", b"a")
    assert (await kv_a.get("site.site-a.status")).value == b"a"
    assert (await kv_a.get("fence.g1")).value == b"fenced"
    watcher = await kv_a.watch("fence.>")
    first = await watcher.updates(timeout=3)
    assert first is not None and first.key == "fence.g1"
    await watcher.stop()
    with pytest.raises(Exception):  # noqa: B017 - nats-py: a timeout; the reason is in the log
        await kv_a.put("site.site-b.status", b"forged")
    assert agent.perms.denied("$KV.cephdr_state.site.site-b.status", since=0) == "publish"
    with pytest.raises(Exception):  # noqa: B017
        await kv_a.put("fence.g1", b"unfenced")
    assert (await kv_ctl.get("fence.g1")).value == b"fenced"
    assert (await kv_ctl.get("site.site-b.status")).value == b"b"

    op = conns["operator"]
    kv_op = await op.nc.jetstream(timeout=3).key_value("cephdr_state")
    assert (await kv_op.get("fence.g1")).value == b"fenced"
    with pytest.raises(Exception):  # noqa: B017
        await kv_op.put("fence.g1", b"x")
    assert op.perms.denied("$KV.cephdr_state.fence.g1", since=0) == "publish"
    with pytest.raises(Exception):  # noqa: B017
        await op.nc.jetstream(timeout=2).delete_stream("CEPHDR_EVENTS")
    assert op.perms.denied("$JS.API.STREAM.DELETE.CEPHDR_EVENTS", since=0) == "publish"

    await agent.nc.jetstream(timeout=3).publish("cephdr.evt.site-a.rbd.image", b"e1")
    viewer = conns["viewer"]
    sub = await viewer.nc.jetstream(timeout=3).subscribe("cephdr.evt.*.rbd.>", ordered_consumer=True)
    msg = await sub.next_msg(timeout=3)
    assert msg.data == b"e1"
    await sub.unsubscribe()
    with pytest.raises(Exception):  # noqa: B017
        await viewer.nc.jetstream(timeout=2).key_value("cephdr_state")
