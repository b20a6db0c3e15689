"""System tests: the two-site lab, all real.

Real: two Ceph Pacific clusters (site-a, site-b: mon, mgr, osd on bluestore, mds each) on 127.0.0.1, the `rbd`
pool in mirror mode image, the `cephfs` filesystem, rbd-mirror and cephfs-mirror on both sites, RBD peered
two-way and CephFS peered a -> b, and a nats-server with JetStream. Nothing is faked; the `rbd`/`ceph` CLIs
serve as the independent oracle (tests/helpers/oracle.py).

The session fixture `lab` reuses the lab at $CEPHDR_LAB_DIR when every daemon of it runs and both sites
answer (a developer keeps one up with `cephdr lab up --dir X --peered` and iterates fast; peering is added
if missing); otherwise it brings one up in a fresh temp dir and takes it down at the end of the session (set
CEPHDR_LAB_KEEP=1 to keep it). The issue-2 proofs need mirroring, so this fixture peers the sites itself
(`peered=True`); later, peering is the product's job.

Each test makes its own image and directory names (helpers.oracle.unique_name).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import model, runner
from lab.model import LabInfo, SiteInfo

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def lab() -> Iterator[LabInfo]:
    env_dir = os.environ.get("CEPHDR_LAB_DIR")
    if env_dir and (Path(env_dir) / model.LAB_FILE).exists() and not runner.problems(Path(env_dir)) \
            and runner.status_ok(runner.status(Path(env_dir))):
        log.info("reusing the lab at %s", env_dir)
        yield runner.up(Path(env_dir), peered=True)  # a no-op unless peering is missing
        return
    lab_dir = Path(tempfile.mkdtemp(prefix="cephdr-test-lab-"))
    info = runner.up(lab_dir, peered=True)
    try:
        yield info
    finally:
        if os.environ.get("CEPHDR_LAB_KEEP"):
            log.warning("keeping the lab at %s (CEPHDR_LAB_KEEP)", lab_dir)
        else:
            runner.down(lab_dir)


@pytest.fixture(scope="session")
def site_a(lab: LabInfo) -> SiteInfo:
    return lab.site("site-a")


@pytest.fixture(scope="session")
def site_b(lab: LabInfo) -> SiteInfo:
    return lab.site("site-b")


@pytest.fixture(scope="session")
def clusters(lab: LabInfo) -> Iterator[dict[str, Any]]:
    """One connected rados.Rados per site (librados gives up after 30 s instead of hanging)."""
    import rados

    conns: dict[str, Any] = {}
    try:
        for s in lab.sites:
            c = rados.Rados(conffile=s.conf, conf={"rados_mon_op_timeout": "30", "rados_osd_op_timeout": "30",
                                                   "client_mount_timeout": "30"})
            c.connect(timeout=30)
            conns[s.name] = c
        yield conns
    finally:
        for c in conns.values():
            c.shutdown()
