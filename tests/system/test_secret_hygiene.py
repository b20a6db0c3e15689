"""Secret hygiene on the lab: while a pool is peered through the controller (sealed bootstrap
tokens), a group applied and failed over and back, everything published on the bus (`>`, seen by
the lab's `tap` identity, replies included), every log line (agents, controllers, nats-server, and
this test process), and afterwards every message of every stream and KV bucket, is searched for
every secret the lab has: all cephx keys of both clusters (`ceph auth ls`), a bootstrap token made
with the `rbd` CLI, the nkey seeds of every role, the agents' private keys, TLS keys if any. A
secret counts as found in clear or inside any base64 string (a bootstrap token is base64 JSON).
The files cephdr writes keys to must be 0600.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import oracle
from helpers.ctl import Ctl, describe, rid
from helpers.lab_bus import lab_nats
from helpers.wait import async_wait_for
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy

from bus import subjects
from lab.model import LabInfo

pytestmark = pytest.mark.system

_B64 = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)  # secret -> what it is (never printed)

    def add(self, what: str, value: str) -> None:
        value = value.strip()
        if len(value) >= 16:
            self.values[value] = what

    def found_in(self, blob: bytes) -> list[str]:
        """What each secret found in `blob` is (in clear, or inside a base64 string)."""
        decoded = [blob]
        for m in _B64.finditer(blob):
            tok = m.group(0)
            for alt in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    decoded.append(alt(tok + b"=" * (-len(tok) % 4)))
        haystack = b"\n".join(decoded)  # one pass per secret, however large the logs grow
        return sorted({what for s, what in self.values.items() if s.encode() in haystack})


def lab_secrets(lab: LabInfo) -> Secrets:
    sec = Secrets()
    for s in lab.sites:
        for entry in oracle.ceph(s, "auth", "ls", json=True)["auth_dump"]:
            sec.add(f"cephx key of {entry['entity']} on {s.name}", entry["key"])
    lab_dir = Path(lab.dir)
    for p in lab_dir.glob("nats/creds/*.nk"):
        sec.add(f"nkey seed {p.name}", p.read_text())
    for p in [*lab_dir.glob("agents/*.key"), *lab_dir.glob("nats/**/*.key")]:
        sec.add(f"private key {p.relative_to(lab_dir)}", p.read_text())
    return sec


def key_files(lab: LabInfo) -> list[Path]:
    d = Path(lab.dir)
    return sorted({*d.glob("agents/*.key"), *d.glob("nats/creds/*.nk"), *d.glob("nats/**/*.key"),
                   *d.glob("site-*/keyring"), *d.glob("site-*/data/*/keyring")})


def log_files(lab: LabInfo) -> list[tuple[str, bytes]]:
    d = Path(lab.dir)
    return [(str(p), p.read_bytes()) for p in (*d.glob("agents/*.log"), *d.glob("controller/*.log"),
                                               *d.glob("nats/*.log"))]


@pytest.fixture(scope="module")
async def pool(lab: LabInfo) -> AsyncIterator[dict[str, str]]:
    """A fresh pool on both sites, not peered yet, with one image on site-a."""
    sa, sb = lab.site("site-a"), lab.site("site-b")
    name, image = oracle.unique_name("sec"), oracle.unique_name("img")
    for s in (sa, sb):
        oracle.ceph(s, "osd", "pool", "create", name, "8", "8")
        oracle.rbd(s, "pool", "init", name)
    oracle.rbd(sa, "create", "--size", "8M", f"{name}/{image}")
    yield {"pool": name, "image": image, "group": oracle.unique_name("sec").lower()[:30]}
    for s in (sa, sb):
        with contextlib.suppress(oracle.CliError):
            oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", name, "--image", image)


async def replaying(ctl: Ctl, group: str, site: str) -> bool:
    """The group's image replays on `site` as the controller sees it (a failover's precheck)."""
    st = await ctl.req("status", group=group)
    members = st.groups[0].members
    return bool(members) and all(m.sites[site].state == "replaying" for m in members)


class Tap:
    """Everything published while it listens: subject, headers, payload."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def on_msg(self, msg: Any) -> None:
        self.seen.append((msg.subject, json.dumps(dict(msg.headers or {})).encode() + b"\n" + msg.data))


