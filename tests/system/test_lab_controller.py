"""The lab's controller: `lab up` starts it after the agents, it serves `cephdr.ctl.*` and knows
both sites from their agents' heartbeats; killed (-9) it is gone from the bus, and `lab.controller
.start` brings back one that answers again; SIGTERM drains it and it exits by itself.

Real: the lab's nats-server, agents and `cephdr controller` process (lab/controller.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from helpers.lab_bus import lab_nats
from helpers.wait import async_wait_for, wait_for
from nats.aio.client import Client as NATS

from bus.client import request
from controller import config as controller_config
from lab import controller as lab_controller
from lab import model, procs, runner
from lab.model import LabInfo
from schemas.ctl import ListSites, SiteList
from schemas.errors import Unavailable

pytestmark = pytest.mark.system

SITE_LIST = "cephdr.ctl.site.list"
# agents heartbeat every 2 s and the lab controller calls a site dead after 10 s of silence: both
# sites are alive within a few heartbeats of the controller serving (slack for a loaded machine)
ALIVE_WITHIN = 60.0


@pytest.fixture
async def nc(lab: LabInfo) -> AsyncIterator[NATS]:
    client = await lab_nats(lab, "operator")
    yield client
    await client.close()


@pytest.fixture
def lab_dir(lab: LabInfo) -> Iterator[Path]:
    """The lab's directory; whatever a test did to the controller, it runs again afterwards."""
    d = Path(lab.dir)
    assert lab.controller is not None, "the lab runs no controller (was it brought up with --no-agents?)"
    yield d
    if lab_controller.running_pid(d) is None:
        lab_controller.start(model.load(d))


async def site_list(nc: NATS) -> SiteList:
    return await request(nc, SITE_LIST, ListSites(), reply=SiteList, timeout=10)


async def both_sites_alive(nc: NATS, lab: LabInfo) -> SiteList | None:
    sites = await site_list(nc)
    alive = {s.site for s in sites.sites if s.alive}
    return sites if alive >= {s.name for s in lab.sites} else None


async def test_lab_runs_a_controller_that_knows_both_sites(lab: LabInfo, lab_dir: Path, nc: NATS) -> None:
    pid = lab_controller.running_pid(lab_dir)
    assert pid is not None
    recorded = model.load(lab_dir).controller
    assert recorded is not None and recorded.pid == pid
    cfg = controller_config.load(recorded.config)
    assert cfg.nats.servers == [lab.nats_url]
    assert cfg.controller.site_timeout == 10 and cfg.controller.poll_interval == 1

    st = runner.status(lab_dir)
    assert st["controller"]["alive"] and st["controller"]["pid"] == pid and st["controller"]["rss"]
    assert runner.status_ok(st)

    sites = await async_wait_for(lambda: both_sites_alive(nc, lab), timeout=ALIVE_WITHIN, interval=1,
                                 what="both lab sites alive in cephdr.ctl.site.list")
    by_name = {s.site: s for s in sites.sites}
    for s in lab.sites:
        assert by_name[s.name].public_key, f"{s.name}: no public key learnt from its heartbeat"


async def test_killed_controller_restarts_and_answers_again(
    lab: LabInfo, lab_dir: Path, nc: NATS
) -> None:
    old = lab_controller.running_pid(lab_dir)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: not procs.alive(old), timeout=30, interval=0.1, what=f"controller pid {old} gone")

    assert lab_controller.running_pid(lab_dir) is None
    assert "cephdr controller is not running" in runner.problems(lab_dir)
    st = runner.status(lab_dir)
    assert not st["controller"]["alive"] and not runner.status_ok(st)

    async def nobody_serves() -> bool:
        try:
            await site_list(nc)
        except Unavailable as e:  # no responders: nothing else serves the subject
            return "nobody serves" in str(e)
        return False

    await async_wait_for(nobody_serves, timeout=30, interval=0.2, what="no responder on cephdr.ctl.site.list")

    ci = await asyncio.to_thread(lab_controller.start, model.load(lab_dir))
    assert ci.pid != old and procs.alive(ci.pid)
    assert lab_controller.running_pid(lab_dir) == ci.pid
    assert model.load(lab_dir).controller == ci  # lab.json follows the restart
    assert not runner.problems(lab_dir)

    # sites are loaded from KV before it serves: its first answer already names both
    first = await site_list(nc)
    assert {s.site for s in first.sites} >= {s.name for s in lab.sites}
    await async_wait_for(lambda: both_sites_alive(nc, lab), timeout=ALIVE_WITHIN, interval=1,
                         what="both lab sites alive after the restart")


async def test_sigterm_drains_and_stop_start_cycle(lab: LabInfo, lab_dir: Path, nc: NATS) -> None:
    pid = lab_controller.running_pid(lab_dir)
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    # it exits by itself (no SIGKILL) within the time `lab down` gives it
    wait_for(lambda: not procs.alive(pid), timeout=lab_controller.STOP_TIMEOUT, interval=0.1,
             what=f"controller pid {pid} to drain and exit on SIGTERM")
    assert lab_controller.find_pids(lab_dir) == []

    ci = await asyncio.to_thread(lab_controller.start, model.load(lab_dir))
    await async_wait_for(lambda: both_sites_alive(nc, lab), timeout=ALIVE_WITHIN, interval=1,
                         what="both lab sites alive after a drain and start")
    # stop(): SIGTERM, SIGKILL fallback, strays by command line; the pid file goes with it
    await asyncio.to_thread(lab_controller.stop, lab_dir)
    assert not procs.alive(ci.pid)
    assert lab_controller.running_pid(lab_dir) is None and lab_controller.find_pids(lab_dir) == []
