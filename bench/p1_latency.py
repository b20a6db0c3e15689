"""P1: per-operation latency, a cephdr request (NATS -> agent -> librbd) against the `rbd` CLI.

Three operations on one snapshot-mirrored image of the lab's `rbd` pool, primary on site-a:
image status, demote + promote of the image on site-a (it ends primary where it started), and
pool info. Each round runs every (operation, side) once, the sides in alternating order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bench import ceph_setup
from bench.labenv import A, B, Lab, poll, rid, timed
from bench.stats import Row, Target, round_order
from lab.drill_ceph import cluster
from schemas.common import Done
from schemas.rbd import PoolMirrorInfo
from schemas.status import ImageStatus

log = logging.getLogger(__name__)

POOL = "rbd"
IMAGE = "bench-p1"
TARGET = Target("faster", 20.0)
CLI = "rbd CLI"
OURS = "cephdr"


async def setup(lab: Lab) -> None:
    """The image exists, is mirrored, primary on site-a, and site-b has replayed it: a demote while
    site-b's rbd-mirror still syncs the last snapshot waited more than the agent's 15 s deadline
    on the lab (rbd-mirror takes the primary image's lock to unlink its peer from old snapshots).
    A run interrupted between demote and promote leaves the image non-primary on both sites: it
    is promoted back here."""
    a, b = lab.info.site(A), lab.info.site(B)
    await asyncio.wait_for(asyncio.to_thread(ceph_setup.create_images, a, POOL, [IMAGE], 16, mirror=True), 60)

    async def ready() -> bool:
        if not (await asyncio.to_thread(ceph_setup.primaries, a, POOL)).get(IMAGE):
            if not (await asyncio.to_thread(ceph_setup.primaries, b, POOL)).get(IMAGE):
                await lab.agent(A, "rbd.image.promote", {"request_id": rid(), "pool": POOL, "image": IMAGE},
                                Done)
            return False
        return not await asyncio.to_thread(ceph_setup.synced, a, b, POOL, [IMAGE], A)

    await poll(ready, 300, f"{POOL}/{IMAGE} primary on {A} and replayed on {B}", 1.0)


DEMOTE_PROMOTE = "demote+promote one image"
FLOOR = "librbd in-process floor (the calls the agent makes, no NATS, no agent)"


def operations(lab: Lab, c: Any) -> dict[str, dict[str, Callable[[], Awaitable[object]]]]:
    spec = f"{POOL}/{IMAGE}"

    def floor(fn: Callable[..., None], *args: str) -> Callable[[], Awaitable[None]]:
        return lambda: asyncio.to_thread(fn, c, *args)

    async def ours_demote_promote() -> None:
        d = await lab.agent(A, "rbd.image.demote", {"request_id": rid(), "pool": POOL, "image": IMAGE}, Done)
        p = await lab.agent(A, "rbd.image.promote", {"request_id": rid(), "pool": POOL, "image": IMAGE}, Done)
        if not (d.changed and p.changed):
            raise RuntimeError(f"demote+promote changed nothing: {d.message}; {p.message}")

    async def cli_demote_promote() -> None:
        await lab.rbd(A, "mirror", "image", "demote", spec)
        await lab.rbd(A, "mirror", "image", "promote", spec)

    return {
        "image status": {
            OURS: lambda: lab.agent(A, "rbd.image.status", {"pool": POOL, "image": IMAGE}, ImageStatus),
            CLI: lambda: lab.rbd_json(A, "mirror", "image", "status", spec),
            FLOOR: floor(ceph_setup.floor_status, POOL, IMAGE),
        },
        DEMOTE_PROMOTE: {
            OURS: ours_demote_promote,
            CLI: cli_demote_promote,
            FLOOR: floor(ceph_setup.floor_demote_promote, POOL, IMAGE),
        },
        "pool info": {
            OURS: lambda: lab.agent(A, "rbd.pool.info", {"pool": POOL}, PoolMirrorInfo),
            CLI: lambda: lab.rbd_json(A, "mirror", "pool", "info", POOL),
            FLOOR: floor(ceph_setup.floor_pool_info, POOL),
        },
    }


async def run(lab: Lab, rounds: int, say: Callable[[str], None]) -> list[Row]:
    await setup(lab)
    with cluster(lab.info.site(A)) as c:
        return await _measure(operations(lab, c), rounds, say)


async def _measure(ops: dict[str, dict[str, Callable[[], Awaitable[object]]]], rounds: int,
                   say: Callable[[str], None]) -> list[Row]:
    rows = {name: Row("P1", name, OURS, CLI, "ms", TARGET) for name in ops}
    for name, sides in ops.items():  # one unrecorded call each: imports, first connections
        for side, fn in sides.items():
            try:
                await fn()
            except Exception as exc:
                rows[name].errors.append(f"warm-up {side}: {exc}")
    for i in range(rounds):
        for name, sides in ops.items():
            for side in round_order(list(sides), i):
                try:
                    took, _ = await timed(sides[side])
                except Exception as exc:
                    rows[name].errors.append(f"round {i} {side}: {exc}")
                    continue
                row = rows[name]
                if side == OURS:
                    samples = row.ours_samples
                elif side == CLI:
                    samples = row.anchor_samples
                else:
                    samples = row.refs.setdefault(side, [])
                samples.append(round(took * 1000, 3))
        say(f"P1 round {i + 1}/{rounds} done")
    rows[DEMOTE_PROMOTE].note = (
        "demote then promote on site-a, the image ends primary where it started; "
        "cephdr = two requests, CLI = two rbd processes")
    return list(rows.values())
