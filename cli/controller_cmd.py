"""`cephdr controller --config FILE`: run the controller (systemd: cephdr-controller.service)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from agent.runtime import sdnotify
from controller import config as controller_config
from schemas.errors import CephDRError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("controller", help="run the controller")
    p.add_argument("--config", required=True, help="controller TOML config (see controller/config.py)")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = controller_config.load(args.config)
    except CephDRError as err:
        print(f"cephdr controller: {err.message}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: ok")
        return 0
    handler = sdnotify.journal_handler("cephdr-controller")
    if handler is not None:
        logging.getLogger().handlers[:] = [handler]
    from controller.app import serve

    return serve(cfg)
