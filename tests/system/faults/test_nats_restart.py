"""Drill: the lab's nats-server killed -9 and restarted under the agents and the controller.

While the server is down, site-a changes (a pool's images become mirrored, made with the `rbd` CLI
as an application would); the agent sees them in a scan and queues the events in its outbox. Once
the server is back (same port, same JetStream store) every one of those events must be in the
events stream, each stored once, and commands through the controller and to the agent work again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import msgspec
import pytest
from faultkit import duplicates, kill_nats, last_seq, now, start_nats_on, stream_messages
from helpers import oracle
from helpers.ctl import Ctl
from helpers.lab_bus import lab_nats
from helpers.wait import WaitTimeout, async_wait_for, wait_for
from records import Book, Trial, trials

from bus.client import request
from lab import agents as lab_agents
from lab.model import LabInfo
from schemas.ctl import SiteList
from schemas.status import ImageEvent, SiteStatus

pytestmark = pytest.mark.system

IMAGES_PER_TRIAL = 3
SUBJECT = "cephdr.evt.site-a.rbd.image"


def log_mentions(path: Path, offset: int, text: str) -> bool:
    with open(path, "rb") as f:
        f.seek(offset)
        return text.encode() in f.read()


async def events_for(lab: LabInfo, after: int) -> tuple[set[str], list[bytes]]:
    reader = await lab_nats(lab, "controller")
    try:
        msgs = await stream_messages(reader, SUBJECT, after)
    finally:
        await reader.close()
    payloads = [d for _, _, d in msgs]
    return {msgspec.json.decode(d, type=ImageEvent).image for d in payloads}, payloads


async def one_trial(lab: LabInfo, t: int) -> Trial:
    sa = lab.site("site-a")
    log_file = lab_agents.agents_dir(Path(lab.dir)) / "site-a.log"
    # a pool not mirrored yet (the agent does not scan it) with journaled images: enabling
    # pool-mode mirroring makes all of them mirrored at once, so one scan sees them all
    pool = oracle.unique_name("nr")
    names = {oracle.unique_name(f"nr{t}x{i}") for i in range(IMAGES_PER_TRIAL)}
    oracle.ceph(sa, "osd", "pool", "create", pool, "8", "8")
    oracle.rbd(sa, "pool", "init", pool)
    for img in names:
        oracle.rbd(sa, "create", "--size", "4M", "--image-feature", "exclusive-lock,journaling",
                   f"{pool}/{img}")
    try:
        reader = await lab_nats(lab, "controller")
        before = await last_seq(reader)
        await reader.close()
        port = kill_nats(lab)
        try:
            oracle.rbd(sa, "mirror", "pool", "enable", pool, "pool")
            offset = log_file.stat().st_size
            # a scan after the change had events to store and could not: they wait in the outbox
            wait_for(lambda: log_mentions(log_file, offset, "KV put site.site-a.status failed"),
                     timeout=60, interval=0.5, what="a scan with events while NATS is down")
        finally:
            back = now()
            start_nats_on(lab, port)
        nc = await lab_nats(lab, "operator")
        try:
            fresh = Ctl(nc)  # the test's own connection may have given up during the outage

            async def commands() -> bool:
                sites: SiteList = await fresh.req("site.list", timeout=5)
                st = await request(nc, "cephdr.agent.site-a.status", {"fresh": True}, reply=SiteStatus,
                                   timeout=30)
                return bool(sites.sites) and st.cluster_reachable

            await async_wait_for(commands, timeout=120, interval=0.5, what="commands to work again")
            recover = now() - back
        finally:
            await nc.close()

        async def all_stored() -> bool:
            return names <= (await events_for(lab, before))[0]

        with contextlib.suppress(WaitTimeout):
            await async_wait_for(all_stored, timeout=60, interval=1, what="the queued events")
        seen, payloads = await events_for(lab, before)
        lost, dup = len(names - seen), duplicates(payloads)
        return Trial(passed=lost == 0 and dup == 0, lost=lost, duplicated=dup, recover_s=recover,
                     note=f"{len(payloads)} image events stored after the restart")
    finally:
        with contextlib.suppress(oracle.CliError):
            oracle.rbd(sa, "mirror", "pool", "disable", pool)
            oracle.ceph(sa, "osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it")


async def test_nats_restart_under_the_agents_loses_no_event(lab: LabInfo, book: Book) -> None:
    drill = book.drill("nats-restart", "nats-server kill -9 + restart: events queued meanwhile stored once; "
                                       "commands resume")
    for t in range(trials("nats-restart")):
        drill.trials.append(await one_trial(lab, t))
    failed = [tr for tr in drill.trials if not tr.passed]
    assert not failed, failed
