"""The shared TOML writer: what `agent.config.dump` and `controller.config.dump` write reads back
(through each config's own loader) to the same config."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec

from agent import config as agent_config
from bus import toml_writer
from bus.config import NatsConfig
from controller import config as controller_config


def test_agent_config_round_trips(tmp_path: Path) -> None:
    cfg = agent_config.AgentConfig(
        site="site-a",  # type: ignore[arg-type]
        nats=NatsConfig(servers=["nats://a:4222", "nats://b:4222"], credentials='/etc/x "y".creds'),
        status=agent_config.StatusConfig(interval=2.0, pools=["rbd"], filesystems=[]),  # type: ignore[list-item]
    )
    path = tmp_path / "agent.toml"
    path.write_text(agent_config.dump(cfg))
    assert agent_config.load(path) == cfg


def test_controller_config_round_trips(tmp_path: Path) -> None:
    cfg = controller_config.ControllerConfig(
        nats=NatsConfig(servers=["nats://127.0.0.1:4222"], prefix="lab"),
        controller=controller_config.ControllerSection(
            site_timeout=10, poll_interval=1, reconcile_interval=0
        ),
    )
    path = tmp_path / "controller.toml"
    path.write_text(controller_config.dump(cfg))
    assert controller_config.load(path) == cfg


class _Odd(msgspec.Struct, kw_only=True):
    unset: str | None = None
    text: str = 'tab\there "quoted" \\ back\nnewline ü'
    flag: bool = False
    nested: dict[str, object] = msgspec.field(default_factory=lambda: {"a key": [1, 2.5], "x": {"y": True}})
    rows: list[dict[str, int]] = msgspec.field(default_factory=lambda: [{"n": 1}])


def test_escapes_none_and_nesting() -> None:
    text = toml_writer.dumps(_Odd())
    assert not text.startswith("\n")
    assert tomllib.loads(text) == {
        "text": 'tab\there "quoted" \\ back\nnewline ü',
        "flag": False,
        "rows": [{"n": 1}],
        "nested": {"a key": [1, 2.5], "x": {"y": True}},
    }
