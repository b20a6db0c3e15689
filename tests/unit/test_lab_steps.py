"""What `lab up` starts and in which order, the lab controller's config, and how the controller counts
in `lab status` (no lab is touched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from cli import lab_cmd
from lab import controller as lab_controller
from lab import runner
from lab.model import ControllerInfo, LabInfo


def test_controller_starts_after_the_agents() -> None:
    names = [n for n, _ in runner.up_steps(peered=True)]
    assert names == ["nats", "sites", "peering", "agents", "controller"]


def test_no_agents_means_no_controller() -> None:
    assert [n for n, _ in runner.up_steps(peered=False, with_agents=False)] == ["nats", "sites"]


def test_lab_controller_config() -> None:
    info = LabInfo(dir="/tmp/l", nats_url="nats://127.0.0.1:4567", nats_pid=1)
    cfg = lab_controller.config_for(info)
    assert cfg.nats.servers == ["nats://127.0.0.1:4567"]
    c = cfg.controller
    assert (c.site_timeout, c.poll_interval, c.reconcile_interval, c.alert_interval) == (10, 1, 60, 5)
    assert lab_controller.config_path(Path("/tmp/l")) == Path("/tmp/l/controller/controller.toml")
    assert lab_controller.log_path(Path("/tmp/l")) == Path("/tmp/l/controller/controller.log")


def test_lab_json_without_a_controller_still_loads() -> None:
    old = b'{"dir": "/tmp/l", "nats_url": "nats://x:1", "nats_pid": 1, "agents": []}'
    assert msgspec.json.decode(old, type=LabInfo).controller is None
    ci = ControllerInfo(pid=2, config="c", log="l")
    info = LabInfo(dir="/tmp/l", nats_url="u", nats_pid=1, controller=ci)
    assert msgspec.json.decode(msgspec.json.encode(info), type=LabInfo) == info


def _status(controller: dict[str, Any] | None) -> dict[str, Any]:
    proc = {"name": "x", "pid": 1, "alive": True, "rss": 1024 * 1024}
    return {
        "dir": "/tmp/l", "nats_url": "u", "objectstore": "bluestore", "peered": False,
        "nats": proc, "sites": [{"name": "site-a", "health": "HEALTH_OK", "conf": "c", "daemons": [proc]}],
        "agents": [{"site": "site-a", "log": "l", **proc}], "controller": controller,
    }


def test_status_counts_the_controller(capsys: pytest.CaptureFixture[str]) -> None:
    alive = {"config": "c", "log": "/tmp/l/controller/controller.log", "name": "cephdr-controller",
             "pid": 9, "alive": True, "rss": 2 * 1024 * 1024}
    assert runner.status_ok(_status(alive))
    assert runner.total_rss(_status(alive)) == 5 * 1024 * 1024
    dead = {**alive, "pid": None, "alive": False, "rss": None}
    assert not runner.status_ok(_status(dead))
    assert runner.total_rss(_status(dead)) == 3 * 1024 * 1024
    # a lab without agents has no controller: nothing to be healthy
    assert runner.status_ok(_status(None))

    lab_cmd.print_status(_status(dead))
    out = capsys.readouterr().out
    assert "cephdr controller" in out and "DEAD" in out
