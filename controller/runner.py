"""Runs operations: one task per operation, the record persisted after every transition.

The runner is the only writer of an operation's record while it runs, and an operation holds its
group (`GroupRecord.active_op`) from creation to its end, so two operations never act on one group.
At start the controller resumes every operation still `running` in KV (`resume_all`).

Only the leader runs operations (`is_leader`, the lease): a runner whose controller lost the lease
refuses to write an operation record from that moment on, even before its tasks are cancelled, so
two controllers never write one record (the new leader resumes it from what is in KV).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from controller.actions import ACTIONS, Env, Step
from controller.ops import machine
from controller.store import Store
from schemas.ctl import CtlOpEvent, GroupEvent, OpRecord
from schemas.errors import CephDRError, Conflict, Internal, NotFound, Unavailable
from schemas.group import GroupRecord, ReconcileSummary

log = logging.getLogger(__name__)

Emit = Callable[[str, Any], None]  # (event kind, event) -> published on cephdr.ctl.evt.<kind>


class Runner:
    def __init__(
        self,
        env: Env,
        emit: Emit,
        *,
        step_retries: int = 3,
        retry_backoff_s: float = 2.0,
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self.env = env
        self.is_leader = is_leader
        self.store: Store = env.store
        self.emit = emit
        self.step_retries = step_retries
        self.retry_backoff_s = retry_backoff_s
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.current: dict[str, OpRecord] = {}
        self._lock = asyncio.Lock()

    # -- starting, resuming, cancelling
    async def start(self, op: OpRecord) -> None:
        """Take the group for `op` (compare-and-set), persist the record, run it."""
        self._must_lead()
        await self.update_group(op.group, lambda g: _take(g, op.op_id))
        await self.store.put_op(op)
        self._event(op, None)
        self.launch(op)

    def launch(self, op: OpRecord) -> None:
        self.current[op.op_id] = op
        self.tasks[op.op_id] = asyncio.create_task(self._run(op.op_id), name=f"op-{op.op_id}")

    async def resume_all(self) -> list[str]:
        resumed: list[str] = []
        for op in await self.store.ops():
            if op.state == "running" and op.op_id not in self.tasks:
                log.warning(
                    "resuming operation %s (%s of %s) at step %s",
                    op.op_id,
                    op.kind,
                    op.group,
                    machine.next_step(op),
                )
                self.launch(op)
                resumed.append(op.op_id)
        return resumed

    async def cancel(self, op_id: str, reason: str = "cancelled") -> OpRecord:
        async with self._lock:
            op = self.current.get(op_id) or await self.store.op(op_id)
            if op is None:
                raise NotFound(f"no operation {op_id}", where="op_id")
            try:
                op = machine.cancel(op, time.time(), reason)
            except machine.OpStateError as exc:
                raise Conflict(str(exc), where="op_id") from None
            self._must_lead()
            self.current[op_id] = op
            await self.store.put_op(op)
        task = self.tasks.get(op_id)
        if task is not None:
            task.cancel()
        await self._release(op)
        self._event(op, None)
        return op

    async def retry(self, op_id: str) -> OpRecord:
        op = await self.store.op(op_id)
        if op is None:
            raise NotFound(f"no operation {op_id}", where="op_id")
        try:
            op = machine.retry(op, time.time())
        except machine.OpStateError as exc:
            raise Conflict(str(exc), where="op_id") from None
        await self.start(op)
        return op

    async def stop(self) -> None:
        for t in self.tasks.values():
            t.cancel()
        for t in list(self.tasks.values()):
            with contextlib.suppress(BaseException):
                await t
        # what this runner last saw is stale once another controller may move the operations on
        self.current.clear()

    def _must_lead(self) -> None:
        if not self.is_leader():
            raise Unavailable("this controller is not the leader (it lost the lease); try again")

    # -- running
    async def _persist(self, op: OpRecord) -> None:
        async with self._lock:
            if self.current.get(op.op_id, op).state == "cancelled" or not self.is_leader():
                raise asyncio.CancelledError
            self.current[op.op_id] = op
            await self.store.put_op(op)

    async def _run(self, op_id: str) -> None:
        op = self.current[op_id]
        try:
            while (i := machine.next_step(op)) is not None:
                op = machine.begin(op, i, time.time())
                await self._persist(op)
                self._event(op, i)
                op = await self._execute(op, i)
                await self._persist(op)
                self._event(op, i)
            await self._finished(op)
        except asyncio.CancelledError:
            log.info("operation %s stopped (%s)", op_id, self.current.get(op_id, op).state)
        except Exception:
            log.exception("operation %s: runner failure; the record stays resumable", op_id)
        finally:
            self.tasks.pop(op_id, None)

    async def _execute(self, op: OpRecord, i: int) -> OpRecord:
        rec = op.steps[i]
        fn = ACTIONS.get(rec.action)
        if fn is None:
            return machine.fail(op, i, time.time(), Internal(f"unknown action {rec.action}").body())
        while True:
            try:
                out = await fn(self.env, Step(op=op, index=i, record=op.steps[i]))
                log.info("op %s step %d %s: %s", op.op_id, i + 1, rec.name, out.message)
                return machine.complete(
                    op, i, time.time(), message=out.message, result={**out.result, "changed": out.changed}
                )
            except CephDRError as err:
                waiting = rec.action.startswith("wait.")
                if err.retryable and not waiting and op.steps[i].attempts < self.step_retries:
                    log.warning("op %s step %d %s: %s; retrying", op.op_id, i + 1, rec.name, err)
                    await asyncio.sleep(self.retry_backoff_s * op.steps[i].attempts)
                    op = machine.begin(op, i, time.time())
                    await self._persist(op)
                    continue
                log.warning("op %s step %d %s failed: %s", op.op_id, i + 1, rec.name, err)
                return machine.fail(op, i, time.time(), err.body())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("op %s step %d %s: bug", op.op_id, i + 1, rec.name)
                bug = Internal(f"internal error in step {rec.name}; the controller log has the details")
                return machine.fail(op, i, time.time(), bug.body())

    async def _finished(self, op: OpRecord) -> None:
        log.info("operation %s %s: %s", op.op_id, op.state, op.message)
        if op.kind == "reconcile":
            await self._reconciled(op)
        await self._release(op)
        self._event(op, None)

    async def _reconciled(self, op: OpRecord) -> None:
        repaired = [s.name for s in op.steps if s.result.get("changed")]
        errors = [f"{s.name}: {s.error.message}" for s in op.steps if s.error is not None]
        got = await self.store.group(op.group)
        if got is None:
            return
        g = got[0]
        drift = g.reconciled is not None and g.reconciled.generation == g.generation and bool(repaired)
        summary = ReconcileSummary(
            at=time.time(),
            op_id=op.op_id,
            ok=op.state == "succeeded",
            repaired=repaired,
            errors=errors,
            generation=g.generation,
        )
        await self.update_group(op.group, lambda r: replace(r, reconciled=summary))
        if drift:
            self.emit(
                "group",
                GroupEvent(
                    at=time.time(),
                    group=op.group,
                    change="drift",
                    message=f"drift repaired in {op.group}: {len(repaired)} item(s)",
                    details=repaired,
                ),
            )

    async def _release(self, op: OpRecord) -> None:
        def free(g: GroupRecord) -> GroupRecord:
            if g.active_op != op.op_id:
                return g
            return replace(g, active_op=None, last_op=op.op_id, updated_at=time.time())

        with contextlib.suppress(NotFound):
            await self.update_group(op.group, free)

    async def update_group(self, name: str, fn: Callable[[GroupRecord], GroupRecord]) -> GroupRecord:
        """Read-modify-write with compare-and-set, retried on a concurrent change."""
        for _ in range(10):
            got = await self.store.group(name)
            if got is None:
                raise NotFound(f"no group {name}", where="group")
            rec, rev = got
            new = fn(rec)
            if new == rec:
                return rec
            try:
                await self.store.put_group(new, rev)
                return new
            except Conflict:
                await asyncio.sleep(0.05)
        raise Conflict(f"group {name} keeps changing; try again", where="group")

    def _event(self, op: OpRecord, i: int | None) -> None:
        s = op.steps[i] if i is not None else None
        self.emit(
            "op",
            CtlOpEvent(
                at=time.time(),
                op_id=op.op_id,
                kind=op.kind,
                group=op.group,
                state=op.state,
                step=s.name if s else None,
                step_state=s.state if s else None,
                done=op.done_steps,
                total=len(op.steps),
                message=s.message if s and s.message else op.message,
            ),
        )


def _take(g: GroupRecord, op_id: str) -> GroupRecord:
    if g.active_op is not None and g.active_op != op_id:
        raise Conflict(
            f"group {g.name} is busy with operation {g.active_op}; wait for it or cancel it",
            where="group",
            details={"active_op": g.active_op},
        )
    return replace(g, active_op=op_id, updated_at=time.time())
