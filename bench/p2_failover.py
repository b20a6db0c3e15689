"""P2: bulk planned failover of N snapshot-mirrored images, site-a -> site-b.

Three ways to move N images, each round in rotated order, each from the same start (every image
primary on site-a, site-b replaying and holding site-a's latest mirror snapshot) to the same end
(every image primary on site-b, non-primary on site-a; checked through librbd after each run):

- cephdr: `cephdr.ctl.failover` of a protection group, until `op.get` says the operation ended
  (it includes its own checks, the fencing epoch, the role verification and waiting for site-a
  to replay from site-b: see the per-step medians in the notes);
- Ceph's own bulk commands: `rbd mirror pool demote` on site-a, then `rbd mirror pool promote` on
  site-b, repeated every 0.5 s until every image is primary there (a promote is refused until
  the demotion has replicated: that wait is part of any planned switch);
- a per-image CLI loop: `rbd mirror image demote` of each image on site-a, then `rbd mirror image
  promote` of each on site-b, refused ones retried after 0.5 s.

The Ceph variants run on a twin pool (same count, size, mode) outside any group: an agent fences
(demotes) group members that are promoted behind the controller's back, as it should. Between
rounds each pool is moved back to site-a (not measured) and waits for replay to catch up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import ceph_setup
from bench.labenv import A, B, CliFailed, Lab, poll, rid
from bench.stats import Row, Target, median, round_order
from schemas.common import Accepted, Done
from schemas.ctl import OpRecord
from schemas.errors import Conflict, NotFound

log = logging.getLogger(__name__)

OURS, POOL_CMDS, LOOP = "cephdr failover", "rbd mirror pool demote+promote", "per-image rbd CLI loop"
RETRY_S = 0.5
SYNC_TIMEOUT = 900.0
OP_TIMEOUT = 1800.0
SIZE_MIB = 16


def names(n: int) -> list[str]:
    return [f"img-{i:04d}" for i in range(n)]


class Twin:
    """The group's pool and the twin pool of the Ceph variants, for N images."""

    def __init__(self, lab: Lab, n: int) -> None:
        self.lab, self.n = lab, n
        self.group = f"bench-p2-{n}"
        self.gpool = f"bench-p2-{n}"
        self.rpool = f"bench-p2-{n}-raw"
        self.names = names(n)

    # ------------------------------------------------------------------ set-up and checks
    async def setup(self, say: Callable[[str], None]) -> None:
        # images are mirror-enabled only once their pool has its peer: enabled before, their first
        # mirror snapshot names no peer and site-b's rbd-mirror never reported a local status
        # for them (seen on the lab: `status not found` on site-b for 15 min). Both pools are
        # peered and enabled here in parallel (the group's apply then finds them done): the
        # controller enables one image at a time, about 1 s each.
        lab, a = self.lab, self.lab.info.site(A)
        for pool in (self.gpool, self.rpool):
            for site in (A, B):
                await lab.create_pool(site, pool, "image")
            await lab.peer_pool(pool)
            made = await asyncio.wait_for(asyncio.to_thread(
                ceph_setup.create_images, a, pool, self.names, SIZE_MIB, mirror=True), 120 + self.n)
            say(f"P2 {pool}: {made} image(s) created")
        spec = {"name": self.group, "sites": [A, B], "primary": A, "two_way": True,
                "schedule": {"interval": "1h"},
                "rbd": [{"pool": self.gpool, "images": self.names, "mode": "snapshot"}]}
        try:
            rec = await lab.ctl("group.get", {"group": self.group})
        except NotFound:
            rec = None
        if rec is not None and rec.get("primary") != A:
            await self.cephdr_move(A)
        applied = await lab.ctl("group.apply", {"request_id": rid("bench-apply"), "spec": spec,
                                                "actor": "cephdr-bench"}, timeout=60)
        if applied.get("op_id"):
            op = await self.wait_op(applied["op_id"])
            if op.state != "succeeded":
                raise Conflict(f"applying group {self.group}: {op.state}: {op.message}", where="setup")
        # a leftover from an interrupted run may have left the twin on site-b
        if not all((await self.roles(self.rpool, A)).values()):
            await self.pool_cmds_move(B, A)

    async def roles(self, pool: str, site: str) -> dict[str, bool]:
        site_info = self.lab.info.site(site)
        return await asyncio.wait_for(asyncio.to_thread(ceph_setup.primaries, site_info, pool), 60)

    async def all_primary_on(self, pool: str, site: str) -> list[str]:
        """Images not (yet) primary on `site` and non-primary on the other; empty = done."""
        other = B if site == A else A
        here, there = await self.roles(pool, site), await self.roles(pool, other)
        return [n for n in self.names if not here.get(n) or there.get(n, True)]

    async def wait_synced(self, pool: str, primary: str) -> float:
        a, b = self.lab.info.site(A), self.lab.info.site(B)
        t = time.monotonic()

        async def ok() -> bool:
            bad = await asyncio.wait_for(
                asyncio.to_thread(ceph_setup.synced, a, b, pool, self.names, primary),
                                         120)
            return not bad

        await poll(ok, SYNC_TIMEOUT, f"{pool}: every image primary on {primary}, replayed and idle", 2.0)
        return time.monotonic() - t

    # ------------------------------------------------------------------ the three ways
    async def wait_op(self, op_id: str) -> OpRecord:
        async def ended() -> OpRecord | None:
            op: OpRecord = await self.lab.ctl("op.get", {"op_id": op_id}, OpRecord)
            return op if op.state != "running" else None

        return await poll(ended, OP_TIMEOUT, f"operation {op_id}", 0.2)

    async def cephdr_move(self, to: str) -> OpRecord:
        acc = await self.lab.ctl("failover", {"request_id": rid("bench-fo"), "group": self.group, "to": to,
                                              "actor": "cephdr-bench"}, Accepted)
        op = await self.wait_op(acc.op_id)
        if op.state != "succeeded":
            failed = next((s for s in op.steps if s.state == "failed"), None)
            at = failed.name if failed else "?"
            raise Conflict(f"failover {op.op_id} {op.state} at {at}: {op.message}",
                           where="cephdr")
        return op

    async def pool_cmds_move(self, src: str, dst: str) -> None:
        await self.lab.rbd(src, "mirror", "pool", "demote", self.rpool, timeout=600)
        while True:
            try:
                await self.lab.rbd(dst, "mirror", "pool", "promote", self.rpool, timeout=600)
            except CliFailed as exc:  # some images' demotion not replicated yet
                log.debug("pool promote: %s", exc)
            if not await self.all_primary_on(self.rpool, dst):
                return
            await asyncio.sleep(RETRY_S)

    async def loop_move(self, src: str, dst: str) -> None:
        for n in self.names:
            await self.lab.rbd(src, "mirror", "image", "demote", f"{self.rpool}/{n}", timeout=120)
        left = list(self.names)
        while left:
            refused = []
            for n in left:
                try:
                    await self.lab.rbd(dst, "mirror", "image", "promote", f"{self.rpool}/{n}", timeout=120)
                except CliFailed:
                    refused.append(n)
            left = refused
            if left:
                await asyncio.sleep(RETRY_S)


