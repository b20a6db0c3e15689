"""Controller high availability on the lab (issue 5 item 4): two `cephdr controller` processes
against the lab's NATS, one holding the leader lease (KV `cephdr_leases`). The leader is killed -9
in the middle of a planned failover; the standby takes the lease once the server expires it,
resumes the operation and finishes it, and answers `cephdr.ctl.*` from then on.

Real: both controllers, NATS, the agents, Ceph. The group is RBD only (two snapshot-mode images):
CephFS belongs to the failover test's group. The lab is left with its one controller leading.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from helpers import data, oracle
from helpers.ctl import Ctl, describe, group_healthy, rid
from helpers.wait import async_wait_for

from bus import subjects
from controller.store import LEASE_KEY
from lab import controller as lab_controller
from lab.model import LabInfo, SiteInfo
from schemas.common import Accepted
from schemas.ctl import GroupApplied, OpRecord, SiteList
from schemas.lease import LeaderEvent, LeaseRecord

pytestmark = pytest.mark.system

MIB = 1024 * 1024


@dataclass
class Group:
    name: str
    pool: str
    images: list[str]


def write(site: SiteInfo, pool: str, image: str, offset: int) -> None:
    data.write_at_site(site.conf, site.keyring, pool, image, offset)


def checksums(site: SiteInfo, g: Group) -> dict[str, str]:
    return {img: oracle.image_sha256(site, f"{g.pool}/{img}") for img in g.images}


async def lease_holder(ctl: Ctl) -> LeaseRecord | None:
    kv = await ctl.nc.jetstream(timeout=5).key_value(subjects.LEASE_BUCKET)
    try:
        entry = await kv.get(LEASE_KEY)
    except Exception:  # no holder (expired or released) right now
        return None
    return msgspec.json.decode(entry.value, type=LeaseRecord) if entry.value else None


def pid_of(holder: str) -> int:
    return int(holder.split(":")[1])  # "<hostname>:<pid>:<random>"


@pytest.fixture(scope="module")
async def group(lab: LabInfo, ctl: Ctl) -> AsyncIterator[Group]:
    sa, sb = lab.site("site-a"), lab.site("site-b")
    g = Group(
        name=oracle.unique_name("ha").lower()[:30],
        pool=oracle.unique_name("hap"),
        images=[oracle.unique_name("h1"), oracle.unique_name("h2")],
    )
    for s in (sa, sb):
        oracle.ceph(s, "osd", "pool", "create", g.pool, "8", "8")
        oracle.rbd(s, "pool", "init", g.pool)
    for i, img in enumerate(g.images):
        oracle.rbd(sa, "create", "--size", "16M", f"{g.pool}/{img}")
        write(sa, g.pool, img, i * MIB)
    spec = {
        "name": g.name,
        "sites": ["site-a", "site-b"],
        "primary": "site-a",
        "schedule": {"interval": "1m"},
        "rbd": [{"pool": g.pool, "images": g.images, "mode": "snapshot"}],
    }
    applied: GroupApplied = await ctl.req("group.apply", request_id=rid(), spec=spec)
    assert applied.op_id
    op = await ctl.wait_op(applied.op_id)
    assert op.state == "succeeded", describe(op)
    await async_wait_for(lambda: group_healthy(ctl, g.name, "site-a"), timeout=300, interval=3,
                         what="group healthy")
    yield g
    for s in (sa, sb):
        for img in g.images:
            with contextlib.suppress(oracle.CliError):
                oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", g.pool, "--image", img)
    with contextlib.suppress(Exception):
        await ctl.req("group.delete", request_id=rid(), group=g.name, confirm=g.name)


@pytest.fixture
async def standby(lab: LabInfo) -> AsyncIterator[int]:
    """A second controller of the lab, standing by; afterwards the lab's own controller (index 0)
    leads again and the second one is gone, whichever of the two the test killed."""
    lab_dir = Path(lab.dir)
    assert lab_controller.running_pid(lab_dir) is not None, "the lab's controller is not running"
    ci = await asyncio.to_thread(lab_controller.start, lab, index=1)
    yield ci.pid
    # SIGTERM releases the lease if it holds it, so controller 0 can serve at once
    await asyncio.to_thread(lab_controller.stop, lab_dir, index=1)
    await asyncio.to_thread(lab_controller.start, lab)


async def test_standby_takes_over_a_killed_leader_and_finishes_its_failover(
    lab: LabInfo, ctl: Ctl, group: Group, standby: int
) -> None:
    g, sa, sb = group, lab.site("site-a"), lab.site("site-b")
    lab_dir = Path(lab.dir)
    first = lab_controller.running_pid(lab_dir)
    assert first is not None and {first, standby} <= set(lab_controller.find_pids(lab_dir))

    old = await async_wait_for(lambda: lease_holder(ctl), timeout=30, what="a lease holder")
    assert pid_of(old.holder) in (first, standby)
    # only the leader serves: every answer names it, whichever process the request could reach
    for _ in range(8):
        sites: SiteList = await ctl.req("site.list")
        assert sites.leader == old.holder

    events: list[LeaderEvent] = []

    async def on_leader(msg: Any) -> None:
        events.append(msgspec.json.decode(msg.data, type=LeaderEvent))

    sub = await ctl.nc.subscribe("cephdr.ctl.evt.leader", cb=on_leader)
    try:
        for i, img in enumerate(g.images):
            write(sa, g.pool, img, (4 + i) * MIB)
        before = checksums(sa, g)
        accepted: Accepted = await ctl.req("failover", request_id=rid(), group=g.name, to="site-b")

        async def demoting() -> OpRecord | None:
            op: OpRecord = await ctl.req("op.get", op_id=accepted.op_id)
            started = [s for s in op.steps if s.action == "rbd.demote" and s.state in ("running", "done")]
            return op if started or op.state != "running" else None

        seen = await async_wait_for(demoting, timeout=400, interval=0.2, what="the demote to start")
        assert seen.state == "running", describe(seen)
        os.kill(pid_of(old.holder), signal.SIGKILL)
        done_at_kill = {s.name for s in seen.steps if s.state == "done"}

        took = await async_wait_for(
            lambda: [e for e in events if e.change == "acquired" and e.holder != old.holder],
            timeout=120,
            what="another controller to take the lease",
        )
        new = took[0].holder
        survivor = standby if pid_of(old.holder) == first else first
        assert pid_of(new) == survivor

        op = await ctl.wait_op(accepted.op_id)
        assert op.state == "succeeded", describe(op)
        for s in op.steps:
            if s.name in done_at_kill:
                assert s.attempts == 1, f"{s.name} ran again after the takeover:\n{describe(op)}"
        assert checksums(sb, g) == before, "RPO 0 across the takeover"
        sites = await ctl.req("site.list")
        assert sites.leader == new
        holder = await lease_holder(ctl)
        assert holder is not None and holder.holder == new
    finally:
        await sub.unsubscribe()
    await async_wait_for(lambda: group_healthy(ctl, g.name, "site-b"), timeout=300, interval=3,
                         what="b primary")
