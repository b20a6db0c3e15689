"""A manager that answers after the caller's deadline must not take the agent down.

librados' `mgr_command` gives up after `rados_mon_op_timeout` without withdrawing the command, and
the mgr's late answer then completes freed memory: the process dies in `ms_dispatch` (SIGSEGV).
The lab showed it when a returning site's mgr answered a schedule command late. The stall runs in
a child process so a crash is an exit status here, not a dead pytest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from lab.model import LabInfo

REPO = Path(__file__).resolve().parents[3]

# Real CephCluster, real mgr (frozen with SIGSTOP for longer than librados' own mon-op timeout).
CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys, time
    from agent.ceph.cluster import CephCluster
    from agent.ceph.executor import CephExecutor
    from agent.config import Timeouts
    from schemas.errors import DeadlineExceeded, Unavailable

    conf, keyring, mgr_pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    LS = {"prefix": "rbd mirror snapshot schedule list", "level_spec": ""}

    async def main():
        c = CephCluster(conffile=conf, keyring=keyring, executor=CephExecutor(max_workers=2),
                        timeouts=Timeouts(mon_op=2.0), mgr_max_pending=1)
        await c.mgr_json(LS, deadline=10)  # both handles up while the mgr is healthy
        os.kill(mgr_pid, signal.SIGSTOP)
        try:
            try:
                await c.mgr_json(LS, deadline=1.0)
                print("FAIL: a frozen mgr answered")
                return 1
            except DeadlineExceeded:
                pass
            try:
                await c.mgr_json(LS, deadline=1.0)
                print("FAIL: a second mgr command was let through while one is still waiting")
                return 1
            except Unavailable as e:
                print("bounded:", e.message)
            print("mon still answers:", await c.probe(deadline=5))
            time.sleep(4.0)  # past rados_mon_op_timeout (2 s): where librados used to give up
        finally:
            os.kill(mgr_pid, signal.SIGCONT)
        for _ in range(300):  # the late answer arrives and is absorbed
            if c.mgr_lane.pending == 0:
                break
            await asyncio.sleep(0.1)
        print("pending after the mgr woke:", c.mgr_lane.pending)
        await c.mgr_json(LS, deadline=30)
        time.sleep(1.0)
        print("OK")
        return 0

    sys.exit(asyncio.run(main()))
    """
)


def test_a_late_mgr_answer_after_the_deadline_is_absorbed(lab: LabInfo) -> None:
    site = lab.site("site-b")
    mgr = next(d for d in site.daemons if d.name.startswith("mgr."))
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, site.conf, site.keyring, str(mgr.pid)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.kill(mgr.pid, signal.SIGCONT)  # whatever happened in the child, the mgr runs again
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"child exited {proc.returncode}:\n{out}"
    assert "mon still answers: True" in out, out
    assert "pending after the mgr woke: 0" in out, out
    assert out.rstrip().endswith("OK"), out
