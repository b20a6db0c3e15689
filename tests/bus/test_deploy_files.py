"""The shipped deployment files are valid: agent and controller configs load, NATS configs pass the
real nats-server's own check (`nats-server -t`), the systemd units pass `systemd-analyze verify` and
score at most 2.0 ("OK") in `systemd-analyze security`, and docker-compose.yml passes
`docker-compose config -q` (the last two skip where the tool is not installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent import config as agent_config
from controller import config as controller_config
from lab.nats import server_binary

ROOT = Path(__file__).resolve().parents[2]
UNITS = ("cephdr-agent@.service", "cephdr-controller.service")
# where the units expect the install (README "Under systemd"); verify needs an executable there
INSTALLED_CEPHDR = "/opt/cephdr/venv/bin/cephdr"
MAX_EXPOSURE = 2.0


@pytest.mark.parametrize("path", sorted((ROOT / "deploy" / "agents").glob("*.toml")), ids=lambda p: p.name)
def test_agent_configs_load(path: Path) -> None:
    cfg = agent_config.load(path)
    assert path.stem.endswith(cfg.site)


@pytest.mark.parametrize("path", sorted((ROOT / "deploy" / "nats").glob("*.conf")), ids=lambda p: p.name)
def test_nats_configs_pass_nats_server_check(path: Path) -> None:
    cp = subprocess.run(
        [server_binary(), "-t", "-c", str(path)], capture_output=True, timeout=30, check=False
    )
    assert cp.returncode == 0, cp.stderr.decode() + cp.stdout.decode()


def test_controller_config_loads() -> None:
    cfg = controller_config.load(ROOT / "deploy" / "controller.toml")
    assert cfg.nats.servers == ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"]


def _analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return tool


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The units with ExecStart pointing at this venv's cephdr (verify checks that it is executable)."""
    cephdr = Path(sys.executable).with_name("cephdr")
    assert cephdr.exists(), cephdr
    for f in (ROOT / "systemd").iterdir():
        (tmp_path / f.name).write_text(f.read_text().replace(INSTALLED_CEPHDR, str(cephdr)))
    return tmp_path


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_unit_verifies(units: Path, unit: str) -> None:
    text = (ROOT / "systemd" / unit).read_text()
    assert f"ExecStart={INSTALLED_CEPHDR} " in text
    cp = subprocess.run([_analyze(), "verify", str(units / unit)], cwd=units, capture_output=True,
                        text=True, timeout=60, check=False)
    assert cp.returncode == 0 and not cp.stderr.strip(), cp.stderr + cp.stdout


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_unit_is_hardened(units: Path, unit: str) -> None:
    cp = subprocess.run([_analyze(), "security", "--offline=true", "--no-pager", str(units / unit)],
                        cwd=units, capture_output=True, text=True, timeout=60, check=False)
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", cp.stdout)
    assert m is not None, cp.stderr + cp.stdout
    assert float(m.group(1)) <= MAX_EXPOSURE and m.group(2) == "OK", m.group(0)


def test_controller_unit_has_no_ceph_access() -> None:
    text = (ROOT / "systemd" / "cephdr-controller.service").read_text()
    settings = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "Type=notify" in settings and "Restart=on-failure" in settings
    assert any(line.startswith("WatchdogSec=") for line in settings)
    assert "ExecStart=/opt/cephdr/venv/bin/cephdr controller --config /etc/cephdr/controller.toml" in settings
    # nothing of a Ceph host: its paths, its user/group, its targets
    ceph = re.compile(r"/(etc|run|var/lib|var/log)/ceph\b|=ceph\b|\bceph-[a-z-]+\.(target|service)")
    assert [line for line in settings if ceph.search(line)] == []


def test_docker_compose_config_is_valid() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed")
    cp = subprocess.run([tool, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], cwd=ROOT,
                        capture_output=True, text=True, timeout=60, check=False)
    assert cp.returncode == 0, cp.stderr + cp.stdout
    cp = subprocess.run([tool, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"], cwd=ROOT,
                        capture_output=True, text=True, timeout=60, check=False)
    assert "controller" in cp.stdout.split(), cp.stdout
