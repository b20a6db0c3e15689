"""The self-fencing loop never dies: a pass that crashes is retried (the command gate would
otherwise stay shut until the agent restarts). Ceph is not reached: `apply_once` is replaced."""

from __future__ import annotations

import asyncio

from agent.runtime.fence import Fencer
from schemas.ids import SiteName


async def test_a_crashing_pass_is_retried_until_one_succeeds() -> None:
    fencer = Fencer(SiteName("site-a"), None, lambda e: None, retry_s=0.01)  # type: ignore[arg-type]
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise KeyError("fence.gone")  # a record deleted while a pass was running
        fencer.applied.set()

    fencer.apply_once = flaky  # type: ignore[method-assign]
    task = asyncio.create_task(fencer.run())
    fencer._dirty.set()
    try:
        await asyncio.wait_for(fencer.applied.wait(), timeout=10)
        assert calls == 3
        assert not task.done(), "the loop ended after a crashed pass"
    finally:
        task.cancel()
