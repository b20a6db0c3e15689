"""The running agent as a whole, against the lab: events arrive within a scan interval, a quiet
site publishes nothing but heartbeats, a dead cluster answers with an error (not a hang), and an
epoch naming another site primary makes the agent demote the group's images (self-fencing).

Real: the lab's Ceph sites, nats-server and `cephdr agent` processes; one extra agent process is
run in-process here against a cluster that does not exist.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from helpers.data import cephfs_mount, cephfs_write
from helpers.lab_bus import lab_nats
from helpers.oracle import rbd, unique_name
from helpers.wait import async_wait_for
from nats.aio.client import Client as NATS

from agent.config import AgentConfig, AgentSection, CephConfig, StatusConfig, Timeouts
from agent.runtime.app import Agent
from bus import subjects
from bus.client import request
from lab import agents as lab_agents
from lab.model import LabInfo
from schemas.errors import DeadlineExceeded, NotFound, Unavailable
from schemas.fencing import FenceEvent, FenceMember, FenceRecord
from schemas.status import Heartbeat, ImageEvent

pytestmark = pytest.mark.system
log = logging.getLogger(__name__)

SCAN = lab_agents.LAB_SCAN_INTERVAL
# one scan interval, plus the scan itself and the request that changed things, plus slack for a
# loaded 2-core machine: a bound on correctness (the event comes at all, on time), not a benchmark
EVENT_WITHIN = 3 * SCAN + 10


def role_is(role: str) -> Any:
    return lambda e: e.status is not None and e.status.role == role


@pytest.fixture
async def nc(lab: LabInfo) -> AsyncIterator[NATS]:
    client = await lab_nats(lab, "controller")  # commands agents, writes fence records
    yield client
    await client.close()


def rid() -> str:
    return f"rt-{unique_name('r')}"


async def call(nc: NATS, site: str, name: str, **body: Any) -> Any:
    return await request(nc, f"cephdr.agent.{site}.{name}", body, timeout=60)


async def test_quiet_site_publishes_only_heartbeats(lab: LabInfo, nc: NATS) -> None:
    """Nothing changes -> only heartbeats on cephdr.evt.>. A site that kept publishing (lag noise,
    timestamps, ...) would never show a quiet window and fail here."""
    window = 4 * SCAN
    seen: list[tuple[float, str]] = []

    async def note(msg: Any) -> None:
        seen.append((asyncio.get_running_loop().time(), msg.subject))

    sub = await nc.subscribe("cephdr.evt.>", cb=note)
    try:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + 120  # other tests' images may still be settling: wait them out
        while True:
            start = loop.time()
            await asyncio.sleep(window)
            other = [s for t, s in seen if t >= start and not s.endswith(".heartbeat")]
            beats = collections.Counter(s for t, s in seen if t >= start and s.endswith(".heartbeat"))
            if not other:
                break
            assert loop.time() < give_up, f"events kept coming on a quiet lab: {other[:10]}"
            log.info("not quiet yet: %s", other[:5])
    finally:
        await sub.unsubscribe()
    # heartbeats did flow meanwhile, from both sites
    assert set(beats) == {"cephdr.evt.site-a.heartbeat", "cephdr.evt.site-b.heartbeat"}


async def test_state_changes_arrive_as_events_within_a_scan(lab: LabInfo, nc: NATS) -> None:
    a = lab.site("site-a")
    img = unique_name("evt")
    rbd(a, "create", "--size", "8M", "--image-feature", "layering,exclusive-lock", f"rbd/{img}")
    events: asyncio.Queue[ImageEvent] = asyncio.Queue()

    async def on_msg(msg: Any) -> None:
        ev = msgspec.json.decode(msg.data, type=ImageEvent)
        if ev.image == img:
            events.put_nowait(ev)

    sub = await nc.subscribe("cephdr.evt.site-a.rbd.image", cb=on_msg)
    try:
        await call(nc, "site-a", "rbd.image.enable", request_id=rid(), pool="rbd", image=img, mode="snapshot")
        t0 = time.monotonic()
        ev = await _next(events, role_is("primary"), EVENT_WITHIN)
        log.info("enable -> event in %.1fs (scan interval %.0fs)", time.monotonic() - t0, SCAN)
        # demote: the role change is an event too
        await call(nc, "site-a", "rbd.image.demote", request_id=rid(), pool="rbd", image=img)
        ev = await _next(
            events, lambda e: e.status is not None and e.status.role == "non_primary", 3 * SCAN + 10
        )
        assert ev.previous is not None and ev.previous.role == "primary"
        await call(nc, "site-a", "rbd.image.promote", request_id=rid(), pool="rbd", image=img)
        await _next(events, role_is("primary"), EVENT_WITHIN)
    finally:
        await sub.unsubscribe()
        await call(nc, "site-a", "rbd.image.disable", request_id=rid(), pool="rbd", image=img)
        rbd(a, "rm", f"rbd/{img}")


async def _next(q: asyncio.Queue[ImageEvent], pred: Any, within: float) -> ImageEvent:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, "expected event did not arrive"
        ev = await asyncio.wait_for(q.get(), timeout=left)
        if pred(ev):
            return ev


async def test_self_fencing_demotes_on_a_foreign_epoch(lab: LabInfo, nc: NATS) -> None:
    a = lab.site("site-a")
    img = unique_name("fence")
    group = unique_name("g").lower().replace("_", "-")[:30]
    rbd(a, "create", "--size", "8M", "--image-feature", "layering,exclusive-lock", f"rbd/{img}")
    await call(nc, "site-a", "rbd.image.enable", request_id=rid(), pool="rbd", image=img, mode="snapshot")
    fences: asyncio.Queue[FenceEvent] = asyncio.Queue()

    async def on_fence(msg: Any) -> None:
        fences.put_nowait(msgspec.json.decode(msg.data, type=FenceEvent))

    sub = await nc.subscribe("cephdr.evt.site-a.fence", cb=on_fence)
    kv = await nc.jetstream().key_value(subjects.STATE_BUCKET)
    rec = FenceRecord(
        group=group,
        epoch=7,
        primary="site-b",
        rbd=[FenceMember(pool="rbd", images=[img])],  # type: ignore[arg-type,list-item]
        updated_at=time.time(),
        reason="test: site-b is primary now",
    )
    try:
        await kv.put(subjects.fence_key(group), msgspec.json.encode(rec))
        ev = await asyncio.wait_for(_first(fences, group), timeout=60)
        assert ev.epoch == 7 and [(x.image, x.ok) for x in ev.actions] == [(img, True)]
        info = rbd(a, "info", f"rbd/{img}", json=True)
        assert info["mirroring"]["primary"] is False
        hb = await _heartbeat(nc, "site-a", lambda h: group in h.fenced_groups)
        assert hb.epochs[group] == 7
    finally:
        await sub.unsubscribe()
        await kv.delete(subjects.fence_key(group))
        with contextlib.suppress(Exception):
            await call(
                nc,
                "site-a",
                "rbd.image.disable",
                request_id=rid(),
                pool="rbd",
                image=img,
                force=True,
                confirm=f"rbd/{img}",
            )
        rbd(a, "rm", f"rbd/{img}")


async def _first(q: asyncio.Queue[FenceEvent], group: str) -> FenceEvent:
    while True:
        ev = await q.get()
        if ev.group == group:
            return ev


async def _heartbeat(nc: NATS, site: str, pred: Any) -> Heartbeat:
    async def probe() -> Heartbeat | None:
        kv = await nc.jetstream().key_value(subjects.STATE_BUCKET)
        entry = await kv.get(subjects.site_heartbeat_key(site))
        hb = msgspec.json.decode(entry.value or b"", type=Heartbeat)
        return hb if pred(hb) else None

    return await async_wait_for(probe, timeout=30, interval=0.5, what=f"heartbeat of {site}")


async def test_dead_cluster_answers_with_an_error_within_its_deadline(
    lab: LabInfo, nc: NATS, tmp_path: Path
) -> None:
    """An agent whose monitors do not answer: requests get a structured error from the agent
    (not a bus timeout), well inside the caller's deadline; status says why."""
    conf = tmp_path / "dead.conf"
    conf.write_text("[global]\nmon_host = [v2:127.0.0.1:1,v1:127.0.0.1:2]\nauth_client_required = none\n")
    site = "site-dead"
    cfg = AgentConfig(
        site=site,  # type: ignore[arg-type]
        nats=lab.nats_config(f"agent-{site}"),
        ceph=CephConfig(conf=str(conf), timeouts=Timeouts(connect=2, op=3, mon_op=3, osd_op=3)),
        status=StatusConfig(interval=2, pools=["rbd"]),  # type: ignore[list-item]
        agent=AgentSection(identity_file=str(tmp_path / "id.key"), heartbeat_interval=1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(Agent(cfg).run(stop))
    try:
        await async_wait_for(lambda: _pings(nc, site), timeout=30, what="dead-site agent serving")
        subject = f"cephdr.agent.{site}.rbd.pool.info"
        t0 = time.monotonic()
        with pytest.raises((Unavailable, DeadlineExceeded)) as e:
            await request(nc, subject, {"pool": "rbd"}, timeout=30)
        took = time.monotonic() - t0
        assert e.value.where != subject, "the bus timed out: the agent did not answer"
        assert took < 30
        log.info("dead cluster: %s after %.1fs", e.value, took)
        st = await request(nc, f"cephdr.agent.{site}.status", {}, timeout=30)
        assert st["cluster_reachable"] is False
        assert any("cluster unreachable" in x for x in st["errors"])
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


async def _pings(nc: NATS, site: str) -> bool:
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("$SRV.PING.cephdr-agent", b"", reply=inbox)
    found = False
    with contextlib.suppress(Exception):
        while True:
            msg = await sub.next_msg(timeout=0.5)
            if json.loads(msg.data).get("metadata", {}).get("site") == site:
                found = True
                break
    await sub.unsubscribe()
    return found


async def test_mirrored_directory_reports_its_rpo_lag(lab: LabInfo, nc: NATS) -> None:
    """A snapshot synced a -> b shows up in site-a's status with the snapshot's own creation time
    as `last_synced_snapshot_at` and an RPO lag measured from it."""
    a = lab.site("site-a")
    path = f"/{unique_name('rpo')}"
    snap = "s1"
    with cephfs_mount(a.conf) as fs:
        fs.mkdir(path.encode(), 0o755)
        cephfs_write(fs, f"{path}/f", b"rpo test data")
    await call(nc, "site-a", "fs.dir.add", request_id=rid(), fs="cephfs", path=path)
    try:
        before = time.time()
        with cephfs_mount(a.conf) as fs:
            fs.mkdir(f"{path}/.snap/{snap}".encode(), 0o755)
        after = time.time()

        async def synced() -> dict[str, Any] | None:
            st = await call(nc, "site-a", "status", fresh=True)
            for d in st.get("dirs", []):
                if d["path"] == path and (d.get("last_synced_snap") or {}).get("name") == snap:
                    return d if d.get("rpo_lag_s") is not None else None
            return None

        d = await async_wait_for(synced, timeout=120, interval=1, what=f"{path}@{snap} synced with a lag")
        # the snapshot's own creation time (ceph.snap.btime), not the sync's
        assert before - 1 <= d["last_synced_snapshot_at"] <= after + 1
        assert d["rpo_lag_s"] >= 0
    finally:
        await call(nc, "site-a", "fs.dir.remove", request_id=rid(), fs="cephfs", path=path)
        with cephfs_mount(a.conf) as fs:
            fs.rmdir(f"{path}/.snap/{snap}".encode())
            fs.unlink(f"{path}/f".encode())
            fs.rmdir(path.encode())


async def test_long_command_can_be_followed_with_op_queries(lab: LabInfo, nc: NATS) -> None:
    a = lab.site("site-a")
    img = unique_name("bulk")
    rbd(a, "create", "--size", "8M", "--image-feature", "layering,exclusive-lock", f"rbd/{img}")
    await call(nc, "site-a", "rbd.image.enable", request_id=rid(), pool="rbd", image=img, mode="snapshot")
    try:
        acc = await call(nc, "site-a", "rbd.images.demote", request_id=rid(), pool="rbd", images=[img])
        assert acc["status"] == "accepted"

        async def finished() -> dict[str, Any] | None:
            rec = await call(nc, "site-a", "op.get", op_id=acc["op_id"])
            return rec if rec["state"] != "running" else None

        rec = await async_wait_for(finished, timeout=120, interval=0.5, what="bulk demote finished")
        assert rec["state"] == "succeeded", rec
        assert rec["result"]["succeeded"] == 1 and rec["done"] == rec["total"] == 1
        listed = await call(nc, "site-a", "op.list", limit=10)
        assert any(o["op_id"] == acc["op_id"] for o in listed["ops"])
        with pytest.raises(NotFound):
            await call(nc, "site-a", "op.get", op_id="op-does-not-exist")
    finally:
        await call(nc, "site-a", "rbd.image.promote", request_id=rid(), pool="rbd", image=img)
        await call(nc, "site-a", "rbd.image.disable", request_id=rid(), pool="rbd", image=img)
        rbd(a, "rm", f"rbd/{img}")
