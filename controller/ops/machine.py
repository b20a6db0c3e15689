"""How an operation record moves, step by step (pure).

    running ──(every step done/skipped)──▶ succeeded
       │ ▲
       │ └──────────── retry ─────────────┐
       ├──(a step fails)──▶ failed ───────┘
       └──(cancel, before the point of no return)──▶ cancelled

The runner persists the record after each transition. A step is marked `running` (and persisted)
before it acts, so after a crash the resumed operation re-runs exactly that step; steps are
idempotent, so re-running one that had already taken effect changes nothing. A step marked `done`
is never run again.
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from schemas.ctl import OpKind, OpRecord, StepRecord
from schemas.errors import ErrorBody
from schemas.ids import GroupName, OpId, SiteName

FINISHED = ("succeeded", "failed", "cancelled")


class OpStateError(Exception):
    """A transition the record's state does not allow (the caller maps it to Conflict)."""


def new_op(
    op_id: OpId,
    kind: OpKind,
    group: GroupName,
    steps: list[StepRecord],
    *,
    now: float,
    source: SiteName | None = None,
    target: SiteName | None = None,
    epoch: int | None = None,
    request_id: str | None = None,
    actor: str | None = None,
) -> OpRecord:
    if not steps:
        raise ValueError("an operation needs at least one step")
    return OpRecord(
        op_id=op_id,
        kind=kind,
        group=group,
        state="running",
        source=source,
        target=target,
        steps=steps,
        created_at=now,
        updated_at=now,
        epoch=epoch,
        request_id=request_id,
        actor=actor,
        message=f"{kind} of {group}: {len(steps)} steps",
    )


def next_step(op: OpRecord) -> int | None:
    """Index of the step to run now (a `running` one is resumed), or None when there is none."""
    if op.state != "running":
        return None
    for i, s in enumerate(op.steps):
        if s.state in ("pending", "running"):
            return i
    return None


def _set(op: OpRecord, i: int, step: StepRecord, now: float, **changes: Any) -> OpRecord:
    steps = list(op.steps)
    steps[i] = step
    return replace(op, steps=steps, updated_at=now, **changes)


def _check(op: OpRecord, i: int) -> StepRecord:
    if op.state != "running":
        raise OpStateError(f"operation {op.op_id} is {op.state}")
    if next_step(op) != i:
        raise OpStateError(f"step {i} of {op.op_id} is not the current step")
    return op.steps[i]


def begin(op: OpRecord, i: int, now: float) -> OpRecord:
    s = _check(op, i)
    step = replace(s, state="running", attempts=s.attempts + 1, started_at=now, error=None)
    return _set(op, i, step, now, message=f"step {i + 1}/{len(op.steps)}: {s.name}")


def _finish_if_last(op: OpRecord, now: float) -> OpRecord:
    if next_step(op) is not None:
        return op
    failed = [s for s in op.steps if s.state == "failed"]
    if failed:  # only tolerant steps can be failed here
        names = ", ".join(s.name for s in failed)
        return replace(op, state="failed", finished_at=now, message=f"finished with failed steps: {names}")
    return replace(op, state="succeeded", finished_at=now, message=f"{op.kind} of {op.group} succeeded")


def complete(
    op: OpRecord, i: int, now: float, *, message: str = "", result: dict[str, Any] | None = None
) -> OpRecord:
    s = _check(op, i)
    step = replace(s, state="done", finished_at=now, message=message, result=dict(result or {}))
    return _finish_if_last(_set(op, i, step, now), now)


def skip(op: OpRecord, i: int, now: float, *, message: str) -> OpRecord:
    s = _check(op, i)
    step = replace(s, state="skipped", finished_at=now, message=message)
    return _finish_if_last(_set(op, i, step, now), now)


def fail(op: OpRecord, i: int, now: float, error: ErrorBody) -> OpRecord:
    """A step failed. A `tolerant` step (reconcile) records it and the operation goes on; any
    other ends the operation in a stated condition (`safe_condition`)."""
    s = _check(op, i)
    step = replace(s, state="failed", finished_at=now, error=error, message=error.message)
    op = _set(op, i, step, now)
    if s.args.get("tolerant"):
        return _finish_if_last(op, now)
    return replace(
        op,
        state="failed",
        finished_at=now,
        error=error,
        message=f"step {i + 1} ({s.name}) failed: {error.message}. {safe_condition(op)}",
    )


def passed_point_of_no_return(op: OpRecord) -> bool:
    # attempts, not only state: a retried operation puts its failed step back to pending, but that
    # step may already have changed things (demoted some images) before it failed
    return any(s.point_of_no_return and (s.state != "pending" or s.attempts > 0) for s in op.steps)


def safe_condition(op: OpRecord) -> str:
    """What a failed operation leaves behind, in words an operator can act on."""
    if not passed_point_of_no_return(op):
        return "Nothing was changed on the primary; the group is as it was."
    return (
        "The operation is past its point of no return: retry it (cephdr.ctl.op.retry) to finish, "
        "it resumes at the failed step."
    )


def cancel(op: OpRecord, now: float, reason: str = "cancelled") -> OpRecord:
    """Cancel an operation that has not passed its point of no return. A step in flight is left to
    its idempotent end; nothing after it runs."""
    if op.state in FINISHED:
        raise OpStateError(f"operation {op.op_id} already {op.state}")
    if passed_point_of_no_return(op):
        raise OpStateError(
            f"operation {op.op_id} is past its point of no return; "
            "it can only finish (or fail and be retried)"
        )
    steps = [
        replace(s, state="skipped", message=reason) if s.state == "pending" else s for s in op.steps
    ]
    return replace(
        op,
        steps=steps,
        state="cancelled",
        cancel_requested=True,
        finished_at=now,
        updated_at=now,
        message=f"{reason} before any change to the primary",
    )


def retry(op: OpRecord, now: float) -> OpRecord:
    """Run a failed operation again from its failed step (and any failed tolerant step)."""
    if op.state != "failed":
        raise OpStateError(f"only a failed operation can be retried; {op.op_id} is {op.state}")
    steps = [replace(s, state="pending", error=None) if s.state == "failed" else s for s in op.steps]
    return replace(
        op, steps=steps, state="running", error=None, finished_at=None, updated_at=now, message="retrying"
    )
