"""Controller workflows on the lab, through controller requests only: every action below is a
request on `cephdr.ctl.*` served by the lab's `cephdr controller` process, which drives the lab's
real agents, which drive real Ceph. Nothing is faked.

The test side touches Ceph only as an oracle or as "the application": it creates pools and images
(the product never creates data), writes data through librbd/libcephfs, and reads checksums with
the `rbd` CLI. It kills processes the way a failure would (kill -9) to stage crashes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from helpers.ctl import Ctl
from helpers.lab_bus import lab_nats

from lab.model import LabInfo


@pytest.fixture(scope="session")
async def ctl(lab: LabInfo) -> AsyncIterator[Ctl]:
    assert lab.controller is not None, "the lab runs no controller (brought up with --no-agents?)"
    nc = await lab_nats(lab, "operator")
    yield Ctl(nc)
    await nc.close()
