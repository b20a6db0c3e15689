"""`cephdr status [GROUP] [--site SITE]` and `cephdr groups`: what the controller sees.

Exit 0 when the answer came, whatever the health; `--check` makes the health the exit code too
(1 when a group is not ok), for a cron job or a probe.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli import exit_codes, tables
from cli.session import Session, add_connection, print_json, run
from schemas.ctl import FleetStatus, GetStatus, GroupList, ListGroups
from schemas.errors import NotFound


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status", help="the fleet, one site or one group: state, primary, RPO lag, alerts"
    )
    p.add_argument("group", nargs="?", help="one protection group (members on each site, alerts)")
    p.add_argument("--site", help="one site, and the groups it is in")
    p.add_argument("--check", action="store_true", help="exit 1 unless every group shown is healthy (ok)")
    add_connection(p)
    p.set_defaults(func=status)

    g = subparsers.add_parser("groups", help="the protection groups: primary, epoch, members, pause")
    add_connection(g)
    g.set_defaults(func=groups)


def status(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        req = {"group": args.group} if args.group else {}
        st = await s.req("status", req, request=GetStatus, reply=FleetStatus)
        if args.site and args.site not in {x.site for x in st.sites}:
            raise NotFound(
                f"no site {args.site} has reported (known: {', '.join(x.site for x in st.sites) or 'none'})",
                where="--site",
            )
        if args.json:
            print_json(st)
        elif args.group:
            print(tables.group_detail(st.groups[0]))
        else:
            print(tables.fleet(st, args.site))
        shown = [
            g
            for g in st.groups
            if not args.site or any(args.site in m.sites for m in g.members) or g.primary == args.site
        ]
        if args.check and any(g.health != "ok" for g in shown):
            return exit_codes.ERROR
        return exit_codes.OK

    return run(args, body)


def groups(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        got = await s.req("group.list", {}, request=ListGroups, reply=GroupList)
        if args.json:
            print_json(got)
        elif got.groups:
            print(tables.groups_table(got.groups))
        else:
            print("no protection group (create one: cephdr apply -f group.toml)")
        return exit_codes.OK

    return run(args, body)
