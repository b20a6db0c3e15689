"""The audit trail against a real nats-server with JetStream: every outcome of a served command
lands in CEPHDR_AUDIT, redacted; a missing stream never holds up a reply; the stream refuses
deletes and purges. The service under test is a small router defined here."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from helpers.wait import async_wait_for
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig

from bus import subjects
from bus.connect import connect
from bus.jetstream import ensure_audit_stream
from bus.router import Router
from bus.service import ServiceHost
from lab import nats as labnats
from lab import procs
from schemas.audit import AuditRecord
from schemas.common import ConfirmableCommand, Done
from schemas.errors import require_confirmation

pytestmark = pytest.mark.bus


class Wipe(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    disk: str
    token: str | None = None  # stands for any secret a request may carry


router: Router[None] = Router()


@router.command("disk.wipe", request=Wipe, reply=Done)
async def wipe(ctx: None, req: Wipe) -> Done:
    """Wipe a disk (pretend)."""
    require_confirmation(req.confirm, req.disk, "wiping")
    return Done(message=f"wiped {req.disk}")


async def start_host(nc: NATS, prefix: str) -> ServiceHost[None]:
    h = ServiceHost(nc, name="cephdr-audit-test", version="0.1.0", description="audit test", prefix=prefix,
                    router=router, ctx=None, metadata={"site": "site-t"}, audit_service="agent")
    await h.start()
    return h


@pytest.fixture
async def alice(nats_url: str) -> AsyncIterator[NATS]:
    nc = await connect(nats_url, name="alice-cli", forever=False)
    try:
        yield nc
    finally:
        await nc.close()


async def records(nc: NATS, site_prefix: str) -> list[AuditRecord]:
    js = nc.jetstream()
    sub = await js.subscribe(f"cephdr.audit.agent.{site_prefix}", stream=subjects.AUDIT_STREAM,
                             ordered_consumer=True, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    out: list[AuditRecord] = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                return out
            out.append(msgspec.json.decode(msg.data, type=AuditRecord))
    finally:
        await sub.unsubscribe()


async def jetstream_up(nc: NATS) -> None:
    """A just-started server can answer before its JetStream does (no responders)."""
    await async_wait_for(nc.jetstream().account_info, timeout=20, interval=0.2, what="JetStream up")


async def test_every_outcome_is_recorded_with_sender_and_without_secrets(nc: NATS, alice: NATS) -> None:
    await jetstream_up(nc)
    await ensure_audit_stream(nc.jetstream())
    site = f"s{uuid.uuid4().hex[:8]}"
    host = await start_host(nc, f"cephdr.agent.{site}")
    subj = f"cephdr.agent.{site}.disk.wipe"
    try:
        ok = (b'{"request_id":"req-00000001","disk":"sda","confirm":"sda","actor":"alice",'
              b'"token":"hunter2-secret"}')
        refused = b'{"request_id":"req-00000002","disk":"sdb","actor":"alice"}'
        for body in (ok, refused, b'{"disk": 7, "token": "hunter2-secret"}'):
            await alice.request(subj, body, timeout=5)
        got: list[AuditRecord] = await async_wait_for(
            lambda: _three(nc, site), timeout=20, what="three audit records"
        )
    finally:
        await host.stop()
    by_outcome = {r.outcome: r for r in got}
    assert set(by_outcome) == {"ok", "confirmation_required", "invalid_request"}
    r = by_outcome["ok"]
    assert (r.service, r.site, r.subject, r.endpoint) == ("agent", "site-t", subj, "disk.wipe")
    assert (r.sender, r.actor, r.request_id, r.status) == ("_INBOX_alice_cli", "alice", "req-00000001", 200)
    assert r.request is not None and r.request["token"] == "<redacted>" and r.request["disk"] == "sda"
    assert r.duration_ms >= 0 and r.at > 0
    assert 'repeat the request with "confirm": "sdb"' in by_outcome["confirmation_required"].message
    bad = by_outcome["invalid_request"]
    assert bad.request is None and bad.request_bytes > 0 and bad.status == 400
    raw = b"".join(msgspec.json.encode(x) for x in got)
    assert b"hunter2" not in raw


async def _three(nc: NATS, site: str) -> list[AuditRecord]:
    got = await records(nc, site)
    return got if len(got) >= 3 else []


async def test_no_stream_never_holds_up_a_reply(nc: NATS, alice: NATS) -> None:
    # nothing captures `nostream.audit.>`: every audit publish fails and is retried in the background
    host = await start_host(nc, f"nostream.agent.s{uuid.uuid4().hex[:8]}")
    try:
        for i in range(20):
            body = f'{{"request_id":"req-1000{i:04d}","disk":"d{i}","confirm":"d{i}"}}'.encode()
            reply = await alice.request(f"{host.prefix}.disk.wipe", body, timeout=5)
            assert msgspec.json.decode(reply.data)["message"] == f"wiped d{i}"
        assert host.trail is not None and host.trail.outbox.sent == 0
    finally:
        await host.stop()  # bounded: the flush gives up, the sender is cancelled


async def test_the_stream_refuses_deletes_and_purges(nc: NATS) -> None:
    await jetstream_up(nc)
    js = nc.jetstream()
    await ensure_audit_stream(js)
    ack = await js.publish("cephdr.audit.ctl", b"{}")
    with pytest.raises(Exception, match=r"(?i)delete"):
        await js.delete_msg(subjects.AUDIT_STREAM, ack.seq)
    with pytest.raises(Exception, match=r"(?i)purge"):
        await js.purge_stream(subjects.AUDIT_STREAM)
    info = await js.stream_info(subjects.AUDIT_STREAM)
    assert info.config.deny_delete and info.config.deny_purge


async def test_a_weaker_audit_stream_made_first_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    # its own server: the session's already has the real stream
    with tempfile.TemporaryDirectory(prefix="cephdr-bus-") as d:
        paths = labnats.NatsPaths(Path(d))
        pid, url = labnats.start(paths)
        try:
            nc = await connect(url, name="admin", forever=False)
            await jetstream_up(nc)
            js = nc.jetstream()
            await js.add_stream(StreamConfig(name=subjects.AUDIT_STREAM, subjects=["cephdr.audit.>"]))
            await ensure_audit_stream(js)
            await nc.close()
        finally:
            procs.stop([pid], term_timeout=5, what="nats-server")
    assert "deny_delete=False deny_purge=False" in caplog.text
