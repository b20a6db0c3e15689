"""Drill: a site's monitors stop answering (SIGSTOP: the sockets stay open and nothing replies, the
hardest case for a deadline) while requests reach its agent.

Every request sent to the agent meanwhile, all at once, must be answered (a reply or a structured
error from the agent) within the deadline the controller gives one agent request
(`[controller] agent_timeout`): each reply time is measured against that deadline, as a check of the
deadline, not as a speed claim. The agent's status must say the cluster is unreachable and why, and
once the monitors run again the agent must recover by itself (no restart).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faultkit import cont, now, stop
from helpers.lab_bus import lab_nats
from helpers.wait import async_wait_for
from nats.aio.client import Client as NATS
from records import Book, Trial, trials

import agent.service.all  # noqa: F401  (registers the endpoints: reply types)
from agent.service.registry import router
from bus.client import request
from controller.config import ControllerSection
from lab.model import LabInfo
from schemas.errors import CephDRError, DeadlineExceeded
from schemas.status import SiteStatus

pytestmark = pytest.mark.system

SITE = "site-b"
DEADLINE = ControllerSection().agent_timeout
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {}),
    ("status", {"fresh": True}),
    ("rbd.pool.info", {"pool": "rbd"}),
    ("rbd.peer.list", {"pool": "rbd"}),
    ("rbd.image.status", {"pool": "rbd", "image": "no-such-image"}),
    ("rbd.schedule.list", {"pool": "rbd"}),
    ("fs.peer.list", {"fs": "cephfs"}),
]


async def timed(nc: NATS, name: str, body: dict[str, Any]) -> tuple[str, float, str]:
    """(endpoint, seconds to the reply, outcome); outcome "unanswered" when the deadline passed
    with no reply from the agent."""
    subject = f"cephdr.agent.{SITE}.{name}"
    t0 = now()
    try:
        await request(nc, subject, body, reply=router.endpoints[name].reply, timeout=DEADLINE)
        outcome = "ok"
    except DeadlineExceeded as e:
        outcome = "unanswered" if e.message.startswith("no reply on") else f"{e.code}: {e.message[:80]}"
    except CephDRError as e:
        outcome = f"{e.code}: {e.message[:80]}"
    return name, now() - t0, outcome


async def agent_status(nc: NATS, fresh: bool) -> SiteStatus:
    subject = f"cephdr.agent.{SITE}.status"
    return await request(nc, subject, {"fresh": fresh}, reply=SiteStatus, timeout=DEADLINE)


async def one_trial(lab: LabInfo, nc: NATS) -> Trial:
    mons = [d.pid for d in lab.site(SITE).daemons if d.name.startswith("mon.")]
    assert mons, f"no monitor of {SITE} in the lab description"
    for pid in mons:
        stop(pid)
    try:
        results = await asyncio.gather(*(timed(nc, n, b) for n, b in REQUESTS))

        async def says_why() -> SiteStatus | None:
            st = await agent_status(nc, fresh=False)
            return st if not st.cluster_reachable and st.errors else None

        why = await async_wait_for(says_why, timeout=2 * DEADLINE, interval=1, what="status to say why")
    finally:
        for pid in mons:
            cont(pid)
    back = now()

    async def recovered() -> bool:
        st = await agent_status(nc, fresh=True)
        return st.cluster_reachable and not st.errors

    await async_wait_for(recovered, timeout=180, interval=1, what=f"the agent of {SITE} to recover")
    recover = now() - back
    unanswered = [r for r in results if r[2] == "unanswered" or r[1] > DEADLINE]
    worst = max(r[1] for r in results)
    return Trial(
        passed=not unanswered, lost=len(unanswered), recover_s=recover,
        note=f"{len(results)} requests, slowest {worst:.1f}s of a {DEADLINE:g}s deadline; status: "
             f"{why.errors[0][:100]}; " + "; ".join(f"{n} {t:.1f}s {o[:40]}" for n, t, o in results),
    )


async def test_requests_to_an_agent_whose_monitors_stopped_answer_within_their_deadline(
    lab: LabInfo, book: Book
) -> None:
    drill = book.drill("mon-stop", "a site's mons SIGSTOPped: each agent request answered within its "
                                   "deadline, status says why, recovers by itself")
    nc = await lab_nats(lab, "controller")
    try:
        for _ in range(trials("mon-stop")):
            drill.trials.append(await one_trial(lab, nc))
    finally:
        await nc.close()
    failed = [t for t in drill.trials if not t.passed]
    assert not failed, failed
