"""`cephdr demo` (what `make demo` runs) end to end against the lab: real Ceph, NATS, agents and
controller. The group is the shipped deploy/demo/group.toml with unique names (so a reused lab
never holds it already); everything else is the demo as a user runs it, including its `cephdr`
subprocesses. `--cleanup` deletes the group at the end so the lab's CephFS is free for other groups
(a file system belongs to one group).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import oracle

from cli.apply_cmd import load_spec
from lab.demo import GROUP_FILE
from lab.model import LabInfo

pytestmark = pytest.mark.system

PROGRESS = re.compile(r"^\[\s*[0-9.hms]+\]\s+\d+/\d+ done\s+\S", re.M)


def test_the_demo_protects_a_group_fails_it_over_and_back_live(lab: LabInfo, tmp_path: Path) -> None:
    name = oracle.unique_name("dm").lower()[:20]  # not "demo...": the file is rewritten by text
    text = GROUP_FILE.read_text()
    text = text.replace('"demo"', f'"{name}"').replace('"demo-', f'"{name}-').replace('"/demo"', f'"/{name}"')
    group_file = tmp_path / "group.toml"
    group_file.write_text(text)
    spec = load_spec(str(group_file))
    assert spec.name == name and {m.mode for m in spec.rbd} == {"snapshot", "journal"} and spec.fs
    images = [f"{m.pool}/{i}" for m in spec.rbd for i in m.images]

    cp = subprocess.run(
        [
            str(Path(sys.executable).parent / "cephdr"),
            "demo",
            "--dir",
            lab.dir,
            "--group-file",
            str(group_file),
            "--cleanup",
        ],
        env={**os.environ, "CEPHDR_LAB_DIR": lab.dir},
        capture_output=True,
        text=True,
        timeout=1800,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    out = cp.stdout
    assert cp.returncode == 0, f"exit {cp.returncode}\nstdout:\n{out}\nstderr:\n{cp.stderr[-4000:]}"
    for i in images:
        assert f"image {i} created on site-a" in out
    assert f"mirrored: every member of {name} is on both sites, site-a primary" in out
    assert re.search(rf"^{re.escape(name)}\s+ok\s+site-a\s", out, re.M), "cephdr status shows the group"
    assert re.search(rf"planned_failover of {re.escape(name)} SUCCEEDED \(site-a -> site-b\)", out)
    assert re.search(rf"planned_failover of {re.escape(name)} SUCCEEDED \(site-b -> site-a\)", out)
    assert len(PROGRESS.findall(out)) >= 20, "live progress of both failovers"
    assert "RPO: 0" in out and "what to try next" in out and "nats --server" in out
    assert f"group {name} deleted" in out
    # Ceph agrees: every image primary on site-a again, none on site-b
    for i in images:
        assert oracle.rbd(lab.site("site-a"), "info", i, json=True)["mirroring"]["primary"] is True
        assert oracle.rbd(lab.site("site-b"), "info", i, json=True)["mirroring"]["primary"] is False