async def run_n(lab: Lab, n: int, rounds: int, loop_rounds: int, say: Callable[[str], None]) -> list[Row]:
    tw = Twin(lab, n)
    await tw.setup(say)
    case = f"failover of {n} images"
    vs_pool = Row("P2", case, OURS, POOL_CMDS, "s", Target("at_most", 1.0))
    vs_loop = Row("P2", case, OURS, LOOP, "s", Target("faster", 10.0))
    switch = f"{case}, switch only"
    sw_pool = Row("P2", switch, OURS, POOL_CMDS, "s", Target("at_most", 1.0))
    sw_loop = Row("P2", switch, OURS, LOOP, "s", Target("faster", 10.0))
    steps: dict[str, list[float]] = {}
    to_primary: list[float] = []

    async def ours() -> None:
        t0 = time.time()
        op = await tw.cephdr_move(B)
        for s in op.steps:
            if s.started_at and s.finished_at:
                steps.setdefault(s.name, []).append(s.finished_at - s.started_at)
        promoted = [s.finished_at for s in op.steps if s.action == "rbd.promote" and s.finished_at]
        if promoted:
            to_primary.append(round(max(promoted) - t0, 3))

    async def back_ours() -> None:
        await tw.cephdr_move(A)

    variants: dict[str, tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]], str]] = {
        OURS: (ours, back_ours, tw.gpool),
        POOL_CMDS: (lambda: tw.pool_cmds_move(A, B), lambda: tw.pool_cmds_move(B, A), tw.rpool),
        LOOP: (lambda: tw.loop_move(A, B), lambda: tw.pool_cmds_move(B, A), tw.rpool),
    }
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for i in range(rounds):
        order = [v for v in round_order(list(variants), i) if v != LOOP or i < loop_rounds]
        for name in order:
            move, back, pool = variants[name]
            await tw.wait_synced(pool, A)
            t = time.perf_counter()
            try:
                await move()
            except Exception as exc:
                (vs_loop if name == LOOP else vs_pool).errors.append(f"round {i} {name}: {exc}")
                log.exception("P2 %s", name)
            took = time.perf_counter() - t
            wrong = await tw.all_primary_on(pool, B)
            if wrong:
                (vs_loop if name == LOOP else vs_pool).errors.append(
                    f"round {i} {name}: {len(wrong)} image(s) not primary on {B} afterwards, "
                    f"e.g. {wrong[:3]}")
            else:
                samples[name].append(round(took, 3))
            say(f"P2 N={n} round {i + 1}/{rounds} {name}: {took:.1f}s")
            await tw.wait_synced(pool, B)
            await back()
    for r in (vs_pool, vs_loop):
        r.ours_samples = samples[OURS]
    vs_pool.anchor_samples = sw_pool.anchor_samples = samples[POOL_CMDS]
    vs_loop.anchor_samples = sw_loop.anchor_samples = samples[LOOP]
    sw_pool.ours_samples = sw_loop.ours_samples = to_primary
    slow = sorted(((median(v) or 0.0, k) for k, v in steps.items()), reverse=True)[:4]
    vs_pool.note = ("until the operation ended; its slowest steps (median s): "
                    + ", ".join(f"{k} {m:.1f}" for m, k in slow))
    sw_pool.note = ("cephdr from the request to the end of its promote step (every image primary on "
                    "site-b), the point where the Ceph variants stop their clocks")
    if loop_rounds < rounds:
        vs_loop.note = f"the CLI loop ran in the first {loop_rounds} round(s) only (it is the slow one)"
    return [vs_pool, sw_pool, vs_loop, sw_loop]


