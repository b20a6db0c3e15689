"""`lab up` from nothing, `up` again, `down`, and a failing `up`, each on a lab of its own.


These bring up extra Ceph clusters (about 650 MB RSS, 20-30 s each) next to the session lab.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from pathlib import Path

import pytest

from lab import controller as lab_controller
from lab import ports, procs, runner
from lab.cmd import LabError
from lab.conf import short_run_root

pytestmark = pytest.mark.system



log = logging.getLogger(__name__)


def fresh_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def assert_nothing_left(lab_dir: Path, pids: list[int]) -> None:
    assert not lab_dir.exists()
    assert not short_run_root(lab_dir).exists()
    assert [p for p in pids if procs.alive(p)] == []
    assert procs.find_lab_processes(f"{lab_dir}/") == []
    # agents and the controller are python processes: found by their lab config on the command line
    assert lab_controller.find_pids(lab_dir) == []
    assert [p for p in map(int, filter(str.isdigit, os.listdir("/proc")))
            if procs.alive(p) and f"{lab_dir}/" in " ".join(procs.cmdline(p))] == []


def test_up_from_nothing_up_again_and_down(tmp_path: Path) -> None:
    lab_dir = fresh_dir("cephdr-lifecycle-")
    pids: list[int] = []
    try:
        t0 = time.monotonic()
        info = runner.up(lab_dir)
        # reported, not asserted: timing belongs to `make bench` and the issue note
        log.info("lab up from nothing took %.1fs", time.monotonic() - t0)
        assert info.controller is not None
        pids = [info.nats_pid, *(d.pid for s in info.sites for d in s.daemons), *(a.pid for a in info.agents),
                info.controller.pid]
        assert len(pids) == 1 + 2 * 6 + 2 + 1
        assert lab_controller.running_pid(lab_dir) == info.controller.pid
        assert all(procs.alive(p) for p in pids)
        assert not info.peered

        # up twice is a no-op: nothing restarted, the same description
        again = runner.up(lab_dir)
        assert again == info
        assert all(procs.alive(p) for p in pids)
    finally:
        runner.down(lab_dir)
    assert_nothing_left(lab_dir, pids)


def test_failed_up_names_the_daemon_and_cleans_up() -> None:
    lab_dir = fresh_dir("cephdr-failing-")
    base = ports.allocate(lab_dir)
    # something else holds site-a's mon port: ceph-mon gives up after 3 bind attempts
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports.site_ports(base, 0).mon_v2))
        squatter.listen()
        with pytest.raises(LabError) as err:
            runner.up(lab_dir)
    e = err.value
    assert e.daemon == "site-a mon.a"
    assert any("Address already in use" in line for line in e.log_tail), e.describe()
    assert_nothing_left(lab_dir, [])
