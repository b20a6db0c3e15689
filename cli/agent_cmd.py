"""`cephdr agent --config FILE`: run one site agent (systemd: cephdr-agent@<site>.service)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from agent import config as agent_config
from agent.runtime import sdnotify
from schemas.errors import CephDRError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("agent", help="run a site agent")
    p.add_argument("--config", required=True, help="agent TOML config (see agent/config.py)")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = agent_config.load(args.config)
    except CephDRError as err:
        print(f"cephdr agent: {err.message}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: ok (site {cfg.site})")
        return 0
    handler = sdnotify.journal_handler(f"cephdr-agent@{cfg.site}")
    if handler is not None:
        root = logging.getLogger()
        root.handlers[:] = [handler]
    from agent.runtime.app import serve  # imported late: it loads the Ceph bindings

    return serve(cfg)
