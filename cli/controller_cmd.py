"""`cephdr controller --config FILE`: run the controller (systemd: cephdr-controller.service)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.daemon import run_daemon
from controller import config as controller_config
from controller.config import ControllerConfig


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("controller", help="run the controller")
    p.add_argument("--config", required=True, help="controller TOML config (see controller/config.py)")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def serve(cfg: ControllerConfig) -> int:
        from controller.app import serve

        return serve(cfg)

    return run_daemon(
        args, what="controller", load=controller_config.load, unit=lambda _: "cephdr-controller", serve=serve
    )
