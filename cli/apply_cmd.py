"""`cephdr apply -f group.toml`: create or update a protection group from a TOML file.

The file is validated locally first (the same schema the controller uses), so a typo is reported
with its place in the file before anything is sent. `--wait` follows the reconcile to its end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from typing import Any

import msgspec

from bus.client import request
from bus.config import load_toml
from bus.connect import PermissionLog
from cli.req_cmd import cli_connect, print_error
from schemas.ctl import GroupApplied, OpRecord
from schemas.errors import CephDRError, DeadlineExceeded
from schemas.group import GroupSpec


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("apply", help="create or update a protection group from a TOML file")
    p.add_argument("-f", "--file", required=True, help="group TOML (see README: protection groups)")
    p.add_argument("--nats", default=os.environ.get("CEPHDR_NATS_URL", "nats://127.0.0.1:4222"))
    p.add_argument("--creds", default=os.environ.get("CEPHDR_NATS_CREDS", ""))
    p.add_argument("--prefix", default="cephdr")
    p.add_argument("--wait", action="store_true", help="wait until the reconcile finished")
    p.add_argument("--timeout", type=float, default=600.0, help="with --wait: seconds to wait")
    p.set_defaults(func=run)


def load_spec(path: str) -> GroupSpec:
    """Read and validate; a bad file raises `InvalidRequest` naming the file and the key at fault."""
    return load_toml(path, GroupSpec, "group file")


def run(args: argparse.Namespace) -> int:
    try:
        spec = load_spec(args.file)
    except CephDRError as err:
        return print_error(err)
    return asyncio.run(_run(args, spec))


async def _run(args: argparse.Namespace, spec: GroupSpec) -> int:
    perms = PermissionLog()
    try:
        nc = await cli_connect(args, perms)
    except CephDRError as err:
        return print_error(err)
    body = {
        "request_id": f"apply-{uuid.uuid4().hex[:16]}",
        "spec": msgspec.to_builtins(spec),
        "actor": os.environ.get("USER", ""),
    }
    try:
        applied = await request(
            nc, f"{args.prefix}.ctl.group.apply", body, reply=GroupApplied, timeout=30, permissions=perms
        )
        print(applied.message, file=sys.stderr)
        if args.wait and applied.op_id:
            op = await _follow(nc, args, applied.op_id, perms)
            print(json.dumps(msgspec.to_builtins(op), indent=2))
            return 0 if op.state == "succeeded" else 1
        print(json.dumps(msgspec.to_builtins(applied), indent=2))
        return 0
    except CephDRError as err:
        return print_error(err)
    finally:
        await nc.close()


async def _follow(nc: Any, args: argparse.Namespace, op_id: str, perms: PermissionLog) -> OpRecord:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout
    last = ""
    while True:
        op = await request(
            nc, f"{args.prefix}.ctl.op.get", {"op_id": op_id}, reply=OpRecord, timeout=10, permissions=perms
        )
        if op.message != last:
            print(f"  {op.message}", file=sys.stderr)
            last = op.message
        if op.state != "running":
            return op
        if loop.time() > deadline:
            raise DeadlineExceeded(f"operation {op_id} still running after {args.timeout:g}s", where=op_id)
        await asyncio.sleep(1)
