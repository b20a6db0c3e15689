"""P3: a status scan of N mirrored images, the agent's scan against `rbd mirror pool status
--verbose --format json`.

The pool `bench-p3-<N>` lives on site-a only (no peer: nothing replicates, which keeps the lab's
two cores for the measurement); its N images are snapshot-mirror-enabled, so both scans list the
same N entries. Ours is `cephdr.agent.site-a.status {"fresh": true}`: a full scan of the site
(every mirrored pool, daemons, schedules, file systems, the peer probe), normalised, diffed and
returned over NATS. The anchor reads one pool. The in-process floor is the agent's own pool read
(`agent.ceph.rbd_scan._read`) on a connection kept open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bench import ceph_setup
from bench.labenv import A, Lab, timed
from bench.stats import Row, Target, round_order
from lab.drill_ceph import cluster
from schemas.status import SiteStatus

log = logging.getLogger(__name__)

TARGET = Target("at_most", 1.0)
OURS, CLI = "cephdr agent scan", "rbd mirror pool status -v"
FLOOR = "agent pool read in-process (rbd_scan._read, no NATS)"


def pool_name(n: int) -> str:
    return f"bench-p3-{n}"


async def setup(lab: Lab, n: int, say: Callable[[str], None]) -> None:
    pool = pool_name(n)
    await lab.create_pool(A, pool, "image")
    names = [f"img-{i:04d}" for i in range(n)]
    made = await asyncio.wait_for(
        asyncio.to_thread(ceph_setup.create_images, lab.info.site(A), pool, names, 4, mirror=True), 60 + n)
    say(f"P3 {pool}: {made} image(s) created, {n} mirror-enabled")


async def measure(lab: Lab, n: int, rounds: int, c: Any) -> Row:
    from agent.ceph import rbd_scan

    pool = pool_name(n)
    row = Row("P3", f"status scan, {n} images", OURS, CLI, "ms", TARGET)

    async def ours() -> None:
        st = await lab.agent(A, "status", {"fresh": True}, SiteStatus, timeout=120)
        got = sum(1 for i in st.images if i.pool == pool)
        if got != n:
            raise RuntimeError(f"the agent's scan lists {got} image(s) of {pool}, not {n}")

    async def anchor() -> None:
        out = await lab.rbd_json(A, "mirror", "pool", "status", pool, "--verbose")
        if len(out.get("images", [])) != n:
            raise RuntimeError(f"rbd mirror pool status lists {len(out.get('images', []))} image(s), not {n}")

    async def floor() -> None:
        read = await asyncio.to_thread(rbd_scan._read, c, pool)
        if len(read.statuses) != n:
            raise RuntimeError(f"the pool read found {len(read.statuses)} status(es), not {n}")

    sides: dict[str, Callable[[], Any]] = {OURS: ours, CLI: anchor, FLOOR: floor}
    for fn in sides.values():  # unrecorded: the first scan after the images appeared announces them
        await fn()
    for i in range(rounds):
        for side in round_order(list(sides), i):
            try:
                took, _ = await timed(sides[side])
            except Exception as exc:
                row.errors.append(f"round {i} {side}: {exc}")
                continue
            ms = round(took * 1000, 3)
            if side == OURS:
                row.ours_samples.append(ms)
            elif side == CLI:
                row.anchor_samples.append(ms)
            else:
                row.refs.setdefault(side, []).append(ms)
    row.note = ("ours = the whole site (all mirrored pools, daemons, schedules, file systems, peer probe) "
                "over NATS; the CLI reads this one pool")
    return row


async def run(lab: Lab, ns: list[int], rounds: int, say: Callable[[str], None], *, keep: bool) -> list[Row]:
    rows = []
    with cluster(lab.info.site(A), 60) as c:
        for n in ns:
            try:
                await setup(lab, n, say)
                rows.append(await measure(lab, n, rounds, c))
                say(f"P3 {n} images done")
            finally:
                if not keep:
                    await lab.delete_pool(A, pool_name(n))
    return rows
