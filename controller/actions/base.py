"""What every step action gets and shares: the environment, the step, the outcome, the registry,
and the helpers for one agent command and for polling a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from controller.agents import Agents
from controller.sites import Sites
from controller.store import Store
from schemas.common import Done
from schemas.ctl import OpRecord, StepRecord
from schemas.errors import DeadlineExceeded, NotFound, Unavailable
from schemas.group import GroupRecord
from schemas.ids import SiteName


@dataclass
class Outcome:
    message: str
    changed: bool = True
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Env:
    agents: Agents
    store: Store
    sites: Sites
    poll_s: float = 2.0
    long_timeout: float = 900.0


@dataclass
class Step:
    """The step being run, with what an action needs to name its requests."""

    op: OpRecord
    index: int
    record: StepRecord
    _n: int = 0

    @property
    def args(self) -> dict[str, Any]:
        return self.record.args

    @property
    def site(self) -> SiteName:
        if self.record.site is None:
            raise ValueError(f"step {self.record.name} has no site")
        return self.record.site

    def rid(self) -> str:
        self._n += 1
        return f"{self.op.op_id}-{self.index}-{self.record.attempts}-{self._n}"


Action = Callable[[Env, Step], Awaitable[Outcome]]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return register


async def group_record(env: Env, step: Step) -> tuple[GroupRecord, int]:
    got = await env.store.group(step.op.group)
    if got is None:
        raise NotFound(f"group {step.op.group} no longer exists", where=step.record.name)
    return got


async def agent_command(env: Env, step: Step, endpoint: str, *, site: str | None = None, **body: Any) -> Done:
    """One agent command of this step (on the step's site unless `site`), with a fresh request id."""
    return await env.agents.call(site or step.site, endpoint, {"request_id": step.rid(), **body}, Done)


async def one_command(env: Env, step: Step, endpoint: str, **body: Any) -> Outcome:
    """A step that is exactly one agent command: its outcome is the agent's."""
    d = await agent_command(env, step, endpoint, **body)
    return Outcome(d.message, d.changed)


async def poll_until(
    env: Env, step: Step, probe: Callable[[], Awaitable[list[str]]], timeout_s: float | None = None
) -> list[str]:
    """Run `probe` until it reports no problem or `timeout_s` (default: the step's) passes."""
    timeout_s = float(step.args.get("timeout_s", 300)) if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            problems = await probe()
        except Unavailable as err:  # an agent restarting or a scan failing: keep waiting
            problems = [str(err)]
        if not problems:
            return []
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(
                f"{step.record.name}: still not there after {timeout_s:g}s: "
                + "; ".join(problems[:5])
                + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""),
                where=step.record.name,
                details={"problems": problems[:50]},
            )
        await asyncio.sleep(env.poll_s)
