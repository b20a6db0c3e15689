"""Drill: the controller killed -9 at each step of a planned and of an unplanned failover (one trial
per step), then started again: the restarted controller takes the lease once the server expires it,
resumes the operation from its record in KV and completes it.

Checked each time: the operation succeeds; no step already done when the controller died runs
again (`attempts`); the fencing epoch moved by exactly one (the epoch step was applied once); the
`rbd` CLI shows the target as the only primary; a planned failover lost no acknowledged write
(checksums on the target equal the source's before the failover). Trials: one per step, or the
steps listed in CEPHDR_FAULT_KILL_STEPS (e.g. "0,3,5"). test_ctl_ha covers the standby taking over.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
from faultkit import (
    Group,
    apply,
    cleanup,
    delete,
    lease_holder,
    make_group,
    now,
    pid_of,
    primaries,
    wait_healthy,
)
from helpers import data, oracle
from helpers.ctl import Ctl, describe, rid
from helpers.wait import async_wait_for
from records import Book, Drill, Trial

from controller.ops import plans
from lab import controller as lab_controller
from lab import procs
from lab.model import LabInfo
from schemas.common import Accepted
from schemas.ctl import OpRecord
from schemas.group import GroupRecord

pytestmark = [pytest.mark.system, pytest.mark.faults]

MIB = 1024 * 1024


async def steps_of(ctl: Ctl, g: Group, kind: str) -> int:
    """How many steps the controller will plan (the same pure planner, on the group's record)."""
    rec: GroupRecord = await ctl.req("group.get", group=g.name)
    dst = "site-b" if rec.primary == "site-a" else "site-a"
    if kind == "planned":
        return len(plans.planned_failover(rec, dst, op_id="x"))
    return len(plans.unplanned_failover(rec, dst))


def chosen(n: int) -> list[int]:
    raw = os.environ.get("CEPHDR_FAULT_KILL_STEPS", "")
    picked = [int(x) for x in raw.split(",") if x.strip()] if raw else list(range(n))
    return [i for i in picked if i < n]


@pytest.fixture(scope="module")
async def group(lab: LabInfo, ctl: Ctl) -> AsyncIterator[Group]:
    g = make_group(lab, "ck", n_images=2)
    await apply(ctl, g)
    await wait_healthy(ctl, g, "site-a")
    yield g
    cleanup(lab, g)
    await delete(ctl, g)


async def restart_controller(lab: LabInfo, ctl: Ctl, killed: str) -> float:
    """Start the lab's controller again; seconds from now until a new leader answers."""
    t0 = now()
    await asyncio.to_thread(lab_controller.start, lab)

    async def new_leader() -> bool:
        holder = await lease_holder(ctl.nc)
        return holder is not None and holder.holder != killed

    await async_wait_for(new_leader, timeout=120, interval=0.2, what="a new leader")
    return now() - t0


async def kill_at(lab: LabInfo, ctl: Ctl, op_id: str, index: int) -> tuple[OpRecord, float]:
    """Wait for step `index` to start (or be done), kill -9 the leader, start a controller again.
    Returns the op record as it stood at the kill and the seconds from kill to a new leader."""
    holder = await async_wait_for(lambda: lease_holder(ctl.nc), timeout=30, what="a leader")

    async def reached() -> OpRecord | None:
        op: OpRecord = await ctl.req("op.get", op_id=op_id)
        if op.state != "running" or op.steps[index].state != "pending":
            return op
        return None

    seen = await async_wait_for(reached, timeout=600, interval=0.1, what=f"step {index} to start")
    killed_at, pid = now(), pid_of(holder.holder)
    os.kill(pid, signal.SIGKILL)
    # gone before the restart: a dying process still looks like the running controller to `start`
    await async_wait_for(lambda: not procs.alive(pid), timeout=30, interval=0.05, what="the leader gone")
    await restart_controller(lab, ctl, holder.holder)
    return seen, now() - killed_at


async def check(lab: LabInfo, ctl: Ctl, g: Group, op_id: str, seen: OpRecord, before: GroupRecord,
                target: str, sums: dict[str, str] | None) -> tuple[bool, int, str]:
    """(passed, steps applied twice, note)."""
    op = await ctl.wait_op(op_id)
    done_at_kill = {s.name for s in seen.steps if s.state == "done"}
    twice = [s.name for s in op.steps if s.name in done_at_kill and s.attempts != 1]
    rec: GroupRecord = await ctl.req("group.get", group=g.name)
    prim = primaries(lab, g)
    problems = []
    if op.state != "succeeded":
        problems.append(describe(op))
    if twice:
        problems.append(f"ran again: {twice}")
    if rec.primary != target or rec.epoch != before.epoch + 1:
        problems.append(f"group {rec.primary} epoch {rec.epoch} (was {before.epoch})")
    if any(v != [target] for v in prim.values()):
        problems.append(f"primaries {prim}")
    if sums is not None:
        after = {img: oracle.image_sha256(lab.site(target), f"{g.pool}/{img}") for img in g.images}
        if after != sums:
            problems.append("data differs on the target")
    running = [s.name for s in seen.steps if s.state == "running"]
    note = f"killed with {len(done_at_kill)} steps done, running {running or '-'}"
    return not problems, len(twice), note + ("; " + "; ".join(problems) if problems else "")


async def planned_trial(lab: LabInfo, ctl: Ctl, g: Group, index: int, drill: Drill) -> None:
    rec: GroupRecord = await ctl.req("group.get", group=g.name)
    src, dst = rec.primary, ("site-b" if rec.primary == "site-a" else "site-a")
    await wait_healthy(ctl, g, src)
    for i, img in enumerate(g.images):
        data.write_at_site(lab.site(src).conf, lab.site(src).keyring, g.pool, img, (1 + i) * MIB)
    sums = {img: oracle.image_sha256(lab.site(src), f"{g.pool}/{img}") for img in g.images}
    accepted: Accepted = await ctl.req("failover", request_id=rid(), group=g.name, to=dst)
    seen, recover = await kill_at(lab, ctl, accepted.op_id, index)
    ok, twice, note = await check(lab, ctl, g, accepted.op_id, seen, rec, dst, sums)
    drill.trials.append(Trial(passed=ok, duplicated=twice, recover_s=recover, note=f"step {index}: {note}"))


async def unplanned_trial(lab: LabInfo, ctl: Ctl, g: Group, index: int, drill: Drill) -> None:
    rec: GroupRecord = await ctl.req("group.get", group=g.name)
    src, dst = rec.primary, ("site-b" if rec.primary == "site-a" else "site-a")
    await wait_healthy(ctl, g, src)
    accepted: Accepted = await ctl.req("failover", request_id=rid(), group=g.name, to=dst, force=True,
                                       confirm=g.name)
    seen, recover = await kill_at(lab, ctl, accepted.op_id, index)
    ok, twice, note = await check(lab, ctl, g, accepted.op_id, seen, rec, dst, None)
    drill.trials.append(Trial(passed=ok, duplicated=twice, recover_s=recover, note=f"step {index}: {note}"))
    # back to a healthy pair: the failback the forced failover left owed
    back: Accepted = await ctl.req("failback", request_id=rid(), group=g.name)
    op = await ctl.wait_op(back.op_id)
    assert op.state == "succeeded", describe(op)


async def test_controller_killed_at_each_step_of_a_planned_failover(
    lab: LabInfo, ctl: Ctl, group: Group, book: Book
) -> None:
    drill = book.drill("ctl-kill-planned", "controller kill -9 at each step of a planned failover; "
                                           "restarted controller completes it")
    for index in chosen(await steps_of(ctl, group, "planned")):
        await planned_trial(lab, ctl, group, index, drill)
    failed = [t for t in drill.trials if not t.passed]
    assert not failed, failed


async def test_controller_killed_at_each_step_of_an_unplanned_failover(
    lab: LabInfo, ctl: Ctl, group: Group, book: Book
) -> None:
    drill = book.drill("ctl-kill-unplanned", "controller kill -9 at each step of a forced failover; "
                                             "restarted controller completes it")
    for index in chosen(await steps_of(ctl, group, "unplanned")):
        await unplanned_trial(lab, ctl, group, index, drill)
    failed = [t for t in drill.trials if not t.passed]
    assert not failed, failed
