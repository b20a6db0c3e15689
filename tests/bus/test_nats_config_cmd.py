"""`cephdr nats-config` as a user runs it: the real command, the real nats-server's own config
check (`nats-server -t`) on a config that includes what it wrote. No server runs, no Ceph."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lab.nats import server_binary

ROOT = Path(__file__).resolve().parents[2]


def nats_config(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "nats-config", *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)


def test_generates_a_valid_server_config_and_private_seeds(tmp_path: Path) -> None:
    out = tmp_path / "nats"
    cp = nats_config("--out", str(out), "--sites", "site-a,site-b", "--tls", "--tls-host", "nats-1",
                     "--tls-host", "10.0.0.1")
    assert cp.returncode == 0, cp.stderr
    roles = {"agent-site-a", "agent-site-b", "controller", "operator", "chatops", "viewer"}
    assert {p.stem for p in out.glob("*.nk")} == roles  # no tap unless asked
    for seed in out.glob("*.nk"):
        assert seed.stat().st_mode & 0o777 == 0o600
        assert seed.read_text().strip() not in cp.stdout + cp.stderr
        assert seed.read_text().startswith("SU")
    conf = tmp_path / "server.conf"
    conf.write_text(f'listen: 127.0.0.1:4222\njetstream {{ store_dir: "{tmp_path}/js" }}\n'
                    'include "nats/auth.conf"\ninclude "nats/tls.conf"\n')
    check = subprocess.run([server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True,
                           timeout=30, check=False)
    assert check.returncode == 0, check.stderr + check.stdout


def test_running_it_again_keeps_the_keys(tmp_path: Path) -> None:
    assert nats_config("--out", str(tmp_path), "--sites", "site-a").returncode == 0
    before = (tmp_path / "operator.nk").read_bytes()
    cp = nats_config("--out", str(tmp_path), "--sites", "site-a,site-c")
    assert cp.returncode == 0, cp.stderr
    assert (tmp_path / "operator.nk").read_bytes() == before
    assert (tmp_path / "agent-site-c.nk").exists()
    assert "agent-site-c" in (tmp_path / "auth.conf").read_text()


def test_bad_site_names_are_refused(tmp_path: Path) -> None:
    cp = nats_config("--out", str(tmp_path), "--sites", "Site_A")
    assert cp.returncode == 2 and "bad --sites" in cp.stderr
    assert not list(tmp_path.glob("*.nk"))
