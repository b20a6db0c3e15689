"""`cephdr pause [GROUP]`, `cephdr resume [GROUP]`, `cephdr auto [GROUP]`: hold or allow the
automatic failover (fleet-wide without GROUP), and see what the autopilot decided. Requests by an
operator are never held by a pause."""

from __future__ import annotations

import argparse
from typing import Any

from cli import exit_codes, tables
from cli.session import Session, add_connection, print_json, run
from schemas.common import Done
from schemas.policy import AutoState, GetAuto, PauseAuto, ResumeAuto


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("pause", help="hold automatic failover/failback (fleet-wide, or one group)")
    p.add_argument("group", nargs="?")
    p.add_argument("--reason", default="", help="why (kept with the pause, shown by `cephdr auto`)")
    add_connection(p)
    p.set_defaults(func=pause)

    r = subparsers.add_parser("resume", help="lift a pause (fleet-wide, or one group's)")
    r.add_argument("group", nargs="?")
    add_connection(r)
    r.set_defaults(func=resume)

    a = subparsers.add_parser("auto", help="the autopilot: pauses, each group's policy and last decision")
    a.add_argument("group", nargs="?")
    add_connection(a)
    a.set_defaults(func=show)


def _done(args: argparse.Namespace, d: Done) -> int:
    if args.json:
        print_json(d)
    else:
        print(d.message + ("" if d.changed else " (it already was)"))
    return exit_codes.OK


def pause(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        req: dict[str, Any] = {"reason": args.reason}
        if args.group:
            req["group"] = args.group
        return _done(args, await s.req("auto.pause", req, request=PauseAuto, reply=Done))

    return run(args, body)


def resume(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        req = {"group": args.group} if args.group else {}
        return _done(args, await s.req("auto.resume", req, request=ResumeAuto, reply=Done))

    return run(args, body)


def show(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        req = {"group": args.group} if args.group else {}
        st = await s.req("auto.get", req, request=GetAuto, reply=AutoState)
        if args.json:
            print_json(st)
        else:
            print(tables.auto_table(st))
        return exit_codes.OK

    return run(args, body)
