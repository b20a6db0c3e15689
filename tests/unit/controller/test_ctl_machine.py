"""The operation machine (controller/ops/machine.py): every transition, the point of no return,
tolerant steps, cancel/retry, and resuming after a crash at any step of a real plan."""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
import pytest
from ctl_unit_build import B, both_spec, persist, record
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.ops import machine, plans
from controller.ops.machine import OpStateError
from schemas.ctl import OpRecord, StepRecord
from schemas.errors import ErrorBody
from schemas.ids import GroupName, OpId

T0 = 1000.0
ERR = ErrorBody(code="unavailable", message="agent site-b did not answer", retryable=True)


def steps(n: int, *, pnr: tuple[int, ...] = (), tolerant: tuple[int, ...] = ()) -> list[StepRecord]:
    return [
        StepRecord(
            name=f"step-{i}",
            action="check.sites",
            args={"tolerant": True} if i in tolerant else {},
            state="pending",
            point_of_no_return=i in pnr,
        )
        for i in range(n)
    ]


def new(n: int = 4, **kw: Any) -> OpRecord:
    return machine.new_op(
        OpId("op-1"), "planned_failover", GroupName("web"), steps(n, **kw), now=T0, target=B, epoch=4
    )


def run_through(op: OpRecord, upto: int, t: float = T0) -> OpRecord:
    """Begin and complete steps until `upto` is the current step."""
    while (i := machine.next_step(op)) is not None and i < upto:
        op = machine.complete(machine.begin(op, i, t), i, t)
    return op


# -- new_op / next_step ----------------------------------------------------------------------------


def test_new_op_is_running_with_every_step_pending_and_the_first_current() -> None:
    op = new(3)
    assert op.state == "running"
    assert [s.state for s in op.steps] == ["pending"] * 3
    assert machine.next_step(op) == 0
    assert (op.created_at, op.updated_at, op.finished_at) == (T0, T0, None)
    assert op.target == B and op.epoch == 4


def test_new_op_refuses_an_empty_plan() -> None:
    with pytest.raises(ValueError):
        machine.new_op(OpId("op-1"), "reconcile", GroupName("web"), [], now=T0)


def test_next_step_is_none_for_every_finished_state() -> None:
    op = new(2)
    assert machine.next_step(machine.cancel(op, T0)) is None
    assert machine.next_step(run_through(op, 2)) is None
    assert machine.next_step(machine.fail(machine.begin(op, 0, T0), 0, T0, ERR)) is None


# -- begin / complete / skip -----------------------------------------------------------------------


def test_begin_marks_the_step_running_and_counts_the_attempt() -> None:
    op = machine.begin(new(), 0, T0 + 5)
    s = op.steps[0]
    assert (s.state, s.attempts, s.started_at) == ("running", 1, T0 + 5)
    assert op.updated_at == T0 + 5
    assert "step-0" in op.message
    assert machine.next_step(op) == 0  # still the current step until it ends
    again = machine.begin(op, 0, T0 + 6)  # the runner's in-step retry, or a resume
    assert again.steps[0].attempts == 2
    assert [s.state for s in again.steps[1:]] == ["pending"] * 3


def test_complete_marks_done_keeps_the_result_and_moves_on() -> None:
    op = machine.begin(new(), 0, T0)
    op = machine.complete(op, 0, T0 + 1, message="fine", result={"changed": True})
    s = op.steps[0]
    assert (s.state, s.finished_at, s.message, s.result) == ("done", T0 + 1, "fine", {"changed": True})
    assert op.state == "running"
    assert machine.next_step(op) == 1


def test_completing_the_last_step_succeeds_the_operation() -> None:
    op = run_through(new(3), 2)
    assert op.state == "running"
    op = machine.complete(machine.begin(op, 2, T0), 2, T0 + 9)
    assert op.state == "succeeded"
    assert op.finished_at == T0 + 9
    assert "succeeded" in op.message
    assert op.done_steps == 3


def test_skip_counts_as_finished_and_moves_on() -> None:
    op = machine.skip(new(2), 0, T0, message="nothing to do")
    assert (op.steps[0].state, op.steps[0].message) == ("skipped", "nothing to do")
    assert machine.next_step(op) == 1
    op = machine.skip(op, 1, T0, message="nothing to do")
    assert op.state == "succeeded"


@pytest.mark.parametrize("verb", ["begin", "complete", "skip", "fail"])
def test_a_step_that_is_not_the_current_one_is_refused(verb: str) -> None:
    op = machine.begin(new(), 0, T0)
    for i in (1, 3):  # a later step, while step 0 runs
        with pytest.raises(OpStateError, match="not the current step"):
            _act(verb, op, i)
    op = run_through(op, 2)
    with pytest.raises(OpStateError, match="not the current step"):  # a done one
        _act(verb, op, 0)