async def run(lab: Lab, ns: list[int], rounds: int, say: Callable[[str], None], *, keep: bool,
              loop_rounds: int = 1) -> list[Row]:
    rows = []
    for n in ns:
        tw = Twin(lab, n)
        try:
            rows += await run_n(lab, n, rounds, min(rounds, loop_rounds), say)
        finally:
            if not keep:
                await cleanup(lab, tw)
    return rows


async def remove_schedules(lab: Lab, site: str, pool: str) -> None:
    """Before the pool goes: rbd_support stops scheduling in EVERY pool when a pool it has
    schedules for disappears (README, "Ceph behaviour worth knowing")."""
    if not await lab.pool_exists(site, pool):
        return
    found = await lab.rbd_json(site, "mirror", "snapshot", "schedule", "ls", "--pool", pool, "--recursive")
    for e in found or []:
        where = ["--image", e["image"].split("/")[-1]] if e.get("image") else []
        await lab.rbd(site, "mirror", "snapshot", "schedule", "rm", "--pool", pool, *where)


async def cleanup(lab: Lab, tw: Twin) -> None:
    async def idle() -> bool:
        rec: dict[str, Any] = await lab.ctl("group.get", {"group": tw.group})
        return rec.get("active_op") is None

    try:
        await poll(idle, 600, f"group {tw.group} idle")
        await lab.ctl("group.delete",
                      {"request_id": rid("bench-del"), "group": tw.group, "confirm": tw.group},
                      Done, timeout=120)
    except NotFound:
        pass
    except Exception as exc:
        log.warning("P2: deleting group %s: %s", tw.group, exc)
    for site in (A, B):
        for pool in (tw.gpool, tw.rpool):
            try:
                await remove_schedules(lab, site, pool)
                await lab.delete_pool(site, pool)
            except Exception as exc:
                log.warning("P2: deleting pool %s on %s: %s", pool, site, exc)
