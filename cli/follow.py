"""Live progress of a long operation (failover, failback, reconcile): the controller's op events
(`cephdr.ctl.evt.op`), one line per step transition, then a summary.

The subscription starts before the request is sent (the controller publishes the first event
before it answers), and the record is also read every few seconds with `op.get`, so a lost event
or a controller failover mid-operation (the new leader resumes it) never leaves the CLI waiting:
the record, not the events, says when the operation ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO

import msgspec

from cli import exit_codes, tables
from cli.session import Session, print_json
from schemas.common import Accepted
from schemas.ctl import CtlOpEvent, FleetStatus, GetStatus, OpRecord, OpRef
from schemas.errors import CephDRError, DeadlineExceeded

POLL_S = 3.0


class OpWatch:
    """Events of operations, buffered from before the request until the op id is known."""

    def __init__(self, session: Session, out: TextIO = sys.stdout) -> None:
        self.s = session
        self.out = out
        self.queue: asyncio.Queue[CtlOpEvent] = asyncio.Queue()
        self.sub: Any = None

    async def __aenter__(self) -> OpWatch:
        async def on_msg(msg: Any) -> None:
            # a future event version is skipped: the record still says how the operation ends
            with contextlib.suppress(msgspec.DecodeError):
                self.queue.put_nowait(msgspec.json.decode(msg.data, type=CtlOpEvent))

        self.sub = await self.s.nc.subscribe(f"{self.s.prefix}.ctl.evt.op", cb=on_msg)
        await self.s.nc.flush(timeout=5)  # subscribed on the server before the request goes out
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()

    async def record(self, op_id: str) -> OpRecord:
        return await self.s.req("op.get", {"op_id": op_id}, request=OpRef, reply=OpRecord, timeout=10)

    async def follow(self, op_id: str, *, wait_s: float, quiet: bool = False) -> OpRecord:
        """Print progress until the operation ends; its final record. `DeadlineExceeded` when it
        still runs after `wait_s` (it keeps running: the controller owns it)."""
        started = time.time()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        next_poll = loop.time() + POLL_S
        seen: set[tuple[str | None, str | None, int]] = set()
        while True:
            timeout = max(0.05, min(next_poll, deadline) - loop.time())
            try:
                ev = await asyncio.wait_for(self.queue.get(), timeout)
            except TimeoutError:
                ev = None
            if ev is not None and ev.op_id == op_id:
                started = min(started, ev.at)
                key = (ev.step, ev.step_state, ev.done)
                if key not in seen and not quiet:
                    seen.add(key)
                    print(tables.progress_line(ev, started), file=self.out, flush=True)
                if ev.step is None and ev.state != "running":
                    return await self.record(op_id)
            if loop.time() >= next_poll:
                next_poll = loop.time() + POLL_S
                try:
                    op = await self.record(op_id)
                except CephDRError:
                    op = None  # a controller changing leader: ask again at the next poll
                if op is not None and op.state != "running":
                    return op
            if loop.time() >= deadline:
                raise DeadlineExceeded(
                    f"operation {op_id} still running after {wait_s:g}s; it goes on: "
                    f"`cephdr ops show {op_id}`",
                    where=op_id,
                )


async def group_lag(s: Session, group: str) -> float | None:
    """The group's worst RPO lag right now (what a forced failover would lose), if reported."""
    try:
        st = await s.req("status", {"group": group}, request=GetStatus, reply=FleetStatus)
    except CephDRError:
        return None
    return st.groups[0].rpo_lag_s if st.groups else None


async def run_long(
    s: Session, name: str, body: dict[str, Any], request: type[Any], *, group: str, wait: bool, wait_s: float
) -> int:
    """Send a long command; follow it to its end with progress and a summary (or return at once
    with `--no-wait`). The exit code says how the operation ended."""
    as_json = bool(getattr(s.args, "json", False))
    lag = await group_lag(s, group)
    async with OpWatch(s) as watch:
        accepted = await s.req(name, body, request=request, reply=Accepted)
        if not as_json:
            print(f"{name} of {group} accepted: operation {accepted.op_id} (by {s.actor})", flush=True)
        if not wait:
            if as_json:
                print_json(accepted)
            return exit_codes.OK
        op = await watch.follow(accepted.op_id, wait_s=wait_s, quiet=as_json)
    if as_json:
        print_json(op)
    else:
        print(tables.summary(op, time.time(), lag), flush=True)
    return exit_codes.for_op_state(op.state)
