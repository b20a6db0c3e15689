"""The `cephdr` command: a generic argparse dispatcher.

Each command group lives in its own module with a `register(subparsers)` function that adds its subcommand
and sets `func` (taking the parsed args, returning the exit code). Add a group by listing its module here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

# modules with `register(subparsers)`; others (agent, controller, demo...) append theirs
COMMAND_MODULES: list[str] = [
    "cli.lab_cmd",
    "cli.agent_cmd",
    "cli.controller_cmd",
    "cli.apply_cmd",
    "cli.req_cmd",
    "cli.drill_cmd",
    "cli.audit_cmd",
    "cli.natsconfig_cmd",
    # the operator's commands (cli/session.py: --nats/--creds/--actor; exit codes: cli/exit_codes.py)
    "cli.status_cmd",
    "cli.failover_cmd",
    "cli.ops_cmd",
    "cli.auto_cmd",
    "cli.peer_cmd",
    "cli.events_cmd",
    "cli.demo_cmd",
]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cephdr",
                                     description="Ceph disaster recovery coordination over NATS")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, datefmt="%H:%M:%S",
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    func: Handler = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
