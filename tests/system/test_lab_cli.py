"""The lab as the issue describes it: `cephdr lab status --json`, daemons, modules, pool, users and caps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.oracle import ceph, rbd

from lab.model import LabInfo

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]


def cephdr(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, check=False)


def test_status_json(lab: LabInfo) -> None:
    cp = cephdr("lab", "status", "--json", "--dir", lab.dir)
    assert cp.returncode == 0, cp.stderr
    st = json.loads(cp.stdout)
    scheme = "tls" if lab.tls_dir else "nats"  # `lab up --tls`: mutual TLS
    assert st["nats_url"] == lab.nats_url and st["nats_url"].startswith(f"{scheme}://127.0.0.1:")
    assert st["nats"]["alive"] and st["nats"]["rss"] > 0
    # least-privilege NATS identities by default: one nkey seed per role, readable by its owner only
    roles = {"agent-site-a", "agent-site-b", "controller", "operator", "chatops", "viewer"}
    assert roles <= set(st["credentials"])
    for role, path in st["credentials"].items():
        assert path == lab.creds(role) and Path(path).name == f"{role}.nk"
        assert Path(path).stat().st_mode & 0o777 == 0o600, path
    assert [s["name"] for s in st["sites"]] == ["site-a", "site-b"]
    for s, info in zip(st["sites"], lab.sites, strict=True):
        assert s["conf"] == info.conf and Path(s["conf"]).exists()
        assert s["keyring"] == info.keyring and "[client.admin]" in Path(s["keyring"]).read_text()
        assert s["health"] in ("HEALTH_OK", "HEALTH_WARN")
        letter = s["name"][-1]
        names = {d["name"] for d in s["daemons"]}
        assert names == {"mon.a", "mgr.x", "osd.0", "mds.a", f"client.rbd-mirror.{letter}",
                         f"client.cephfs-mirror.{letter}"}
        for d in s["daemons"]:
            assert d["alive"] and d["pid"] > 0 and d["rss"] > 0, d


def test_up_again_is_a_noop(lab: LabInfo) -> None:
    before = json.loads(cephdr("lab", "status", "--json", "--dir", lab.dir).stdout)
    cp = cephdr("lab", "up", "--dir", lab.dir, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert "already up" in cp.stderr
    after = json.loads(cephdr("lab", "status", "--json", "--dir", lab.dir).stdout)
    pids = [[d["pid"] for d in s["daemons"]] for s in before["sites"]]
    assert pids == [[d["pid"] for d in s["daemons"]] for s in after["sites"]]


def test_sites_as_the_issue_describes(lab: LabInfo) -> None:
    for s in lab.sites:
        mods = ceph(s, "mgr", "module", "ls", json=True)
        assert {"mirroring", "snap_schedule"} <= set(mods["enabled_modules"])
        assert "rbd_support" in mods["always_on_modules"]
        assert ceph(s, "config", "get", "mgr", "mgr/snap_schedule/allow_m_granularity").strip() == "true"
        pools = {p["pool_name"]: p for p in ceph(s, "osd", "pool", "ls", "detail", json=True)}
        assert "rbd" in pools["rbd"]["application_metadata"]
        assert rbd(s, "mirror", "pool", "info", "rbd", json=True)["mode"] == "image"
        assert rbd(s, "mirror", "pool", "info", "rbd", json=True)["site_name"] == s.name
        assert [f["name"] for f in ceph(s, "fs", "ls", json=True)] == ["cephfs"]
        letter = s.name[-1]
        caps = ceph(s, "auth", "get", f"client.rbd-mirror.{letter}", json=True)[0]["caps"]
        assert caps == {"mon": "profile rbd-mirror", "osd": "profile rbd"}
        caps = ceph(s, "auth", "get", f"client.cephfs-mirror.{letter}", json=True)[0]["caps"]
        assert caps == {"mon": "profile cephfs-mirror", "mds": "allow r", "mgr": "allow r",
                        "osd": "allow rw tag cephfs metadata=*, allow r tag cephfs data=*"}
        # fixed admin sockets, short enough for AF_UNIX
        assert s.rbd_mirror_asok and os.path.exists(s.rbd_mirror_asok) and len(s.rbd_mirror_asok) < 107
        assert s.cephfs_mirror_asok and os.path.exists(s.cephfs_mirror_asok)
    peers = rbd(lab.site("site-b"), "mirror", "pool", "info", "rbd", json=True)["peers"]
    assert [(p["site_name"], p["direction"]) for p in peers] == [("site-a", "rx-tx")]
