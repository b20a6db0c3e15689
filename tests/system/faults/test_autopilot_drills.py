"""Drills of the autopilot (the controller's own failover policy) and of a returning old primary.

One group with `[auto]` enabled (`down_after = 20s`, `failback = true`), primary on site-a.
- partition: the controller loses site-a's agent (SIGSTOP) while site-a's cluster runs and site-b's
  agent still reaches it: a `partition` decision, never a failover, in every trial.
- site death: site-a's Ceph daemons and agent are killed -9 (a power cut): the policy fails the
  group over to site-b on its own, every time (a forced, unplanned failover).
- the old primary returns (site-a brought back): its agent fences itself before it lets any
  command through (its command gate answers "self-fencing has not completed" until then; at the
  first command it accepts, the `rbd` CLI must show site-a's images demoted), no image is primary
  on both sites, and the policy fails the group back to site-a.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from faultkit import Group, apply, cleanup, delete, lab_up_again, make_group, now, primaries, wait_healthy
from helpers.ctl import Ctl, describe, rid
from helpers.lab_bus import lab_nats
from helpers.wait import async_wait_for
from nats.aio.client import Client as NATS
from records import Book, Trial, trials

from bus.client import request
from lab import agents as lab_agents
from lab import runner
from lab.model import LabInfo
from schemas.common import Done
from schemas.ctl import OpRecord
from schemas.errors import CephDRError, NotFound, Unavailable
from schemas.policy import DecisionEvent

pytestmark = pytest.mark.system

AUTO = {"enabled": True, "down_after": "20s", "cooldown": "10s", "max_per_day": 24, "failback": True}


@dataclass
class Decisions:
    seen: list[DecisionEvent] = field(default_factory=list)

    async def on(self, msg: Any) -> None:
        self.seen.append(msgspec.json.decode(msg.data, type=DecisionEvent))

    async def wait(self, group: str, code: str, *, after: int, timeout: float = 180) -> DecisionEvent:
        async def probe() -> DecisionEvent | None:
            return next((e for e in self.seen[after:] if e.group == group and e.decision.code == code), None)

        what = f"a {code} decision for {group}"
        return await async_wait_for(probe, timeout=timeout, interval=0.5, what=what)


@pytest.fixture(scope="module")
async def auto_group(lab: LabInfo, ctl: Ctl) -> AsyncIterator[Group]:
    g = make_group(lab, "au", n_images=1)
    await apply(ctl, g, auto=AUTO)
    await wait_healthy(ctl, g, "site-a")
    yield g
    await asyncio.to_thread(lab_up_again, Path(lab.dir))
    cleanup(lab, g)
    await delete(ctl, g)


@pytest.fixture
async def decisions(ctl: Ctl) -> AsyncIterator[Decisions]:
    d = Decisions()
    sub = await ctl.nc.subscribe("cephdr.ctl.evt.decision", cb=d.on)
    yield d
    await sub.unsubscribe()


async def moves(ctl: Ctl, g: Group) -> int:
    """Operations that moved (or tried to move) the group: everything but reconciles."""
    ops = await ctl.req("op.list", group=g.name, limit=100)
    return len([o for o in ops.ops if o.kind != "reconcile"])


async def test_partition_of_one_agent_never_fails_over(
    lab: LabInfo, ctl: Ctl, auto_group: Group, decisions: Decisions, book: Book
) -> None:
    drill = book.drill("partition", "controller loses site-a's agent (SIGSTOP), sites still see each other: "
                                    "no automatic failover")
    g, lab_dir = auto_group, Path(lab.dir)
    for _ in range(trials("partition")):
        await wait_healthy(ctl, g, "site-a")
        ops_before = await moves(ctl, g)
        mark = len(decisions.seen)
        pid = lab_agents.running_pid(lab_dir, "site-a")
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            e = await decisions.wait(g.name, "partition", after=mark, timeout=120)
        finally:
            os.kill(pid, signal.SIGCONT)
        back, heard = now(), len(decisions.seen)
        await decisions.wait(g.name, "ok", after=heard, timeout=120)
        recover = now() - back
        rec = await ctl.req("group.get", group=g.name)
        moved = await moves(ctl, g) - ops_before
        ok = not e.acted and rec.primary == "site-a" and moved == 0
        note = f"decision {e.decision.code} acted={e.acted}; {moved} failovers started"
        drill.trials.append(Trial(passed=ok, recover_s=recover, note=note))
    failed = [t for t in drill.trials if not t.passed]
    assert not failed, failed


async def gate_open(nc: NATS) -> bool:
    """Does site-a's agent let a command through? (a demote of an image that does not exist: it
    changes nothing; NotFound means it passed the fencing gate)."""
    try:
        await request(nc, "cephdr.agent.site-a.rbd.image.demote",
                      {"request_id": rid(), "pool": "no-such-pool", "image": "no-such-image"},
                      reply=Done, timeout=10)
    except NotFound:
        return True
    except Unavailable:
        return False
    return True


async def site_death_trial(lab: LabInfo, ctl: Ctl, g: Group, decisions: Decisions, book: Book) -> None:
    death = book.drill("site-death", "site-a killed -9 (Ceph + agent): automatic failover to site-b")
    ret = book.drill("old-primary-returns", "site-a back after the forced failover: fences itself before "
                                            "serving commands, no split-brain, fails back")
    lab_dir = Path(lab.dir)
    await wait_healthy(ctl, g, "site-a")
    mark = len(decisions.seen)
    site = next(s for s in runner.existing_sites(lab_dir, lab) if s.name == "site-a")
    agent_pid = lab_agents.running_pid(lab_dir, "site-a")
    killed = now()
    for pid in [*site.all_pids(), *([agent_pid] if agent_pid else [])]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    try:
        acted = await decisions.wait(g.name, "fail_over", after=mark, timeout=240)
        op: OpRecord = await ctl.wait_op(acted.op_id or "")
        ok = acted.acted and op.state == "succeeded" and op.kind == "unplanned_failover"
        death.trials.append(Trial(passed=ok, recover_s=now() - killed,
                                  note=f"{op.kind} {op.state}; {len(op.steps)} steps"))
        assert ok, describe(op)
    finally:
        # power back: Ceph, then the agent; meanwhile ask the agent for a command until it accepts
        nc = await lab_nats(lab, "controller")
        try:
            back = now()
            up = asyncio.create_task(asyncio.to_thread(lab_up_again, lab_dir))

            async def accepted() -> bool:
                if up.done() and up.exception() is not None:
                    raise up.exception()  # type: ignore[misc]
                return await gate_open(nc)

            opened = await async_wait_for(accepted, timeout=600, interval=0.3, ignore=(CephDRError,),
                                          what="site-a's agent to accept a command")
            at_open = await asyncio.to_thread(primaries, lab, g)
            recover = now() - back
            await up
        finally:
            await nc.close()
    fenced_first = opened and all(v == ["site-b"] for v in at_open.values())
    fb = await decisions.wait(g.name, "fail_back", after=mark, timeout=600)
    op = await ctl.wait_op(fb.op_id or "")
    after = await asyncio.to_thread(primaries, lab, g)
    ok = fenced_first and op.state == "succeeded" and all(v == ["site-a"] for v in after.values())
    note = f"primaries at the first accepted command {at_open}; after failback {after}; failback {op.state}"
    ret.trials.append(Trial(passed=ok, recover_s=recover, note=note))
    assert ok, describe(op)


@pytest.mark.faults
async def test_site_death_fails_over_and_the_old_primary_fences_itself(
    lab: LabInfo, ctl: Ctl, auto_group: Group, decisions: Decisions, book: Book
) -> None:
    for _ in range(trials("site-death")):
        await site_death_trial(lab, ctl, auto_group, decisions, book)
