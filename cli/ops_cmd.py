"""`cephdr ops [list|show ID|cancel ID|retry ID]`: the controller's operations.

`cancel` is refused (exit 3) once the operation passed its point of no return (the demote);
`retry` runs a failed operation again from its failed step, followed live like a failover.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from cli import exit_codes, tables
from cli.follow import run_long
from cli.session import Session, add_connection, print_json, run
from schemas.ctl import ListOps, OpCommand, OpList, OpRecord, OpRef


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("ops", help="controller operations: list, show ID, cancel ID, retry ID")
    sub = p.add_subparsers(dest="ops_command", metavar="ACTION")
    p.add_argument("--group", help="without ACTION: list only this group's")
    p.add_argument("--limit", type=int, default=20, help="without ACTION: at most this many (default 20)")
    p.set_defaults(func=list_ops)
    add_connection(p)

    ls = sub.add_parser("list", help="recent operations, newest first (the default)")
    ls.add_argument("--group", help="only this group's")
    ls.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    add_connection(ls)
    ls.set_defaults(func=list_ops)

    show = sub.add_parser("show", help="one operation, every step")
    show.add_argument("op_id")
    add_connection(show)
    show.set_defaults(func=show_op)

    cancel = sub.add_parser("cancel", help="cancel an operation before its point of no return")
    cancel.add_argument("op_id")
    add_connection(cancel)
    cancel.set_defaults(func=cancel_op)

    retry = sub.add_parser("retry", help="run a failed operation again from its failed step")
    retry.add_argument("op_id")
    retry.add_argument("--no-wait", dest="wait", action="store_false")
    retry.add_argument("--wait-timeout", type=float, default=1800.0)
    add_connection(retry)
    retry.set_defaults(func=retry_op)


def list_ops(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        req: dict[str, Any] = {"limit": args.limit}
        if args.group:
            req["group"] = args.group
        got = await s.req("op.list", req, request=ListOps, reply=OpList)
        if args.json:
            print_json(got)
        elif got.ops:
            print(tables.ops_table(got.ops, time.time()))
        else:
            print("no operation yet")
        return exit_codes.OK

    return run(args, body)


def show_op(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        op = await s.req("op.get", {"op_id": args.op_id}, request=OpRef, reply=OpRecord)
        if args.json:
            print_json(op)
        else:
            print(tables.op_detail(op, time.time()))
        return exit_codes.OK

    return run(args, body)


def cancel_op(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        op = await s.req("op.cancel", {"op_id": args.op_id}, request=OpCommand, reply=OpRecord)
        if args.json:
            print_json(op)
        else:
            print(f"operation {op.op_id} {op.state}: {op.message}")
        return exit_codes.OK

    return run(args, body)


def retry_op(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        op = await s.req("op.get", {"op_id": args.op_id}, request=OpRef, reply=OpRecord)
        return await run_long(
            s,
            "op.retry",
            {"op_id": args.op_id},
            OpCommand,
            group=op.group,
            wait=args.wait,
            wait_s=args.wait_timeout,
        )

    return run(args, body)