@pytest.mark.parametrize("verb", ["begin", "complete", "skip", "fail"])
@pytest.mark.parametrize("end", ["succeeded", "failed", "cancelled"])
def test_no_step_moves_in_a_finished_operation(verb: str, end: str) -> None:
    op = _finished(end)
    assert op.state == end
    with pytest.raises(OpStateError, match=end):
        _act(verb, op, 0)
    with pytest.raises(OpStateError, match=end):
        _act(verb, op, len(op.steps) - 1)


def _act(verb: str, op: OpRecord, i: int) -> OpRecord:
    if verb == "begin":
        return machine.begin(op, i, T0)
    if verb == "complete":
        return machine.complete(op, i, T0)
    if verb == "skip":
        return machine.skip(op, i, T0, message="x")
    return machine.fail(op, i, T0, ERR)


def _finished(end: str) -> OpRecord:
    op = new(3)
    if end == "succeeded":
        return run_through(op, 3)
    if end == "failed":
        return machine.fail(machine.begin(op, 0, T0), 0, T0, ERR)
    return machine.cancel(op, T0)


# -- fail ------------------------------------------------------------------------------------------


def test_a_failed_step_before_the_point_of_no_return_fails_the_operation_as_unchanged() -> None:
    op = run_through(new(4, pnr=(2,)), 1)
    op = machine.fail(machine.begin(op, 1, T0), 1, T0 + 3, ERR)
    assert op.state == "failed"
    assert op.finished_at == T0 + 3
    assert op.error == ERR
    assert (op.steps[1].state, op.steps[1].error, op.steps[1].message) == ("failed", ERR, ERR.message)
    assert [s.state for s in op.steps] == ["done", "failed", "pending", "pending"]
    assert "step 2 (step-1) failed" in op.message
    assert ERR.message in op.message
    assert machine.safe_condition(op) in op.message
    assert "Nothing was changed" in op.message
    assert machine.next_step(op) is None


@pytest.mark.parametrize("failing", [2, 3], ids=["at-the-pnr-step", "after-it"])
def test_a_failed_step_from_the_point_of_no_return_on_says_retry(failing: int) -> None:
    op = run_through(new(4, pnr=(2,)), failing)
    op = machine.fail(machine.begin(op, failing, T0), failing, T0, ERR)
    assert op.state == "failed"
    assert f"step {failing + 1} (step-{failing}) failed" in op.message
    assert "point of no return" in op.message
    assert "retry" in op.message
    assert "Nothing was changed" not in op.message


def test_safe_condition_depends_only_on_whether_a_pnr_step_started() -> None:
    op = new(3, pnr=(1,))
    before = machine.safe_condition(op)
    op = machine.begin(run_through(op, 1), 1, T0)
    after = machine.safe_condition(op)
    assert before != after
    assert not machine.passed_point_of_no_return(new(3, pnr=(1,)))
    assert machine.passed_point_of_no_return(op)


def test_a_failed_tolerant_step_lets_the_operation_go_on_and_end_failed_naming_it() -> None:
    op = new(4, tolerant=(0, 2))
    op = machine.fail(machine.begin(op, 0, T0), 0, T0, ERR)
    assert op.state == "running"
    assert op.error is None
    assert machine.next_step(op) == 1
    op = machine.complete(machine.begin(op, 1, T0), 1, T0)
    op = machine.fail(machine.begin(op, 2, T0), 2, T0, ERR)
    assert op.state == "running"
    op = machine.complete(machine.begin(op, 3, T0), 3, T0 + 8)
    assert op.state == "failed"
    assert op.finished_at == T0 + 8
    assert [s.state for s in op.steps] == ["failed", "done", "failed", "done"]
    assert "step-0" in op.message and "step-2" in op.message
    assert "step-1" not in op.message and "step-3" not in op.message


def test_a_failed_tolerant_last_step_ends_the_operation_failed() -> None:
    op = run_through(new(2, tolerant=(1,)), 1)
    op = machine.fail(machine.begin(op, 1, T0), 1, T0, ERR)
    assert op.state == "failed"
    assert "step-1" in op.message


def test_all_tolerant_steps_succeeding_means_success() -> None:
    op = run_through(new(3, tolerant=(0, 1, 2)), 3)
    assert op.state == "succeeded"


# -- cancel ----------------------------------------------------------------------------------------


