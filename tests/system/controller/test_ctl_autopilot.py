"""Automatic failover on the lab (issue 5's proof): the controller's own policy, no request.

Two groups with `[auto]` enabled and `down_after = 20s`: `solo` acts, `dry` only decides.
  1. the controller loses site-a's agent (SIGSTOP) while site-a's cluster runs and site-b's agent
     still reaches it: a `partition` decision for both, no failover;
  2. fleet-wide pause, then site-a's Ceph daemons and agent are killed -9: `paused` decisions;
  3. resume: `solo` fails over to site-b on its own (unplanned, fenced), `dry` publishes a
     dry-run decision and stays on site-a;
  4. site-a is restored: its agent fences `solo`, and the policy (`failback = true`) brings the
     group back to site-a on its own.
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
from helpers import oracle
from helpers.ctl import Ctl, describe, rid
from helpers.wait import async_wait_for

from lab import agents as lab_agents
from lab import runner
from lab.model import LabInfo
from schemas.ctl import OpRecord
from schemas.group import GroupRecord
from schemas.policy import AutoState, DecisionEvent

pytestmark = pytest.mark.system


@dataclass
class Decisions:
    """Every decision event the controller publishes, in order."""

    seen: list[DecisionEvent] = field(default_factory=list)

    async def on(self, msg: Any) -> None:
        self.seen.append(msgspec.json.decode(msg.data, type=DecisionEvent))

    def of(self, group: str) -> list[DecisionEvent]:
        return [e for e in self.seen if e.group == group]

    def wait(self, group: str, code: str, *, after: int = 0, timeout: float = 120) -> Any:
        async def probe() -> DecisionEvent | None:
            return next((e for e in self.seen[after:] if e.group == group and e.decision.code == code), None)

        return async_wait_for(probe, timeout=timeout, interval=1, what=f"a {code} decision for {group}")


def spec(name: str, pool: str, image: str, **auto: Any) -> dict[str, Any]:
    return {
        "name": name,
        "sites": ["site-a", "site-b"],
        "primary": "site-a",
        "schedule": {"interval": "1m"},
        "rbd": [{"pool": pool, "images": [image], "mode": "snapshot"}],
        "auto": {"enabled": True, "down_after": "20s", "cooldown": "1h", **auto},
    }


@pytest.fixture(scope="module")
async def groups(lab: LabInfo, ctl: Ctl) -> AsyncIterator[dict[str, tuple[str, str]]]:
    """name -> (pool, image) for `solo` and `dry`, applied and replaying."""
    sa, sb = lab.site("site-a"), lab.site("site-b")
    out: dict[str, tuple[str, str]] = {}
    for kind in ("solo", "dry"):
        name, pool, image = (
            oracle.unique_name(kind).lower()[:30],
            oracle.unique_name("ap"),
            oracle.unique_name("img"),
        )
        for s in (sa, sb):
            oracle.ceph(s, "osd", "pool", "create", pool, "8", "8")
            oracle.rbd(s, "pool", "init", pool)
        oracle.rbd(sa, "create", "--size", "8M", f"{pool}/{image}")
        auto = {"failback": True} if kind == "solo" else {"dry_run": True}
        applied = await ctl.req("group.apply", request_id=rid(), spec=spec(name, pool, image, **auto))
        op: OpRecord = await ctl.wait_op(applied.op_id)
        assert op.state == "succeeded", describe(op)
        out[kind] = (name, pool)
    yield {k: (v[0], v[1]) for k, v in out.items()}
    await asyncio.to_thread(runner.up, Path(lab.dir), peered=True)
    with contextlib.suppress(Exception):
        await ctl.req("auto.resume", request_id=rid())
    for name, pool in out.values():
        for s in (sa, sb):
            with contextlib.suppress(oracle.CliError):
                oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", pool)
        with contextlib.suppress(Exception):
            await ctl.req("group.delete", request_id=rid(), group=name, confirm=name)


async def primary_is(ctl: Ctl, group: str, site: str) -> GroupRecord | None:
    rec: GroupRecord = await ctl.req("group.get", group=group)
    return rec if rec.primary == site and rec.active_op is None else None


async def stayed(ctl: Ctl, group: str) -> bool:
    """Still primary on site-a, and no failover ever started for it (a reconcile may be running)."""
    rec: GroupRecord = await ctl.req("group.get", group=group)
    ops = await ctl.req("op.list", group=group, limit=50)
    return rec.primary == "site-a" and not [o for o in ops.ops if o.kind != "reconcile"]


async def replaying(ctl: Ctl, group: str) -> bool:
    st = await ctl.req("status", group=group)
    gs = st.groups[0]
    return gs.primary == "site-a" and all(
        m.sites.get("site-b") and m.sites["site-b"].state == "replaying" for m in gs.members
    )


async def test_auto_failover_needs_the_witness_respects_pause_and_dry_run_and_fails_back(
    lab: LabInfo, ctl: Ctl, groups: dict[str, tuple[str, str]]
) -> None:
    solo, dry = groups["solo"][0], groups["dry"][0]
    lab_dir = Path(lab.dir)
    for g in (solo, dry):
        await async_wait_for(lambda g=g: replaying(ctl, g), timeout=300, interval=3, what=f"{g} replaying")
    decisions = Decisions()
    sub = await ctl.nc.subscribe("cephdr.ctl.evt.decision", cb=decisions.on)
    try:
        # 1. only the controller loses site-a: its agent stops, its cluster keeps running
        agent_pid = lab_agents.running_pid(lab_dir, "site-a")
        assert agent_pid is not None
        mark = len(decisions.seen)
        os.kill(agent_pid, signal.SIGSTOP)
        try:
            for g in (solo, dry):
                e = await decisions.wait(g, "partition", timeout=120)
                assert not e.acted and any("partition" in r for r in e.decision.reasons), e
        finally:
            os.kill(agent_pid, signal.SIGCONT)
        for g in (solo, dry):
            assert await stayed(ctl, g), f"{g} moved on a partition"
            await decisions.wait(g, "ok", after=mark, timeout=120)  # healthy again once heard

        # 2. maintenance pause, then a power cut at site-a
        await ctl.req("auto.pause", request_id=rid(), reason="drill")
        mark = len(decisions.seen)
        site = next(s for s in runner.existing_sites(lab_dir, lab) if s.name == "site-a")
        for pid in [*site.all_pids(), agent_pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for g in (solo, dry):
            e = await decisions.wait(g, "paused", after=mark, timeout=180)
            assert not e.acted and any("drill" in r for r in e.decision.reasons), e
        state: AutoState = await ctl.req("auto.get")
        assert state.paused is not None and state.paused.reason == "drill"
        assert await stayed(ctl, solo), "a paused autopilot acted"

        # 3. resume: solo fails over on its own, dry only says it would
        mark = len(decisions.seen)
        await ctl.req("auto.resume", request_id=rid())
        acted = await decisions.wait(solo, "fail_over", after=mark, timeout=120)
        assert acted.acted and acted.op_id and acted.decision.verdict == "failover", acted
        would = await decisions.wait(dry, "fail_over", after=mark, timeout=120)
        assert would.decision.verdict == "dry_run" and not would.acted and would.op_id is None, would
        op: OpRecord = await ctl.wait_op(acted.op_id)
        assert op.state == "succeeded" and op.kind == "unplanned_failover", describe(op)
        assert op.actor == "controller:autopilot"
        rec = await async_wait_for(lambda: primary_is(ctl, solo, "site-b"), timeout=60, what="solo on site-b")
        assert rec.owed is not None and rec.owed.site == "site-a" and len(rec.auto_failovers) == 1
        assert await stayed(ctl, dry), "a dry-run group moved"
        pool = groups["solo"][1]
        image = oracle.rbd(lab.site("site-b"), "ls", pool, json=True)[0]
        info = oracle.rbd(lab.site("site-b"), "info", f"{pool}/{image}", json=True)
        assert info["mirroring"]["primary"] is True, info
    finally:
        # 4. power is back: site-a's agent fences solo; the policy fails it back on its own
        await asyncio.to_thread(runner.up, lab_dir, peered=True)
        await sub.unsubscribe()
    mark = len(decisions.seen)
    sub = await ctl.nc.subscribe("cephdr.ctl.evt.decision", cb=decisions.on)
    try:
        back = await decisions.wait(solo, "fail_back", after=mark, timeout=300)
        assert back.acted and back.op_id, back
        op = await ctl.wait_op(back.op_id)
        assert op.state == "succeeded" and op.kind == "failback", describe(op)
    finally:
        await sub.unsubscribe()
    rec = await ctl.req("group.get", group=solo)
    assert rec.primary == "site-a" and rec.owed is None
