"""The shipped deployment files are valid: agent configs load, NATS configs pass the real
nats-server's own check (`nats-server -t`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent import config as agent_config
from lab.nats import server_binary

ROOT = Path(__file__).resolve().parents[2]


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
