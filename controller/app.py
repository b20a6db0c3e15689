"""The controller process: connect, learn sites, and either stand by or lead; drain on SIGTERM.

Every controller connects, keeps its view of the sites warm (KV, then heartbeats) and competes for
the leader lease (controller/leader.py). Only the leader serves `cephdr.ctl.*`, resumes unfinished
operations and runs the periodic loops (`leader_tasks`); on losing the lease it stops all of that
at once and stands by again, leaving its operations `running` in KV for the next leader.

Order matters when leading: sites are loaded from KV before serving (a request right after a
takeover must not see an empty fleet), and unfinished operations resume before new ones are
accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

import controller.service.all  # noqa: F401  (registers every endpoint on the router)
from agent.runtime import sdnotify
from bus import subjects
from bus.codec import encode
from bus.connect import PermissionLog, connect_config
from bus.jetstream import ensure_audit_stream, ensure_events_stream, lease_kv, state_kv, when_ready
from bus.outbox import Outbox
from bus.service import ServiceHost
from bus.version import cephdr_version
from controller.actions import Env
from controller.agents import Agents
from controller.autopilot import Autopilot
from controller.config import ControllerConfig
from controller.context import ControllerContext
from controller.leader import Leadership, new_holder_id
from controller.lease import Lease
from controller.metrics import Decisions
from controller.metrics_http import serve as serve_metrics
from controller.ops import machine, plans
from controller.runner import Runner
from controller.service.groups import new_op_id
from controller.service.registry import router
from controller.service.status import group_statuses
from controller.sites import Sites
from controller.store import LeaseStore, Store
from controller.view import alert_key
from schemas.ctl import Alert, AlertEvent
from schemas.policy import DecisionEvent
from schemas.status import Heartbeat

log = logging.getLogger(__name__)

# stopping the service must not hold up a step-down behind a dead connection
HOST_STOP_TIMEOUT = 5.0

class Controller:
    def __init__(self, cfg: ControllerConfig) -> None:
        self.cfg = cfg
        self.prefix = cfg.nats.prefix
        self.sites = Sites(timeout_s=cfg.controller.site_timeout)
        self.alerts: dict[str, dict[str, Alert]] = {}
        self.decisions = Decisions()  # counted for /metrics as they are published

    def ctl_prefix(self) -> str:
        return f"{self.prefix}.ctl"

    def emit(self, kind: str, event: Any) -> None:
        if isinstance(event, DecisionEvent):
            self.decisions.observe(event)
        self.outbox.put(f"{self.ctl_prefix()}.evt.{kind}", encode(event))

    def leader_tasks(self) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """What only the leader runs, besides serving: started on taking the lease, cancelled on
        losing it. One line per loop."""
        return [
            ("reconcile", self._reconcile_loop),
            ("alerts", self._alert_loop),
            ("autopilot", self._autopilot_loop),
        ]

    async def run(self, stop: asyncio.Event) -> None:
        cfg = self.cfg
        perms = PermissionLog()
        nc = await connect_config(cfg.nats, name="cephdr-controller", permissions=perms)
        self.nc = nc
        js = nc.jetstream(timeout=cfg.nats.request_timeout)
        await when_ready(lambda: ensure_events_stream(js, self.prefix), "the events stream")
        await when_ready(lambda: ensure_audit_stream(js, self.prefix), "the audit stream")
        store = Store(await when_ready(lambda: state_kv(js), "the state KV"))
        leases, ttl = await when_ready(lambda: lease_kv(js, cfg.controller.lease_ttl), "the lease KV")
        renew = cfg.controller.lease_renew
        if ttl != cfg.controller.lease_ttl:
            # the server expires leases with the bucket's TTL: reason with that one
            renew = min(renew, ttl / 3)
            log.warning(
                "KV %s expires leases after %gs, not lease_ttl = %gs: using %gs (renewing every %gs); "
                "delete the bucket while no controller runs to change it",
                subjects.LEASE_BUCKET, ttl, cfg.controller.lease_ttl, ttl, renew,
            )
        self.outbox = Outbox(nc, js)
        self.outbox.start()
        await self._load_sites(store)
        hb_sub = await nc.subscribe(f"{self.prefix}.evt.*.heartbeat", cb=self._on_heartbeat)

        self.holder = new_holder_id()
        self.leadership = Leadership(
            LeaseStore(leases),
            Lease(ttl, renew),
            self.holder,
            lead=self._lead,
            step_down=self._step_down,
            emit=lambda e: self.emit("leader", e),
        )
        agents = Agents(nc, prefix=self.prefix, timeout=cfg.controller.agent_timeout, permissions=perms)
        env = Env(agents=agents, store=store, sites=self.sites, poll_s=cfg.controller.poll_interval)
        self.runner = Runner(env, self.emit, is_leader=self.leadership.is_leader)
        self.ctx = ControllerContext(
            env=env, runner=self.runner, events_subject=f"{self.ctl_prefix()}.evt.op", leader=self.holder
        )
        self.host: ServiceHost[ControllerContext] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        # a standby is a healthy controller too: the watchdog follows the connection only
        sdnotify.ready(f"up as {self.holder}; {len(self.sites.names())} sites known")
        watchdog = asyncio.create_task(self._watchdog_loop(nc), name="watchdog")
        metrics = await serve_metrics(
            cfg.controller.metrics_listen,
            self.ctx,
            is_leader=self.leadership.is_leader,
            decisions=self.decisions,
            timeout=cfg.nats.request_timeout * 2,
        )
        try:
            # returns on `stop`, after stepping down and releasing the lease if it held it
            await self.leadership.run(stop)
        finally:
            sdnotify.stopping()
            watchdog.cancel()
            if metrics is not None:
                await metrics.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watchdog
            with contextlib.suppress(Exception):
                await hb_sub.unsubscribe()
            await self.outbox.flush(within=5)
            await self.outbox.stop()
            with contextlib.suppress(Exception):
                await nc.drain()

    async def _lead(self) -> None:
        """Just took the lease: serve, resume what the previous leader left, run the loops."""
        # what a standby saw of the fleet may be older than the heartbeats in KV
        await self._load_sites(self.ctx.store)
        resumed = await self.runner.resume_all()
        # a new host per term: one left half-stopped by a step-down on a dead connection stays out
        self.host = ServiceHost(
            self.nc,
            name="cephdr-controller",
            version=cephdr_version(),
            description="cephdr controller: protection groups, peering, failover and failback",
            prefix=self.ctl_prefix(),
            router=router,
            ctx=self.ctx,
            audit_service="ctl",
        )
        await self.host.start()
        log.info("serving %s.>; resumed %d operation(s)", self.ctl_prefix(), len(resumed))
        self.tasks = [asyncio.create_task(fn(), name=name) for name, fn in self.leader_tasks()]

    async def _step_down(self) -> None:
        """Lost or gave up the lease: stop acting. The runner refuses to write from the lease's
        end on (`is_leader`); here its tasks and the loops are cancelled before anything awaits."""
        tasks, self.tasks = self.tasks, []
        for t in tasks:
            t.cancel()
        # running operations stay `running` in KV: the next leader resumes them
        await self.runner.stop()
        host, self.host = self.host, None
        if host is not None:
            try:
                await asyncio.wait_for(host.stop(), HOST_STOP_TIMEOUT)
            except Exception as exc:
                log.warning("stopping the service: %s", exc)
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self.alerts.clear()
        log.warning("standing by: no longer serving %s.>", self.ctl_prefix())

    async def _load_sites(self, store: Store) -> None:
        for site in await store.heartbeat_sites():
            hb = await store.heartbeat(site)
            if hb is not None:
                self.sites.observe(hb, wall_age_s=max(0.0, time.time() - hb.sent_at))

    async def _on_heartbeat(self, msg: Any) -> None:
        try:
            hb = msgspec.json.decode(msg.data, type=Heartbeat)
        except msgspec.DecodeError as exc:
            log.warning("ignoring malformed heartbeat on %s: %s", msg.subject, exc)
            return
        if msg.subject != subjects.heartbeat_subject(hb.site, self.prefix):
            log.warning("ignoring heartbeat for %s published on %s", hb.site, msg.subject)
            return
        if self.sites.observe(hb):
            log.info("site %s: agent %s, key %s…", hb.site, hb.version, hb.public_key[:8])

    async def _autopilot_loop(self) -> None:
        await Autopilot(self.ctx, self.emit, interval=self.cfg.controller.auto_interval).run()

    async def _reconcile_loop(self) -> None:
        """Reconcile every idle group now and then: drift is repaired and reported as an event."""
        interval = self.cfg.controller.reconcile_interval
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                for g in await self.ctx.store.groups():
                    # a reconcile needs both sites; with one down it would only wait and then
                    # hold the group against the failover an operator is about to ask for
                    if g.active_op is None and all(self.sites.alive(s) for s in g.spec.sites):
                        op = machine.new_op(
                            new_op_id("reconcile"),
                            "reconcile",
                            g.spec.name,
                            plans.reconcile(g),
                            now=time.time(),
                            actor="controller:periodic",
                        )
                        with contextlib.suppress(Exception):
                            await self.runner.start(op)
            except Exception:
                log.exception("periodic reconcile failed")

    async def _alert_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.controller.alert_interval)
            try:
                await self.evaluate_alerts()
            except Exception as exc:
                log.warning("alert evaluation failed: %s", exc)

    async def evaluate_alerts(self) -> None:
        now = time.time()
        for gs in await group_statuses(self.ctx, None):
            new = {alert_key(a): a for a in gs.alerts}
            old = self.alerts.get(gs.group, {})
            for k, a in new.items():
                if k not in old:
                    self.emit("alert", AlertEvent(at=now, group=gs.group, raised=True, alert=a))
            for k, a in old.items():
                if k not in new:
                    self.emit("alert", AlertEvent(at=now, group=gs.group, raised=False, alert=a))
            self.alerts[gs.group] = new

    async def _watchdog_loop(self, nc: Any) -> None:
        interval = sdnotify.watchdog_interval()
        if interval is None:
            return
        while True:
            if bool(getattr(nc, "is_connected", False)):
                sdnotify.watchdog()
            else:
                log.warning("withholding watchdog ping: NATS disconnected")
            await asyncio.sleep(interval)


def serve(cfg: ControllerConfig) -> int:
    """Run until SIGTERM/SIGINT; exit 0 after a graceful drain."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Controller(cfg).run(stop)

    asyncio.run(main())
    return 0
