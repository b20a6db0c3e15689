"""`cephdr drill`: a failover drill on the lab, measuring RTO, RPO and the failback time.

1. a fresh pool on both sites, N images on site-a, protection group NAME applied through the
   controller (two-way, primary site-a), every image replaying on site-b (and, in snapshot mode,
   queued by rbd_support, so the schedule really runs during the writes);
2. the writer (lab/drill_writer.py) writes numbered, timestamped records to every image;
3. planned: `cephdr.ctl.failover`; the writer stops when the demote makes the images read-only.
   unplanned: kill -9 of site-a's Ceph daemons, its agent and the writer (a power cut), then,
   once the controller sees site-a down, a forced failover;
4. RTO: from the request (planned) or the kill (unplanned) until every image is primary on site-b
   and takes a write there; RPO: records site-a acknowledged that site-b lacks (read back);
5. failback: site-a restored, then `cephdr.ctl.failback` (unplanned) or a planned failover back;
6. the lab is put back: the group deleted, schedules removed, the pool deleted on both sites.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from lab import agents as lab_agents
from lab import drill_ceph, drill_data, drill_lab, model, runner
from lab.cmd import LabError
from lab.drill_report import DrillReport, ImageRpo, Kind, Phase, image_rpo, worst
from schemas.errors import CephDRError, Conflict, DeadlineExceeded, NotFound, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
A, B = "site-a", "site-b"
SETUP_TIMEOUT = 600.0  # mirroring of fresh images, rbd_support's first refresh (up to a minute)
OP_TIMEOUT = 1200.0  # one controller operation (a failback resyncs and replays every image)
RTO_TIMEOUT = 600.0
REQ_TIMEOUT = 30.0


@dataclass(frozen=True)
class DrillOptions:
    group: str
    kind: Kind
    images: int = 4
    mode: Literal["snapshot", "journal"] = "snapshot"
    interval: str = "1m"
    write_for: float = 60.0  # seconds of writes before the failover request or the fault
    size_mib: int = 256
    period: float = 0.1  # seconds between the writer's rounds


async def poll(
    probe: Callable[[], Awaitable[T | None]], timeout: float, what: str, interval: float = 1.0
) -> T:
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            got = await probe()
            if got:
                return got
            last = got
        except Unavailable as exc:  # a controller or agent that is restarting: ask again
            last = exc
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"timed out after {timeout:.0f}s waiting for {what}; last: {last}",
                                   where=what)
        await asyncio.sleep(interval)


class Drill:
    def __init__(self, lab_dir: Path, opts: DrillOptions, say: Callable[[str], None]) -> None:
        self.lab_dir = lab_dir.resolve()
        self.opts = opts
        self.say = say
        try:
            self.info = model.load(self.lab_dir)
        except (OSError, ValueError) as exc:
            raise Unavailable(f"no lab at {self.lab_dir}: {exc}", where=str(self.lab_dir)) from None
        self.sites = {s.name: s for s in runner.existing_sites(self.lab_dir, self.info)}
        self.pool = f"drill-{opts.group}-{secrets.token_hex(3)}"
        self.names = [f"{opts.group}-{i:02d}" for i in range(opts.images)]
        self.run_id = os.urandom(drill_data.RUN_ID_LEN)
        self.phases: list[Phase] = []
        self.notes: list[str] = []
        self.op_ids: dict[str, str] = {}
        self.nc: Any = None
        self.writer: drill_lab.Writer | None = None
        self.killed = False
        self.group_created = False
        self.pools: list[str] = []  # sites where the drill made its pool
        self.old_primary: dict[str, drill_data.Loss] = {}  # planned: site-a's records after the demote

    # ------------------------------------------------------------------ plumbing
    async def ctl(self, name: str, reply: type[T], timeout: float = REQ_TIMEOUT, **body: Any) -> T:
        from bus.client import request

        return await request(self.nc, f"cephdr.ctl.{name}", body, reply=reply, timeout=timeout)

    async def blocking(self, what: str, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """A blocking lab or librbd call in a thread, under a deadline (their own timeouts are
        shorter, so the thread ends soon after)."""
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout)
        except TimeoutError:
            raise DeadlineExceeded(f"{what}: no answer after {timeout:.0f}s", where=what) from None
        except LabError as exc:
            raise Unavailable(f"{what}: {exc.describe()}", where=what) from None

    def phase(self, name: str, since: float, note: str = "") -> float:
        took = time.time() - since
        self.phases.append(Phase(name=name, seconds=round(took, 3), note=note))
        self.say(f"{name}: {took:.1f}s" + (f" ({note})" if note else ""))
        return took

    async def run_op(self, accepted_op: str, what: str) -> Any:
        from schemas.ctl import OpRecord

        async def finished() -> OpRecord | None:
            op = await self.ctl("op.get", OpRecord, op_id=accepted_op)
            return op if op.state != "running" else None

        op = await poll(finished, OP_TIMEOUT, f"operation {accepted_op} ({what})")
        if op.state != "succeeded":
            failed = next((s for s in op.steps if s.state == "failed"), None)
            raise Conflict(f"{what} {op.op_id} {op.state}: {op.message}", where=what,
                           details={"op_id": op.op_id, "step": failed.name if failed else None})
        return op

    async def site_alive(self, site: str, alive: bool) -> bool:
        from schemas.ctl import SiteList

        sites = await self.ctl("site.list", SiteList)
        return any(s.site == site and s.alive == alive for s in sites.sites)

    async def replaying(self, primary: str) -> bool:
        """Every image primary on `primary` and replaying on the other site, as the agents say."""
        from schemas.ctl import FleetStatus

        other = B if primary == A else A
        st = await self.ctl("status", FleetStatus, group=self.opts.group)
        g = st.groups[0]
        rbd = [m for m in g.members if m.kind == "rbd"]
        return g.primary == primary and len(rbd) == len(self.names) and all(
            m.sites.get(primary) is not None and m.sites[primary].role == "primary"
            and m.sites.get(other) is not None and m.sites[other].state == "replaying"
            for m in rbd
        )

    # ------------------------------------------------------------------ the drill
    async def run(self) -> DrillReport:
        from bus.connect import connect_config

        if runner.problems(self.lab_dir):
            raise Unavailable(f"the lab is not healthy: {'; '.join(runner.problems(self.lab_dir))}",
                              where=str(self.lab_dir))
        if self.info.controller is None:
            raise Conflict("the lab runs no controller (brought up with --no-agents)",
                           where=str(self.lab_dir))
        try:
            self.nc = await connect_config(self.info.nats_config("operator"), name="cephdr-drill",
                                           forever=False)
        except Exception as exc:
            raise Unavailable(f"cannot connect to {self.info.nats_url}: {exc}",
                              where=self.info.nats_url) from None
        started = time.time()
        try:
            await self.refuse_existing_group()
            try:
                rto, per_image, failback = await self.body()
            finally:
                problems = await self.cleanup()
        finally:
            await self.nc.close()
        if problems:
            raise Unavailable(f"the drill ran but the lab was not fully restored: {'; '.join(problems)}",
                              where="cleanup", details={"phases": [p.name for p in self.phases]})
        return DrillReport(
            group=self.opts.group, kind=self.opts.kind, mode=self.opts.mode, interval=self.opts.interval,
            images=len(self.names), pool=self.pool, survivor=B, started_at=started, finished_at=time.time(),
            write_for_s=self.opts.write_for,
            records_acked=sum(i.acked for i in per_image), rto_s=round(rto, 3), rpo=worst(per_image),
            failback_s=round(failback, 3), phases=self.phases, per_image=per_image, op_ids=self.op_ids,
            lab_healthy=not runner.problems(self.lab_dir), notes=self.notes,
        )

    async def refuse_existing_group(self) -> None:
        from schemas.group import GroupRecord

        try:
            await self.ctl("group.get", GroupRecord, group=self.opts.group)
        except NotFound:
            return
        raise Conflict(f"group {self.opts.group} exists; a drill makes its own group and never touches "
                       "an existing one: choose another name", where="$.group")

    async def body(self) -> tuple[float, list[ImageRpo], float]:
        await self.setup()
        t = time.time()
        await asyncio.sleep(self.opts.write_for)
        self.phase("writes before the failover", t)
        if self.opts.kind == "planned":
            rto = await self.planned()
        else:
            rto = await self.unplanned()
        per_image = await self.read_back()
        failback = await self.failback()
        return rto, per_image, failback

    async def setup(self) -> None:
        from schemas.ctl import GroupApplied

        o, a = self.opts, self.sites[A]
        t = time.time()
        for name in (A, B):
            await self.blocking(f"create pool {self.pool} on {name}", drill_lab.create_pool, self.sites[name],
                                self.pool, timeout=120)
            self.pools.append(name)
        await self.blocking("create images", drill_lab.create_images, a, self.pool, self.names, o.size_mib,
                            o.mode, timeout=60 + 10 * len(self.names))
        spec = {"name": o.group, "sites": [A, B], "primary": A, "two_way": True,
                "schedule": {"interval": o.interval},
                "rbd": [{"pool": self.pool, "images": self.names, "mode": o.mode}]}
        self.group_created = True  # (refuse_existing_group made sure it was not someone else's)
        applied = await self.ctl("group.apply", GroupApplied, request_id=rid("drill-apply"), spec=spec,
                                 actor="cephdr-drill")
        if applied.op_id:
            await self.run_op(applied.op_id, "apply")
        await poll(lambda: self.replaying(A), SETUP_TIMEOUT, "every image replaying on site-b", 2)
        if o.mode == "snapshot":
            async def queued() -> bool:
                got = await self.blocking("schedule status", drill_lab.scheduled_images, a, self.pool,
                                          timeout=90)
                return got >= set(self.names)

            await poll(queued, SETUP_TIMEOUT, "rbd_support to schedule every image", 5)
        self.phase("setup (pool, images, group, replay)", t)
        info = self.info.site(A)
        self.writer = await drill_lab.start_writer(
            info.conf, info.keyring, self.pool, self.names, self.run_id,
            max_records=drill_lab.record_area(o.size_mib), period=o.period, timeout=60,
            log_file=self.lab_dir / "drill" / f"{o.group}-writer.log",
        )
        self.writer.started_at = time.time()

    async def wait_writable(self, since: float) -> float:
        """Every image primary and writable on site-b: the seconds since `since`."""
        probe = (self.opts.size_mib * drill_lab.MIB) - drill_data.BLOCK
        deadline = time.monotonic() + RTO_TIMEOUT
        ready = await self.blocking("survivor writable", drill_ceph.poll_writable, self.info.site(B),
                                    self.pool, self.names, probe, deadline, timeout=RTO_TIMEOUT + 30)
        if len(ready) < len(self.names):
            left = sorted(set(self.names) - set(ready))
            raise DeadlineExceeded(f"not primary and writable on {B} after {RTO_TIMEOUT:.0f}s: {left}",
                                   where="rto")
        return max(ready.values()) - since

    async def planned(self) -> float:
        from schemas.common import Accepted

        t0 = time.time()
        acc = await self.ctl("failover", Accepted, request_id=rid("drill-fo"), group=self.opts.group)
        self.op_ids["failover"] = acc.op_id
        rto = await self.wait_writable(t0)
        self.phases.append(Phase(name="failover request -> all writable on site-b (RTO)",
                                 seconds=round(rto, 3)))
        self.say(f"RTO {rto:.1f}s")
        w = self.writer
        assert w is not None
        # the demote made every image read-only: the writer stops by itself
        try:
            await asyncio.wait_for(w.done.wait(), 60)
        except TimeoutError:
            self.notes.append("the writer was still writing to site-a after the failover")
        await w.finish(10)
        # what the demoted site-a holds, before it replays from site-b: tells an acknowledged
        # write that never reached a disk from one that landed after the demotion snapshot
        self.old_primary = await self.records(A)
        await self.run_op(acc.op_id, "planned failover")
        self.phase("failover request -> operation succeeded", t0)
        return rto

    async def unplanned(self) -> float:
        from schemas.common import Accepted

        w = self.writer
        assert w is not None
        site = self.sites[A]
        agent = lab_agents.running_pid(self.lab_dir, A)
        t0 = time.time()
        # the power cut: every Ceph daemon of site-a, its agent, and the application
        for pid in [*site.all_pids(), *([agent] if agent else [])]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.killed = True
        w.kill()
        await w.finish(10)
        self.say(f"site-a killed at {time.strftime('%H:%M:%S', time.localtime(t0))}")
        await poll(lambda: self.site_alive(A, False), 120, "the controller to see site-a down")
        self.phase("fault -> controller sees site-a down", t0)
        t1 = time.time()
        acc = await self.ctl("failover", Accepted, request_id=rid("drill-ffo"), group=self.opts.group,
                             force=True, confirm=self.opts.group)
        self.op_ids["failover"] = acc.op_id
        rto = await self.wait_writable(t0)
        self.phases.append(Phase(name="forced failover request -> all writable",
                                 seconds=round(rto - (t1 - t0), 3)))
        self.phases.append(Phase(name="fault -> all writable on site-b (RTO)", seconds=round(rto, 3)))
        self.say(f"RTO {rto:.1f}s")
        await self.run_op(acc.op_id, "forced failover")
        self.phase("forced failover request -> operation succeeded", t1)
        return rto

    async def records(self, site: str) -> dict[str, drill_data.Loss]:
        """Each image's records on `site` against what the writer saw acknowledged."""
        w = self.writer
        assert w is not None
        # a few records past the last acknowledged one: writes in flight at the fault may be there
        counts = {n: w.acks.get(i, drill_data.Acked()).last_k + 1 + 16 for i, n in enumerate(self.names)}
        blocks = await self.blocking(f"read back {site}", drill_ceph.read_all, self.info.site(site),
                                     self.pool, counts, timeout=300)
        return {
            name: drill_data.loss(blocks[name], self.run_id, i, w.acks.get(i, drill_data.Acked()),
                                  w.started_at)
            for i, name in enumerate(self.names)
        }

    async def read_back(self) -> list[ImageRpo]:
        survivor = await self.records(B)
        for name, old in self.old_primary.items():
            new = survivor[name]
            if old.consistent_upto > new.consistent_upto:
                self.notes.append(
                    f"{name}: the demoted site-a holds records up to {old.consistent_upto}, site-b up to "
                    f"{new.consistent_upto}: acknowledged writes landed after the demotion snapshot"
                )
            elif old.missing:
                self.notes.append(f"{name}: site-a itself lacks {old.missing} acknowledged record(s)")
        return [image_rpo(name, lost) for name, lost in survivor.items()]

    async def failback(self) -> float:
        from schemas.common import Accepted

        if self.killed:
            t = time.time()
            await self.restore()
            self.killed = False
            await poll(lambda: self.site_alive(A, True), 120, "the controller to see site-a alive")
            self.phase("restore site-a (lab up, agent heartbeats)", t)
            t0 = time.time()
            acc = await self.ctl("failback", Accepted, request_id=rid("drill-fb"), group=self.opts.group)
        else:
            t = time.time()
            await poll(lambda: self.replaying(B), SETUP_TIMEOUT, "site-a replaying from site-b", 2)
            self.phase("site-a replaying from site-b", t)
            t0 = time.time()
            acc = await self.ctl("failover", Accepted, request_id=rid("drill-back"), group=self.opts.group,
                                 to=A)
        self.op_ids["failback"] = acc.op_id
        await self.run_op(acc.op_id, "failback")
        ok = await self.blocking("site-a primary", drill_ceph.poll_primaries, self.info.site(A), self.pool,
                                 self.names, time.monotonic() + 120, timeout=150)
        if not ok:
            raise DeadlineExceeded(f"after the failback, not every image is primary on {A}", where="failback")
        return self.phase("failback request -> every image primary on site-a", t0)

    # ------------------------------------------------------------------ putting the lab back
    async def cleanup(self) -> list[str]:
        """Everything the drill made goes, whatever happened; what could not be undone, said."""
        problems: list[str] = []
        t = time.time()
        if self.writer is not None and self.writer.proc.returncode is None:
            self.writer.kill()
            with contextlib.suppress(Exception):
                await self.writer.finish(10)
        try:
            if self.killed or runner.problems(self.lab_dir):
                await self.restore()
            if self.group_created:
                await self.delete_group()
            for name in self.pools:
                site = self.sites[name]
                n = await self.blocking(f"schedules on {name}", drill_lab.remove_schedules, site, self.pool,
                                        timeout=120)
                log.debug("removed %d schedule(s) on %s", n, name)
            for name in self.pools:
                await self.blocking(f"delete pool on {name}", drill_lab.delete_pool, self.sites[name],
                                    self.pool, timeout=120)
        except CephDRError as exc:
            problems.append(str(exc))
        left = runner.problems(self.lab_dir)
        if left:
            problems.append(f"lab not healthy: {'; '.join(left)}")
        if self.pools:
            self.phase("clean up (group, schedules, pool)", t)
        return problems

    async def restore(self) -> None:
        """`lab up` restarts what the power cut killed. Once more if it fails: on a peered lab its
        peering step can reach a just-restarted mgr before the `mirroring` module is loaded (seen:
        ENOTSUP from `fs snapshot mirror enable`), and every step of `up` is idempotent."""
        try:
            await self.blocking("restore site-a (lab up)", runner.up, self.lab_dir, timeout=600)
        except Unavailable as exc:
            self.notes.append(f"lab up failed once, retried: {exc.message.splitlines()[0]}")
            await asyncio.sleep(10)
            await self.blocking("restore site-a (lab up)", runner.up, self.lab_dir, timeout=600)

    async def delete_group(self) -> None:
        from schemas.common import Done
        from schemas.group import GroupRecord

        async def idle() -> bool:
            rec = await self.ctl("group.get", GroupRecord, group=self.opts.group)
            return rec.active_op is None

        async def deleted() -> bool:
            with contextlib.suppress(Conflict):  # busy: the periodic reconcile took it meanwhile
                await self.ctl("group.delete", Done, request_id=rid("drill-del"), group=self.opts.group,
                               confirm=self.opts.group)
                return True
            return False

        with contextlib.suppress(NotFound):
            await poll(idle, OP_TIMEOUT, f"group {self.opts.group} idle")
            await poll(deleted, 300, f"group {self.opts.group} deleted")


def rid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


async def run_drill(lab_dir: Path, opts: DrillOptions, say: Callable[[str], None]) -> DrillReport:
    return await Drill(lab_dir, opts, say).run()
