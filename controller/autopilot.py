"""The autopilot: every few seconds, gather what the controller knows about each group with an
`[auto]` policy, ask the pure policy (`controller.policy`) and act on its answer.

Acting means starting the same operations an operator would request: a forced (unplanned)
failover, fenced by epoch, or a failback. A decision is published on `cephdr.ctl.evt.decision`
whenever a group's verdict changes, and every time it acts, so the event stream holds the
reasons for everything the controller did, and for everything it chose not to do.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from msgspec.structs import replace

from controller.context import ControllerContext
from controller.policy import Observation, Return, decide_failback, decide_failover
from controller.service.failover import start_failback, start_failover
from controller.service.status import group_statuses
from schemas.errors import CephDRError
from schemas.group import GroupRecord
from schemas.ids import GroupName
from schemas.policy import Decision, DecisionEvent, Pause

log = logging.getLogger(__name__)

HISTORY = 10  # automatic failovers remembered per group (cooldown and max_per_day need a day's)


class Autopilot:
    def __init__(self, ctx: ControllerContext, emit: Callable[[str, Any], None], *, interval: float) -> None:
        self.ctx = ctx
        self.emit = emit
        self.interval = interval
        # group -> (lag, when): the survivor's lag as last reported. Once the primary is gone,
        # the survivor's mirror daemon stops reporting a lag at all; what it last said, aged by
        # the time since, is the "last known lag" the policy needs.
        self.last_lag: dict[str, tuple[float, float]] = {}  # "group@epoch" -> (lag, when)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except CephDRError as exc:  # the store or the bus is down: nothing to decide on
                log.warning("autopilot: %s", exc)
            except Exception:
                log.exception("autopilot evaluation failed")

    async def tick(self) -> list[DecisionEvent]:
        """Evaluate every group once; return the events published."""
        store, sites = self.ctx.store, self.ctx.sites
        fleet_pause = await store.auto_pause()
        groups = [g for g in await store.groups() if g.spec.auto.enabled]
        if not groups:
            return []
        now = time.time()
        for st in await group_statuses(self.ctx, None):
            if st.rpo_lag_s is not None:  # keyed by epoch: a failover turns the lag around
                self.last_lag[f"{st.group}@{st.epoch}"] = (st.rpo_lag_s, now)
        out = []
        for g in groups:
            paused = _why_paused(fleet_pause, g)
            active = await self._active_kind(g)
            lost = sites.lost_for(g.primary)
            if g.owed is not None and lost is None:
                hb = sites.heartbeat(g.owed.site)
                decision = decide_failback(
                    Return(
                        owed_site=g.owed.site,
                        primary=g.primary,
                        returned_for=sites.alive_for(g.owed.site),
                        fenced=hb is not None and g.name in hb.fenced_groups,
                        primary_alive=sites.alive(g.primary),
                        active_op=active,
                        paused=paused,
                    ),
                    g.spec.auto,
                )
            else:
                reachable, down_for = sites.witness(g.secondary, g.primary)
                decision = decide_failover(
                    Observation(
                        now=time.time(),
                        primary=g.primary,
                        survivor=g.secondary,
                        primary_lost=lost,
                        witness_reachable=reachable,
                        witness_down_for=down_for,
                        survivor_alive=sites.alive(g.secondary),
                        survivor_lag_s=self._lag(g, now),
                        active_op=active,
                        paused=paused,
                        owed_site=g.owed.site if g.owed else None,
                        auto_failovers=list(g.auto_failovers),
                    ),
                    g.spec.auto,
                )
            event = await self._act(g, decision)
            if event is not None:
                out.append(event)
        return out

    def _lag(self, g: GroupRecord, now: float) -> float | None:
        known = self.last_lag.get(f"{g.spec.name}@{g.epoch}")
        return None if known is None else known[0] + max(0.0, now - known[1])

    async def _active_kind(self, g: GroupRecord) -> str | None:
        if g.active_op is None:
            return None
        op = self.ctx.runner.current.get(g.active_op) or await self.ctx.store.op(g.active_op)
        return op.kind if op is not None else "unknown"

    async def _act(self, g: GroupRecord, decision: Decision) -> DecisionEvent | None:
        name = GroupName(g.spec.name)
        event = DecisionEvent(at=time.time(), group=name, primary=g.primary, decision=decision)
        if decision.verdict in ("failover", "failback"):
            try:
                if decision.verdict == "failover":
                    assert decision.target is not None
                    accepted = await start_failover(
                        self.ctx,
                        g,
                        decision.target,
                        force=True,
                        request_id=f"auto-failover-{name}-{g.epoch}",
                        actor="controller:autopilot",
                    )
                    await self.ctx.runner.update_group(name, _remember_failover)
                else:
                    accepted = await start_failback(
                        self.ctx,
                        g,
                        request_id=f"auto-failback-{name}-{g.epoch}",
                        actor="controller:autopilot",
                    )
                event = replace(event, acted=True, op_id=accepted.op_id)
            except CephDRError as exc:
                event = replace(event, error=exc.message)
        last = self.ctx.decisions.get(name)
        self.ctx.decisions[name] = event
        changed = last is None or (last.decision.verdict, last.decision.code) != (
            decision.verdict,
            decision.code,
        )
        if not (changed or event.acted or event.error) or (last is None and decision.verdict == "healthy"):
            return None
        log.log(
            logging.WARNING if decision.verdict not in ("healthy", "disabled") else logging.INFO,
            "autopilot %s: %s (%s)%s: %s",
            name,
            decision.verdict,
            decision.code,
            f" -> {event.op_id}" if event.op_id else (f" failed: {event.error}" if event.error else ""),
            "; ".join(decision.reasons),
        )
        self.emit("decision", event)
        return event


def _why_paused(fleet: Pause | None, g: GroupRecord) -> str | None:
    if fleet is not None:
        return f"fleet-wide pause{': ' + fleet.reason if fleet.reason else ''}"
    if g.paused is not None:
        return f"group paused{': ' + g.paused.reason if g.paused.reason else ''}"
    return None


def _remember_failover(g: GroupRecord) -> GroupRecord:
    return replace(g, auto_failovers=[*g.auto_failovers, time.time()][-HISTORY:])