async def stored(nc: NATS, stream: str) -> list[tuple[str, bytes]]:
    """Every message a stream holds now."""
    js = nc.jetstream()
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return []
    sub = await js.subscribe(">", stream=stream, ordered_consumer=True,
                             config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    out: list[tuple[str, bytes]] = []
    try:
        while True:
            msg = await sub.next_msg(timeout=10)
            out.append((f"{stream}:{msg.subject}", msg.data))
            if msg.metadata.num_pending == 0:
                return out
    finally:
        await sub.unsubscribe()


async def test_no_secret_on_the_bus_in_logs_or_in_storage(
    lab: LabInfo, pool: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = lab_secrets(lab)
    # a token as the CLI makes it (what an agent seals): the same key must never travel in clear
    site_a = lab.site("site-a")
    token = oracle.rbd(site_a, "mirror", "pool", "peer", "bootstrap", "create", site_a.rbd_pool)
    secrets.add("rbd bootstrap token", token)
    assert len([w for w in secrets.values.values() if w.startswith("cephx")]) >= 8
    # the scanner itself: a secret inside a base64 JSON token is found
    probe = next(s for s, w in secrets.values.items() if w.startswith("cephx"))
    wrapped = base64.b64encode(json.dumps({"key": probe}).encode())
    assert secrets.found_in(b'{"x": "' + wrapped + b'"}'), "the scanner misses a base64-wrapped secret"

    tap, tap_nc = Tap(), await lab_nats(lab, "tap")
    sub = await tap_nc.subscribe(">", cb=tap.on_msg)
    ctl_nc = await lab_nats(lab, "operator")
    ctl = Ctl(ctl_nc)
    try:
        spec = {"name": pool["group"], "sites": ["site-a", "site-b"], "primary": "site-a",
                "schedule": {"interval": "5m"},
                "rbd": [{"pool": pool["pool"], "images": [pool["image"]], "mode": "snapshot"}]}
        # applying peers the pool (sealed tokens); peer.connect again takes the same path
        accepted = await ctl.req("group.apply", request_id=rid(), spec=spec)
        op = await ctl.wait_op(accepted.op_id)
        assert op.state == "succeeded", describe(op)
        await ctl.req("peer.connect", request_id=rid(), source="site-a", target="site-b", pool=pool["pool"],
                      timeout=120)
        for to in ("site-b", "site-a"):
            await async_wait_for(lambda to=to: replaying(ctl, pool["group"], to), timeout=600, interval=3,
                                 what=f"{pool['image']} replaying on {to}")
            accepted = await ctl.req("failover", request_id=rid(), group=pool["group"], to=to)
            op = await ctl.wait_op(accepted.op_id)
            assert op.state == "succeeded", describe(op)
        await ctl.req("group.delete", request_id=rid(), group=pool["group"], confirm=pool["group"])
        await tap_nc.flush()
    finally:
        await sub.unsubscribe()
        await tap_nc.close()
        await ctl_nc.close()

    # the capture saw the sealed exchange itself, so its silence about secrets means something
    captured = {s for s, _ in tap.seen}
    assert "cephdr.agent.site-a.rbd.peer.bootstrap.create" in captured
    assert any(s.startswith("_INBOX_") for s in captured), "replies were not captured"

    reader = await lab_nats(lab, "controller")
    try:
        kept: list[tuple[str, bytes]] = []
        for stream in (subjects.EVENTS_STREAM, subjects.AUDIT_STREAM, f"KV_{subjects.STATE_BUCKET}",
                       f"KV_{subjects.LEASE_BUCKET}"):
            kept += await stored(reader, stream)
    finally:
        await reader.close()
    assert any(name.startswith(subjects.AUDIT_STREAM) and b"bootstrap.import" in data for name, data in kept)

    logs = log_files(lab)
    assert any("agents/" in name for name, _ in logs) and any("controller/" in name for name, _ in logs)
    leaks: dict[str, list[str]] = {}
    for where, blob in [*tap.seen, *kept, *logs, ("this test's log", caplog.text.encode())]:
        found = secrets.found_in(blob)
        if found:
            leaks.setdefault(where, []).extend(found)
    # only what kind of secret leaked where: the test output must not carry the secret either
    assert not leaks, f"secrets found: { {w: sorted(set(f)) for w, f in leaks.items()} }"


def test_key_files_are_owner_only(lab: LabInfo) -> None:
    files = key_files(lab)
    assert any(p.suffix == ".nk" for p in files) and any(p.suffix == ".key" for p in files)
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077}
    assert not loose, f"key files readable by others: {loose}"

