"""A protection group's life, through controller requests only (issue 4's proof).

One group: two snapshot-mode images, one journal-mode image and one CephFS directory. The tests
run in order on the same group, each leaving site-a primary again:
  1. apply -> everything mirrored, schedules on the primary only;
  2. planned failover a -> b with data written just before (RPO 0 by checksum), then back b -> a
     with the controller killed -9 in the middle of it and restarted: the operation finishes,
     no step that had completed runs again;
  3. site-a's Ceph daemons and agent killed -> forced failover to b; site-a restored -> it fences
     itself; failback resyncs, waits for replay, fails over back: no split-brain left, b's writes
     made during the outage are on a.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from helpers import data, oracle
from helpers.ctl import Ctl, describe, rid
from helpers.wait import async_wait_for

from lab import agents as lab_agents
from lab import controller as lab_controller
from lab import runner
from lab.model import LabInfo, SiteInfo
from schemas.common import Accepted
from schemas.ctl import FleetStatus, GroupApplied, GroupEvent, OpRecord
from schemas.errors import ConfirmationRequired
from schemas.group import GroupRecord

pytestmark = pytest.mark.system

MIB = 1024 * 1024
IMAGE_SIZE = 16 * MIB


@dataclass
class Group:
    name: str
    pool: str
    snaps: list[str]
    journal: str
    fs: str
    dir: str

    @property
    def images(self) -> list[str]:
        return [*self.snaps, self.journal]


def write(site: SiteInfo, pool: str, image: str, offset: int) -> None:
    data.write_at_site(site.conf, site.keyring, pool, image, offset)


def fs_write(site: SiteInfo, path: str, files: int, tag: str) -> dict[str, str]:
    """The application on CephFS: `files` new files under `path`; name -> sha256."""
    out = {}
    with data.cephfs_mount(site.conf, site.fs_name) as fs:
        for i in range(files):
            body = os.urandom(64 * 1024)
            name = f"{tag}-{i}"
            data.cephfs_write(fs, f"{path}/{name}", body)
            out[name] = hashlib.sha256(body).hexdigest()
    return out


def fs_hashes(site: SiteInfo, path: str) -> dict[str, str]:
    with data.cephfs_mount(site.conf, site.fs_name) as fs:
        return {
            n: hashlib.sha256(data.cephfs_read(fs, f"{path}/{n}")).hexdigest()
            for n in data.cephfs_listdir(fs, path)
        }


def checksums(site: SiteInfo, g: Group) -> dict[str, str]:
    return {img: oracle.image_sha256(site, f"{g.pool}/{img}") for img in g.images}


def rbd_schedules(site: SiteInfo, pool: str) -> set[str]:
    out = oracle.rbd(site, "mirror", "snapshot", "schedule", "ls", "--pool", pool, "--recursive", json=True)
    return {e["image"] for e in out if e.get("image")}


def fs_scheduled(site: SiteInfo, path: str) -> bool:
    try:
        out = oracle.ceph(site, "fs", "snap-schedule", "status", path, "--fs", site.fs_name, json=True)
    except oracle.CliError:
        return False
    return bool(out)


async def run_op(ctl: Ctl, accepted: Accepted | GroupApplied) -> OpRecord:
    assert accepted.op_id
    op = await ctl.wait_op(accepted.op_id)
    assert op.state == "succeeded", describe(op)
    return op


async def group_ok(ctl: Ctl, g: Group, primary: str) -> FleetStatus | None:
    """Healthy with `primary` primary: every image replaying on the other site, the directory
    synced, no alert."""
    st: FleetStatus = await ctl.req("status", group=g.name)
    gs = st.groups[0]
    if gs.primary != primary or gs.alerts or gs.health != "ok":
        return None
    other = "site-b" if primary == "site-a" else "site-a"
    for m in gs.members:
        if m.kind == "rbd":
            if m.sites[primary].role != "primary" or m.sites[other].state != "replaying":
                return None
        elif m.sites.get(primary) is None or m.sites[primary].state != "idle":
            return None
    return st


@pytest.fixture(scope="module")
async def group(lab: LabInfo, ctl: Ctl) -> AsyncIterator[Group]:
    sa, sb = lab.site("site-a"), lab.site("site-b")
    g = Group(
        name=oracle.unique_name("dr").lower()[:30],
        pool=oracle.unique_name("drp"),
        snaps=[oracle.unique_name("s1"), oracle.unique_name("s2")],
        journal=oracle.unique_name("j1"),
        fs=sa.fs_name,
        dir=f"/{oracle.unique_name('drdir')}",
    )
    for s in (sa, sb):
        oracle.ceph(s, "osd", "pool", "create", g.pool, "8", "8")
        oracle.rbd(s, "pool", "init", g.pool)
    for img in g.snaps:
        oracle.rbd(sa, "create", "--size", str(IMAGE_SIZE // MIB) + "M", f"{g.pool}/{img}")
    oracle.rbd(
        sa, "create", "--size", "16M", "--image-feature", "layering,exclusive-lock", f"{g.pool}/{g.journal}"
    )
    for i, img in enumerate(g.images):
        write(sa, g.pool, img, i * MIB)
    with data.cephfs_mount(sa.conf, sa.fs_name) as fs:
        fs.mkdir(g.dir.encode(), 0o755)
    fs_write(sa, g.dir, 3, "init")
    yield g
    # whatever a test here killed (site-a's daemons, its agent, the controller) runs again before
    # the next module: the lab is shared by the session
    await asyncio.to_thread(runner.up, Path(lab.dir), peered=True)
    # the group's schedules would keep snapshotting for the rest of the session
    for s in (sa, sb):
        for img in g.images:
            with contextlib.suppress(oracle.CliError):
                oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", g.pool, "--image", img)
        with contextlib.suppress(oracle.CliError):
            oracle.ceph(s, "fs", "snap-schedule", "remove", g.dir, "--fs", s.fs_name)
    await ctl.req("group.delete", request_id=rid(), group=g.name, confirm=g.name)


def spec_of(g: Group) -> dict[str, Any]:
    return {
        "name": g.name,
        "sites": ["site-a", "site-b"],
        "primary": "site-a",
        "schedule": {"interval": "1m", "fs_retention": "10n"},
        "rbd": [
            {"pool": g.pool, "images": g.snaps, "mode": "snapshot"},
            {"pool": g.pool, "images": [g.journal], "mode": "journal"},
        ],
        "fs": [{"fs": g.fs, "dirs": [g.dir]}],
    }


async def test_apply_mirrors_every_member_with_schedules_on_the_primary(
    lab: LabInfo, ctl: Ctl, group: Group
) -> None:
    g, sa, sb = group, lab.site("site-a"), lab.site("site-b")
    applied: GroupApplied = await ctl.req("group.apply", request_id=rid(), spec=spec_of(g))
    assert applied.changed and applied.group.primary == "site-a"
    await run_op(ctl, applied)
    await async_wait_for(lambda: group_ok(ctl, g, "site-a"), timeout=300, interval=3, what="group healthy")
    assert checksums(sa, g) == checksums(sb, g)
    assert rbd_schedules(sa, g.pool) == set(g.snaps)
    assert rbd_schedules(sb, g.pool) == set()
    assert fs_scheduled(sa, g.dir) and not fs_scheduled(sb, g.dir)
    # applying the same spec again changes nothing and repairs nothing
    again: GroupApplied = await ctl.req("group.apply", request_id=rid(), spec=spec_of(g))
    assert not again.changed
    op = await run_op(ctl, again)
    assert not [s.name for s in op.steps if s.result.get("changed") and s.action != "check.sites"], describe(
        op
    )
    # drift: someone removes a schedule on the primary by hand; a reconcile repairs it and says so
    events: list[GroupEvent] = []

    async def on_group_event(msg: Any) -> None:
        events.append(msgspec.json.decode(msg.data, type=GroupEvent))

    sub = await ctl.nc.subscribe("cephdr.ctl.evt.group", cb=on_group_event)
    try:
        oracle.rbd(sa, "mirror", "snapshot", "schedule", "rm", "--pool", g.pool, "--image", g.snaps[0])
        assert rbd_schedules(sa, g.pool) == {g.snaps[1]}
        op = await run_op(ctl, await ctl.req("group.reconcile", request_id=rid(), group=g.name))
        repaired = [s.name for s in op.steps if s.result.get("changed")]
        assert repaired == ["rbd schedules on site-a"], describe(op)
        assert rbd_schedules(sa, g.pool) == set(g.snaps)
        drift = await async_wait_for(
            lambda: [e for e in events if e.group == g.name and e.change == "drift"],
            timeout=10,
            what="drift event",
        )
        assert drift[0].details == repaired
    finally:
        await sub.unsubscribe()


async def test_planned_failover_and_back_is_rpo_zero_even_with_a_controller_crash(
    lab: LabInfo, ctl: Ctl, group: Group
) -> None:
    g, sa, sb = group, lab.site("site-a"), lab.site("site-b")
    await async_wait_for(lambda: group_ok(ctl, g, "site-a"), timeout=300, interval=3, what="group healthy")
    # the application writes until the very moment of the failover
    for i, img in enumerate(g.images):
        write(sa, g.pool, img, (4 + i) * MIB)
    files = fs_write(sa, g.dir, 3, "pre-failover")
    before = checksums(sa, g)
    op = await run_op(ctl, await ctl.req("failover", request_id=rid(), group=g.name))
    assert op.kind == "planned_failover" and op.target == "site-b"
    assert checksums(sb, g) == before, "RPO 0: every byte written on site-a before the failover is on site-b"
    assert files.items() <= fs_hashes(sb, g.dir).items()
    rec: GroupRecord = await ctl.req("group.get", group=g.name)
    assert rec.primary == "site-b" and rec.epoch == op.epoch and rec.active_op is None
    assert rbd_schedules(sb, g.pool) and not rbd_schedules(sa, g.pool), "schedules moved with the primary"
    assert fs_scheduled(sb, g.dir) and not fs_scheduled(sa, g.dir)

    # back to site-a; the controller dies (kill -9) once the demote has begun and comes back
    await async_wait_for(
        lambda: group_ok(ctl, g, "site-b"), timeout=300, interval=3, what="b primary, a replaying"
    )
    for i, img in enumerate(g.images):
        write(sb, g.pool, img, (8 + i) * MIB)
    files = fs_write(sb, g.dir, 2, "on-b")
    before = checksums(sb, g)
    accepted: Accepted = await ctl.req("failover", request_id=rid(), group=g.name, to="site-a")

    async def demoting() -> OpRecord | None:
        op: OpRecord = await ctl.req("op.get", op_id=accepted.op_id)
        started = [s for s in op.steps if s.action == "rbd.demote" and s.state in ("running", "done")]
        return op if started or op.state != "running" else None

    seen = await async_wait_for(demoting, timeout=400, interval=0.2, what="the demote to start")
    assert seen.state == "running", describe(seen)
    pid = lab_controller.running_pid(Path(lab.dir))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    done_at_kill = {s.name for s in seen.steps if s.state == "done"}
    await asyncio.to_thread(lab_controller.start, lab)
    op = await ctl.wait_op(accepted.op_id)
    assert op.state == "succeeded", describe(op)
    for s in op.steps:
        if s.name in done_at_kill:
            assert s.attempts == 1, f"{s.name} ran again after the restart:\n{describe(op)}"
    assert checksums(sa, g) == before
    assert files.items() <= fs_hashes(sa, g.dir).items()
    await async_wait_for(lambda: group_ok(ctl, g, "site-a"), timeout=300, interval=3, what="a primary again")


async def test_unplanned_failover_then_failback_leaves_no_split_brain(
    lab: LabInfo, ctl: Ctl, group: Group
) -> None:
    g, sa, sb = group, lab.site("site-a"), lab.site("site-b")
    lab_dir = Path(lab.dir)
    await async_wait_for(lambda: group_ok(ctl, g, "site-a"), timeout=300, interval=3, what="group healthy")
    # a power cut at site-a: every Ceph daemon and the agent, kill -9
    site = next(s for s in runner.existing_sites(lab_dir, lab) if s.name == "site-a")
    agent_pid = lab_agents.running_pid(lab_dir, "site-a")
    assert agent_pid is not None
    for pid in [*site.all_pids(), agent_pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:

        async def a_down() -> bool:
            sites = await ctl.req("site.list")
            return not next(s for s in sites.sites if s.site == "site-a").alive

        await async_wait_for(a_down, timeout=60, interval=1, what="the controller to see site-a down")
        with pytest.raises(ConfirmationRequired, match=g.name):
            await ctl.req("failover", request_id=rid(), group=g.name, force=True)
        op = await run_op(
            ctl, await ctl.req("failover", request_id=rid(), group=g.name, force=True, confirm=g.name)
        )
        assert op.kind == "unplanned_failover"
        rec: GroupRecord = await ctl.req("group.get", group=g.name)
        assert rec.primary == "site-b" and rec.owed is not None and rec.owed.site == "site-a"
        for img in g.images:  # (its mirror status may stay "orphan (force promoting)" while a is dead)
            info = oracle.rbd(sb, "info", f"{g.pool}/{img}", json=True)
            assert info["mirroring"]["primary"] is True, info
        # the application moves to site-b and writes there during the outage
        for i, img in enumerate(g.images):
            write(sb, g.pool, img, (12 + i) * MIB)
    finally:
        # power is back: lab up restarts site-a's daemons and its agent, which fences first
        await asyncio.to_thread(runner.up, lab_dir, peered=True)
    op = await run_op(ctl, await ctl.req("failback", request_id=rid(), group=g.name))
    assert op.kind == "failback"
    rec = await ctl.req("group.get", group=g.name)
    assert rec.primary == "site-a" and rec.owed is None
    assert checksums(sa, g) == checksums(sb, g), "site-b's writes during the outage came back to site-a"
    st = await async_wait_for(lambda: group_ok(ctl, g, "site-a"), timeout=300, interval=3, what="healthy")
    assert not [a for a in st.groups[0].alerts if a.kind in ("split_brain", "two_primaries")]
