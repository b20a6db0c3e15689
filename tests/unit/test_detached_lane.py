"""`DetachedLane`: deadlines without abandoning a blocked call, and a bound on how many may wait.

Plain Python callables stand in for librados here (threading.Event blocks like a stalled mgr);
the real stall is `tests/system/agent/test_mgr_stall.py`.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from agent.ceph.executor import DetachedLane
from schemas.errors import CephDRError, DeadlineExceeded, NotFound, Unavailable


async def test_a_blocked_call_misses_its_deadline_but_keeps_its_slot_until_it_returns() -> None:
    lane = DetachedLane(max_pending=1, name="test")
    release = threading.Event()
    finished = threading.Event()

    def stalled() -> str:
        release.wait(30)
        finished.set()
        return "late"

    with pytest.raises(DeadlineExceeded) as err:
        await lane.call(stalled, deadline=0.05, what="mgr ls")
    assert err.value.where == "mgr ls"
    assert lane.pending == 1
    with pytest.raises(Unavailable, match="1 test calls still waiting"):
        await lane.call(lambda: "x", deadline=1, what="next")

    release.set()
    assert await asyncio.to_thread(finished.wait, 5)
    for _ in range(100):
        if lane.pending == 0:
            break
        await asyncio.sleep(0.01)
    assert lane.pending == 0
    assert await lane.call(lambda: "fresh", deadline=1, what="next") == "fresh"


async def test_results_and_errors_come_back_through_the_error_tree() -> None:
    lane = DetachedLane(max_pending=2)

    def missing() -> None:
        raise NotFound("no such schedule", where="inner")

    def broken() -> None:
        raise ValueError("bad")

    assert await lane.call(lambda: 41 + 1, deadline=1, what="sum") == 42
    with pytest.raises(NotFound):
        await lane.call(missing, deadline=1, what="ls")
    with pytest.raises(CephDRError) as err:  # mapped, never a raw binding exception
        await lane.call(broken, deadline=1, what="ls")
    assert err.value.where == "ls"
    assert lane.pending == 0


async def test_a_closed_lane_refuses_at_once() -> None:
    lane = DetachedLane()
    lane.shutdown()
    with pytest.raises(Unavailable, match="shutting down"):
        await lane.call(lambda: 1, deadline=1, what="ls")
