"""`cephdr agent --config FILE`: run one site agent (systemd: cephdr-agent@<site>.service)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.daemon import run_daemon


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("agent", help="run a site agent")
    p.add_argument("--config", required=True, help="agent TOML config (see agent/config.py)")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported here, not at the top: they load the Ceph bindings, which no other command needs
    from agent import config as agent_config
    from agent.config import AgentConfig

    def serve(cfg: AgentConfig) -> int:
        from agent.runtime.app import serve

        return serve(cfg)

    return run_daemon(
        args,
        what="agent",
        load=agent_config.load,
        unit=lambda cfg: f"cephdr-agent@{cfg.site}",
        serve=serve,
        describe=lambda cfg: f"site {cfg.site}",
    )
