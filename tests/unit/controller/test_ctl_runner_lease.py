"""The runner stops writing operation records the moment its controller is no longer the leader
(controller/runner.py `is_leader`). The store is an in-memory dict standing in for KV (records
round-trip through msgspec JSON as in KV); the one action is a test action gated by an event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from ctl_unit_build import NOW, rbd_spec, record

from controller.actions import ACTIONS, Env, Step
from controller.actions.base import Outcome
from controller.ops import machine
from controller.runner import Runner
from schemas.ctl import OpRecord, StepRecord
from schemas.errors import Conflict, Unavailable
from schemas.group import GroupRecord


class MemStore:
    """What the runner uses of controller.store.Store, on dicts; every write is counted."""

    def __init__(self) -> None:
        self.ops_: dict[str, bytes] = {}
        self.groups_: dict[str, tuple[bytes, int]] = {}
        self.op_writes: list[OpRecord] = []

    async def put_op(self, op: OpRecord) -> None:
        self.op_writes.append(op)
        self.ops_[op.op_id] = msgspec.json.encode(op)

    async def op(self, op_id: str) -> OpRecord | None:
        raw = self.ops_.get(op_id)
        return None if raw is None else msgspec.json.decode(raw, type=OpRecord)

    async def ops(self) -> list[OpRecord]:
        return [msgspec.json.decode(v, type=OpRecord) for v in self.ops_.values()]

    async def group(self, name: str) -> tuple[GroupRecord, int] | None:
        got = self.groups_.get(name)
        return None if got is None else (msgspec.json.decode(got[0], type=GroupRecord), got[1])

    async def put_group(self, rec: GroupRecord, revision: int | None) -> int:
        old = self.groups_.get(rec.spec.name)
        if (old[1] if old else None) != revision:
            raise Conflict("changed")
        rev = (revision or 0) + 1
        self.groups_[rec.spec.name] = (msgspec.json.encode(rec), rev)
        return rev


class Gate:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    g = Gate()

    async def gated(env: Env, step: Step) -> Outcome:
        g.calls += 1
        g.entered.set()
        await g.release.wait()
        return Outcome(message="done")

    ACTIONS["test.gated"] = gated
    yield g
    del ACTIONS["test.gated"]


class Leader:
    def __init__(self) -> None:
        self.leading = True

    def __call__(self) -> bool:
        return self.leading


def make(leader: Leader) -> tuple[Runner, MemStore, list[Any]]:
    store = MemStore()
    events: list[Any] = []
    env = Env(agents=None, store=store, sites=None)  # type: ignore[arg-type]
    runner = Runner(env, lambda kind, e: events.append(e), is_leader=leader)
    g = record(rbd_spec())
    store.groups_[g.name] = (msgspec.json.encode(g), 1)
    return runner, store, events


def two_steps() -> OpRecord:
    steps = [StepRecord(name=f"gated {i}", action="test.gated", state="pending") for i in (1, 2)]
    return machine.new_op("op-1", "reconcile", "web", steps, now=NOW)  # type: ignore[arg-type]


async def test_a_runner_that_lost_the_lease_never_writes_the_operation_again(gate: Gate) -> None:
    leader = Leader()
    runner, store, _ = make(leader)
    await runner.start(two_steps())
    await asyncio.wait_for(gate.entered.wait(), 5)
    written = len(store.op_writes)
    assert store.op_writes[-1].steps[0].state == "running"

    leader.leading = False  # the lease ends while step 1 is in flight
    gate.release.set()
    await asyncio.wait_for(runner.tasks["op-1"], 5)

    assert len(store.op_writes) == written, "an op record was written after the lease was lost"
    kv = await store.op("op-1")
    assert kv is not None and kv.state == "running" and kv.steps[0].state == "running"
    assert gate.calls == 1, "step 2 ran without the lease"
    got = await store.group("web")
    assert got is not None and got[0].active_op == "op-1", "the group stays held for the next leader"


async def test_the_next_leader_resumes_what_the_lost_one_left(gate: Gate) -> None:
    old_leader = Leader()
    old, store, _ = make(old_leader)
    await old.start(two_steps())
    await asyncio.wait_for(gate.entered.wait(), 5)
    old_leader.leading = False
    await old.stop()
    assert old.current == {}, "a runner that stopped forgets what it saw"

    new = Runner(Env(agents=None, store=store, sites=None), lambda k, e: None)  # type: ignore[arg-type]
    gate.release.set()
    assert await new.resume_all() == ["op-1"]
    await asyncio.wait_for(new.tasks["op-1"], 5)
    done = await store.op("op-1")
    assert done is not None and done.state == "succeeded"
    assert [s.attempts for s in done.steps] == [2, 1]  # step 1 was in flight: it runs again


async def test_starting_or_cancelling_without_the_lease_is_refused_and_writes_nothing(gate: Gate) -> None:
    leader = Leader()
    runner, store, _ = make(leader)
    await runner.start(two_steps())
    await asyncio.wait_for(gate.entered.wait(), 5)
    leader.leading = False
    written = len(store.op_writes)
    with pytest.raises(Unavailable, match="not the leader"):
        await runner.cancel("op-1")
    other = machine.new_op(
        "op-2", "reconcile", "web", [StepRecord(name="x", action="test.gated", state="pending")], now=NOW
    )  # type: ignore[arg-type]
    with pytest.raises(Unavailable, match="not the leader"):
        await runner.start(other)
    assert len(store.op_writes) == written
    await runner.stop()
