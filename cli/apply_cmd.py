"""`cephdr apply -f group.toml`: create or update a protection group from a TOML file.

The file is validated locally first (the same schema the controller uses), so a typo is reported
with its place in the file before anything is sent. `--wait` follows the reconcile to its end with
live progress and a summary (exit codes: cli/exit_codes.py); `--json` prints the reply (with
`--wait`, the final operation record) instead.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import msgspec

from bus.config import load_toml
from cli import exit_codes, tables
from cli.follow import OpWatch
from cli.session import Session, add_connection, print_json, report_error, run
from schemas.ctl import ApplyGroup, GroupApplied
from schemas.errors import CephDRError
from schemas.group import GroupSpec


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("apply", help="create or update a protection group from a TOML file")
    p.add_argument("-f", "--file", required=True, help="group TOML (see README: protection groups)")
    p.add_argument("--wait", action="store_true", help="follow the reconcile to its end")
    p.add_argument("--wait-timeout", type=float, default=600.0, help="with --wait: seconds to follow it")
    add_connection(p)
    p.set_defaults(func=run_apply)


def load_spec(path: str) -> GroupSpec:
    """Read and validate; a bad file raises `InvalidRequest` naming the file and the key at fault."""
    return load_toml(path, GroupSpec, "group file")


def run_apply(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.file)
    except CephDRError as err:
        return report_error(err, args.json)

    async def body(s: Session) -> int:
        async with OpWatch(s) as watch:
            applied = await s.req(
                "group.apply", {"spec": msgspec.to_builtins(spec)}, request=ApplyGroup, reply=GroupApplied
            )
            if not args.json:
                print(applied.message, flush=True)
            if not (args.wait and applied.op_id):
                if args.json:
                    print_json(applied)
                return exit_codes.OK
            op = await watch.follow(applied.op_id, wait_s=args.wait_timeout, quiet=args.json)
        if args.json:
            print_json(op)
        else:
            print(tables.summary(op, time.time()), flush=True)
        return exit_codes.for_op_state(op.state)

    return run(args, body)