def test_cancel_before_the_point_of_no_return_skips_what_is_left() -> None:
    op = run_through(new(4, pnr=(2,)), 1)
    op = machine.begin(op, 1, T0)  # in flight: left to its idempotent end
    op = machine.cancel(op, T0 + 4)
    assert op.state == "cancelled"
    assert op.cancel_requested
    assert op.finished_at == T0 + 4
    assert [s.state for s in op.steps] == ["done", "running", "skipped", "skipped"]
    assert all(s.message == "cancelled" for s in op.steps[2:])
    assert machine.next_step(op) is None


def test_cancel_of_a_fresh_operation_changes_nothing_but_its_state() -> None:
    op = machine.cancel(new(3, pnr=(0,)), T0)
    assert op.state == "cancelled"
    assert [s.state for s in op.steps] == ["skipped"] * 3
    assert all(s.attempts == 0 for s in op.steps)


@pytest.mark.parametrize("pnr_state", ["running", "done", "failed-then-retried"])
def test_cancel_is_refused_once_a_point_of_no_return_step_started(pnr_state: str) -> None:
    op = machine.begin(run_through(new(4, pnr=(1,)), 1), 1, T0)
    if pnr_state == "done":
        op = machine.complete(op, 1, T0)
    elif pnr_state == "failed-then-retried":
        op = machine.complete(machine.begin(op, 1, T0), 1, T0)
        op = machine.retry(machine.fail(machine.begin(op, 2, T0), 2, T0, ERR), T0)
    assert op.state == "running"
    with pytest.raises(OpStateError, match="point of no return"):
        machine.cancel(op, T0)


def test_cancel_stays_refused_after_retrying_a_failed_point_of_no_return_step() -> None:
    op = machine.new_op(PLAN_OP, "planned_failover", GroupName("web"), PLAN, now=T0, target=B, epoch=4)
    demote = next(i for i, s in enumerate(PLAN) if s.action == "rbd.demote")
    assert PLAN[demote].point_of_no_return
    op = run_through(op, demote)
    # the demote ran (it may have demoted some images) and failed
    op = machine.fail(machine.begin(op, demote, T0), demote, T0, ERR)
    assert "point of no return" in op.message
    op = machine.retry(op, T0)
    with pytest.raises(OpStateError, match="point of no return"):
        machine.cancel(op, T0)


@pytest.mark.parametrize("end", ["succeeded", "failed", "cancelled"])
def test_cancel_is_refused_when_finished(end: str) -> None:
    with pytest.raises(OpStateError, match=f"already {end}"):
        machine.cancel(_finished(end), T0)


# -- retry -----------------------------------------------------------------------------------------


def test_retry_resumes_at_the_failed_step_and_keeps_done_ones() -> None:
    op = run_through(new(4, pnr=(1,)), 2)
    done_before = op.steps[:2]
    op = machine.fail(machine.begin(op, 2, T0), 2, T0 + 1, ERR)
    op = machine.retry(op, T0 + 2)
    assert op.state == "running"
    assert (op.error, op.finished_at, op.updated_at) == (None, None, T0 + 2)
    assert op.steps[:2] == done_before
    assert (op.steps[2].state, op.steps[2].error) == ("pending", None)
    assert op.steps[2].attempts == 1  # the history of attempts is kept
    assert op.steps[3].state == "pending"
    assert machine.next_step(op) == 2
    op = machine.begin(op, 2, T0 + 3)
    assert op.steps[2].attempts == 2
    op = run_through(machine.complete(op, 2, T0), 4)
    assert op.state == "succeeded"


def test_retry_after_tolerant_failures_reruns_only_the_failed_ones() -> None:
    op = new(3, tolerant=(0, 1, 2))
    op = machine.fail(machine.begin(op, 0, T0), 0, T0, ERR)
    op = machine.complete(machine.begin(op, 1, T0), 1, T0)
    op = machine.fail(machine.begin(op, 2, T0), 2, T0, ERR)
    assert op.state == "failed"
    op = machine.retry(op, T0)
    assert [s.state for s in op.steps] == ["pending", "done", "pending"]
    assert machine.next_step(op) == 0
    op = machine.complete(machine.begin(op, 0, T0), 0, T0)
    assert machine.next_step(op) == 2  # the done one in between is not run again


@pytest.mark.parametrize("state", ["running", "succeeded", "cancelled"])
def test_retry_only_from_failed(state: str) -> None:
    op = new(2) if state == "running" else _finished(state)
    with pytest.raises(OpStateError, match="only a failed operation"):
        machine.retry(op, T0)


# -- crash and resume ------------------------------------------------------------------------------


def test_after_a_crash_the_running_step_is_resumed_never_a_done_one() -> None:
    op = run_through(new(4), 2)
    op = persist(machine.begin(op, 2, T0))  # persisted as running, then the controller dies
    assert [s.state for s in op.steps] == ["done", "done", "running", "pending"]
    assert machine.next_step(op) == 2
    resumed = machine.begin(op, 2, T0 + 60)
    assert resumed.steps[2].attempts == 2
    assert resumed.steps[:2] == op.steps[:2]


