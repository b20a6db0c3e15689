"""The running lab enforces least privilege: its nats-server was configured by `cephdr nats-config`,
the real agents and controller answer the roles allowed to call them, and every other role gets
`PermissionDenied` (from the library and from `cephdr req`), never a timeout. All real: the lab's
nats-server, agents, controller and Ceph (the matrix over every subject family is in
tests/bus/test_permission_matrix.py, against a server without Ceph)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
import pytest
from helpers.lab_bus import lab_nats
from helpers.wait import async_wait_for
from nats.aio.msg import Msg

from bus import client as bus_client
from bus.connect import PermissionLog
from lab.model import LabInfo
from schemas.errors import PermissionDenied

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
PROMOTE = "cephdr.agent.site-a.rbd.image.promote"
PROMOTE_BODY = {"request_id": "perm-test-0001", "pool": "rbd", "image": "no-such-image"}

# role -> (allowed, denied) requests to the lab's real services
REQUESTS: dict[str, tuple[list[str], list[str]]] = {
    "operator": (["cephdr.ctl.site.list", "cephdr.agent.site-a.status"], [PROMOTE]),
    "viewer": (["cephdr.ctl.status", "cephdr.agent.site-b.status"], ["cephdr.ctl.failover", PROMOTE]),
    "chatops": (["cephdr.ctl.site.list"], ["cephdr.agent.site-a.status", PROMOTE]),
    "agent-site-b": ([], ["cephdr.agent.site-a.status", "cephdr.ctl.site.list"]),
}


@pytest.fixture(autouse=True)
def _has_credentials(lab: LabInfo) -> None:
    assert lab.credentials, "the lab runs NATS without identities (made by an older cephdr? lab down, up)"


@pytest.mark.parametrize("role", sorted(REQUESTS))
async def test_each_role_reaches_only_its_services(lab: LabInfo, role: str) -> None:
    perms = PermissionLog()
    nc = await lab_nats(lab, role, permissions=perms)
    try:
        allowed, denied = REQUESTS[role]
        for subject in allowed:
            reply: Any = await bus_client.request(nc, subject, {}, timeout=30, permissions=perms)
            assert isinstance(reply, dict) and reply, subject
        for subject in denied:
            body = PROMOTE_BODY if subject == PROMOTE else {}
            with pytest.raises(PermissionDenied, match="permission denied"):
                await bus_client.request(nc, subject, body, timeout=60, permissions=perms)
    finally:
        await nc.close()


async def test_an_agent_cannot_speak_for_another_site(lab: LabInfo) -> None:
    perms = PermissionLog()
    nc = await lab_nats(lab, "agent-site-b", permissions=perms)

    async def ignore(msg: Msg) -> None:
        pass

    try:
        with pytest.raises(PermissionDenied):
            await bus_client.publish(nc, "cephdr.evt.site-a.daemon", b"{}", permissions=perms)
        with pytest.raises(PermissionDenied):
            await bus_client.subscribe(nc, "cephdr.agent.site-a.>", cb=ignore, permissions=perms)
        with pytest.raises(PermissionDenied):
            await bus_client.publish(nc, "cephdr.audit.ctl", b"{}", permissions=perms)
    finally:
        await nc.close()


async def test_operator_sees_the_agents_heartbeats(lab: LabInfo) -> None:
    seen: set[str] = set()

    async def on_hb(msg: Msg) -> None:
        seen.add(msg.subject)

    nc = await lab_nats(lab, "operator")
    try:
        sub = await nc.subscribe("cephdr.evt.*.heartbeat", cb=on_hb)
        want = {f"cephdr.evt.{s.name}.heartbeat" for s in lab.sites}
        await async_wait_for(lambda: want <= seen, timeout=30, interval=0.2, what="heartbeats of both sites")
        await sub.unsubscribe()
    finally:
        await nc.close()


def test_cli_reports_a_denial_as_permission_denied(lab: LabInfo) -> None:
    cp = subprocess.run(
        [sys.executable, "-m", "cli.main", "req", PROMOTE, json.dumps(PROMOTE_BODY), "--nats", lab.nats_url,
         "--creds", lab.creds("operator"), "--timeout", "60",
         *(["--tls-ca", f"{lab.tls_dir}/ca.pem", "--tls-cert", f"{lab.tls_dir}/operator.pem",
            "--tls-key", f"{lab.tls_dir}/operator.key"] if lab.tls_dir else [])],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert cp.returncode == 3, cp.stdout + cp.stderr
    err = json.loads(cp.stdout)["error"]
    assert err["code"] == "permission_denied" and PROMOTE in err["message"]


async def test_an_anonymous_client_is_refused(lab: LabInfo) -> None:
    with pytest.raises(Exception) as refused:
        await nats.connect(lab.nats_url, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=0)
    assert "authorization" in str(refused.value).lower() or lab.tls_dir
