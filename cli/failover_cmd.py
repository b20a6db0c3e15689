"""`cephdr failover GROUP [--to SITE] [--force]`, `cephdr failback GROUP`, `cephdr reconcile GROUP`:
the long operations, followed live to their end (`--no-wait` returns once accepted).

A forced failover loses what the primary had not replicated and risks split-brain if the primary
is in fact alive: the operator types the group's name on the terminal (or passes
`--yes-i-really-mean-it` in a script), and the request carries `confirm=<group>`, which the
controller checks again.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli import confirm
from cli.follow import run_long
from cli.session import Session, add_connection, report_error, run
from schemas.ctl import Failback, Failover, ReconcileGroup
from schemas.errors import CephDRError


def _long_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="return once the controller accepted it (follow with `cephdr ops show ID`)",
    )
    p.add_argument(
        "--wait-timeout",
        type=float,
        default=1800.0,
        help="stop following after this many seconds (exit 5; the operation goes on)",
    )
    add_connection(p)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "failover", help="fail a group over (planned; --force when its primary is lost)"
    )
    p.add_argument("group")
    p.add_argument("--to", help="the new primary site (default: the group's other site)")
    p.add_argument(
        "--force",
        action="store_true",
        help="unplanned: the primary is lost; promote anyway (its unreplicated writes are lost)",
    )
    p.add_argument(
        "--yes-i-really-mean-it",
        dest="confirmed",
        action="store_true",
        help="with --force: do not ask to type the group's name",
    )
    _long_opts(p)
    p.set_defaults(func=failover)

    b = subparsers.add_parser(
        "failback", help="after a forced failover: resync the old primary and move back"
    )
    b.add_argument("group")
    _long_opts(b)
    b.set_defaults(func=failback)

    r = subparsers.add_parser("reconcile", help="reconcile a group now (mirroring, peers, schedules, drift)")
    r.add_argument("group")
    _long_opts(r)
    r.set_defaults(func=reconcile)


def failover_body(args: argparse.Namespace, confirmed_as: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"group": args.group}
    if args.to:
        body["to"] = args.to
    if args.force:
        body["force"] = True
        body["confirm"] = confirmed_as
    return body


def failover(args: argparse.Namespace) -> int:
    confirmed_as: str | None = None
    if args.force:
        if args.confirmed:
            confirmed_as = args.group
        else:
            try:
                confirmed_as = confirm.ask(
                    args.group,
                    "A FORCED failover (the primary's unreplicated writes are "
                    "lost; if the primary still runs, it is fenced)",
                    stdin=sys.stdin,
                    stderr=sys.stderr,
                )
            except CephDRError as err:
                return report_error(err, args.json)

    async def body(s: Session) -> int:
        return await run_long(
            s,
            "failover",
            failover_body(args, confirmed_as),
            Failover,
            group=args.group,
            wait=args.wait,
            wait_s=args.wait_timeout,
        )

    return run(args, body)


def failback(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        return await run_long(
            s,
            "failback",
            {"group": args.group},
            Failback,
            group=args.group,
            wait=args.wait,
            wait_s=args.wait_timeout,
        )

    return run(args, body)


def reconcile(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        return await run_long(
            s,
            "group.reconcile",
            {"group": args.group},
            ReconcileGroup,
            group=args.group,
            wait=args.wait,
            wait_s=args.wait_timeout,
        )

    return run(args, body)