class Crash(Exception):
    pass


PLAN_OP = OpId("op-crash")
PLAN = plans.planned_failover(record(both_spec()), B, op_id=PLAN_OP)
PHASES = ("before-action", "after-action", "after-persisting-done")


def _run(stored: bytes, ran: Counter[int], crash: tuple[int, str] | None) -> tuple[bytes, OpRecord]:
    """The runner's loop as in controller/runner.py: begin + persist, act, complete + persist.
    `stored` is the KV value; every transition goes through a JSON round trip."""

    def put(o: OpRecord) -> bytes:
        return msgspec.json.encode(o)

    op = msgspec.json.decode(stored, type=OpRecord)
    t = T0
    while (i := machine.next_step(op)) is not None:
        t += 1
        op = machine.begin(op, i, t)
        stored = put(op)
        if crash == (i, "before-action"):
            raise Crash(stored)
        ran[i] += 1  # the step's action takes effect
        if crash == (i, "after-action"):
            raise Crash(stored)
        op = machine.complete(op, i, t)
        stored = put(op)
        if crash == (i, "after-persisting-done"):
            raise Crash(stored)
        op = msgspec.json.decode(stored, type=OpRecord)
    return stored, op


def _start() -> bytes:
    op = machine.new_op(PLAN_OP, "planned_failover", GroupName("web"), PLAN, now=T0, target=B, epoch=4)
    return msgspec.json.encode(op)


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("at", range(len(PLAN)), ids=lambda i: f"{i}-{PLAN[i].action}")
def test_a_crash_at_any_step_resumes_without_rerunning_done_steps(at: int, phase: str) -> None:
    ran: Counter[int] = Counter()
    with pytest.raises(Crash) as crashed:
        _run(_start(), ran, (at, phase))
    stored: bytes = crashed.value.args[0]
    after_crash = msgspec.json.decode(stored, type=OpRecord)
    done_before = {i for i, s in enumerate(after_crash.steps) if s.state == "done"}
    ran_before = Counter(ran)

    expected_next: int | None = at + 1 if phase == "after-persisting-done" else at
    if expected_next == len(PLAN):
        expected_next = None  # the crash came after the last step was recorded: nothing to resume
    assert machine.next_step(after_crash) == expected_next
    if phase != "after-persisting-done":
        assert after_crash.steps[at].state == "running"

    _, final = _run(stored, ran, None)
    assert final.state == "succeeded"
    assert all(s.state == "done" for s in final.steps)
    for i in range(len(PLAN)):
        if i in done_before:
            assert ran[i] == 1, f"step {i} ({PLAN[i].name}) was done before the crash and ran again"
        assert 1 <= ran[i] <= 2, f"step {i} ran {ran[i]} times"
    twice = {i for i in ran if ran[i] == 2}
    assert twice == ({at} if phase == "after-action" else set())
    assert set(ran_before) == done_before | ({at} if phase == "after-action" else set())
    # the in-flight step shows both attempts; no other step was begun twice
    assert [s.attempts for s in final.steps] == [
        2 if i == at and phase != "after-persisting-done" else 1 for i in range(len(PLAN))
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(PLAN) - 1), st.sampled_from(PHASES)),
        max_size=6,
    )
)
def test_repeated_crashes_never_rerun_a_done_step(crashes: list[tuple[int, str]]) -> None:
    ran: Counter[int] = Counter()
    stored = _start()
    in_flight_crashes: Counter[int] = Counter()
    for crash in crashes:
        before = msgspec.json.decode(stored, type=OpRecord)
        done = {i for i, s in enumerate(before.steps) if s.state == "done"}
        counts = Counter(ran)
        try:
            stored, _ = _run(stored, ran, crash)
        except Crash as c:
            stored = c.args[0]
            if crash[1] == "after-action":
                in_flight_crashes[crash[0]] += 1
        for i in done:
            assert ran[i] == counts[i], f"done step {i} ran again"
    _, final = _run(stored, ran, None)
    assert final.state == "succeeded"
    for i in range(len(PLAN)):
        assert 1 <= ran[i] <= 1 + in_flight_crashes[i]


def test_plan_used_for_the_crash_tests_is_a_real_long_one() -> None:
    actions = {s.action for s in PLAN}
    assert {"rbd.demote", "fence.epoch", "rbd.promote", "fs.snapshot", "fs.dir.prepare"} <= actions
    assert any(s.point_of_no_return for s in PLAN)
