"""The audit trail and the dangerous-command guard on the lab, end to end: the real agent and
controller record what they served in CEPHDR_AUDIT, `cephdr audit` (the CLI, as a subprocess with
the operator's credentials) shows it with its filters, and the lab's NATS permissions keep agents
and chatops from writing anyone else's records or touching the stream."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from helpers import oracle
from helpers.lab_bus import lab_nats
from helpers.wait import async_wait_for
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy

from bus import subjects
from bus.client import request
from bus.connect import PermissionLog
from lab.model import LabInfo
from schemas.errors import ConfirmationRequired

pytestmark = pytest.mark.system


def cli_audit(lab: LabInfo, *args: str) -> list[dict[str, Any]]:
    cp = subprocess.run(
        [sys.executable, "-m", "cli.main", "-q", "audit", "--nats", lab.nats_url,
         "--creds", lab.creds("operator"), "--json", *args],
        capture_output=True, timeout=120, check=False, env={**os.environ},
    )
    assert cp.returncode == 0, cp.stdout.decode() + cp.stderr.decode()
    return [json.loads(line) for line in cp.stdout.decode().splitlines() if line.strip()]


async def audit_payloads(nc: NATS, last: int = 200) -> list[bytes]:
    """The payloads of the newest `last` records of the audit stream."""
    js = nc.jetstream()
    info = await js.stream_info(subjects.AUDIT_STREAM)
    start = max(1, info.state.last_seq - last + 1)
    sub = await js.subscribe(">", stream=subjects.AUDIT_STREAM, ordered_consumer=True,
                             config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                                   opt_start_seq=start))
    out: list[bytes] = []
    try:
        while info.state.messages:
            msg = await sub.next_msg(timeout=10)
            out.append(msg.data)
            if msg.metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return out


async def test_dangerous_commands_are_refused_recorded_and_shown_by_the_cli(lab: LabInfo) -> None:
    sa = lab.site("site-a")
    actor = f"alice-{uuid.uuid4().hex[:6]}"
    info = oracle.rbd(sa, "mirror", "pool", "info", sa.rbd_pool, json=True)
    peer = info["peers"][0]["uuid"]
    controller = await lab_nats(lab, "controller")  # the role that commands agents
    try:
        prefix = f"cephdr.agent.{sa.name}"
        refused = [
            ("rbd.peer.remove", {"pool": sa.rbd_pool, "uuid": peer}, peer),
            ("rbd.pool.disable", {"pool": sa.rbd_pool}, sa.rbd_pool),
            ("rbd.image.promote", {"pool": sa.rbd_pool, "image": "any", "force": True}, f"{sa.rbd_pool}/any"),
        ]
        for name, body, target in refused:
            with pytest.raises(ConfirmationRequired) as exc:
                body = {"request_id": f"aud-{uuid.uuid4().hex[:12]}", "actor": actor, **body}
                await request(controller, f"{prefix}.{name}", body, timeout=30)
            assert f'"confirm": "{target}"' in exc.value.message
        await request(controller, f"{prefix}.status", {"actor": actor}, timeout=30)
    finally:
        await controller.close()
    # nothing changed: the peer and the pool's mirroring are still there
    assert oracle.rbd(sa, "mirror", "pool", "info", sa.rbd_pool, json=True) == info

    async def shown() -> list[dict[str, Any]]:
        got = await asyncio.to_thread(cli_audit, lab, "--since", "10m", "--actor", actor)
        return got if len(got) >= 4 else []

    records = await async_wait_for(shown, timeout=60, interval=2, what="the audit records of the test")
    by_endpoint = {r["endpoint"]: r for r in records}
    assert {r["outcome"] for r in records} == {"ok", "confirmation_required"}
    for name in ("rbd.peer.remove", "rbd.pool.disable", "rbd.image.promote"):
        r = by_endpoint[name]
        assert (r["outcome"], r["status"], r["service"], r["site"]) == ("confirmation_required", 400, "agent",
                                                                         sa.name)
        assert r["sender"] == "_INBOX_controller" and r["subject"] == f"cephdr.agent.{sa.name}.{name}"
        assert r["request"]["actor"] == actor and r["duration_ms"] >= 0
    assert by_endpoint["status"]["outcome"] == "ok"
    # the filters: outcome and subject glob
    errors = await asyncio.to_thread(cli_audit, lab, "--since", "10m", "--actor", actor, "--outcome", "error")
    assert {r["endpoint"] for r in errors} == {"rbd.peer.remove", "rbd.pool.disable", "rbd.image.promote"}
    promotes = await asyncio.to_thread(cli_audit, lab, "--since", "10m", "--actor", actor, "--subject",
                                       "*.promote")
    assert [r["endpoint"] for r in promotes] == ["rbd.image.promote"]


@pytest.mark.parametrize(
    ("role", "subject"),
    [("chatops", "cephdr.audit.ctl"), ("agent-site-a", "cephdr.audit.agent.site-b"),
     ("agent-site-a", "cephdr.audit.ctl"), ("viewer", "cephdr.audit.agent.site-a")],
)
async def test_only_the_service_itself_writes_its_audit_subject(
    lab: LabInfo, role: str, subject: str
) -> None:
    perms = PermissionLog()
    nc = await lab_nats(lab, role, permissions=perms)
    marker = f"forged-{uuid.uuid4().hex}".encode()
    try:
        violation = perms.next_violation()
        await nc.publish(subject, b'{"type":"cephdr.audit.v1","marker":"' + marker + b'"}')
        await nc.flush()
        await asyncio.wait_for(violation, 10)
        assert perms.denied(subject, 0) == "publish"
    finally:
        await nc.close()
    reader = await lab_nats(lab, "controller")
    try:
        assert not any(marker in p for p in await audit_payloads(reader))
    finally:
        await reader.close()


async def test_an_agent_cannot_purge_or_delete_audit_records(lab: LabInfo) -> None:
    perms = PermissionLog()
    nc = await lab_nats(lab, "agent-site-a", permissions=perms)
    try:
        js = nc.jetstream(timeout=5)
        for attempt in (js.purge_stream(subjects.AUDIT_STREAM), js.delete_msg(subjects.AUDIT_STREAM, 1),
                        js.delete_stream(subjects.AUDIT_STREAM)):
            with pytest.raises(Exception):  # noqa: B017  (denied: the server drops it; nats-py times out)
                await attempt
        assert perms.denied(f"$JS.API.STREAM.PURGE.{subjects.AUDIT_STREAM}", 0) == "publish"
    finally:
        await nc.close()
    # and the stream itself refuses both, even to the controller that owns it
    reader = await lab_nats(lab, "controller")
    try:
        info = await reader.jetstream().stream_info(subjects.AUDIT_STREAM)
        assert info.config.deny_delete and info.config.deny_purge and info.state.messages > 0
    finally:
        await reader.close()
