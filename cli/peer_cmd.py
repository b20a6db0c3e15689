"""`cephdr peer connect SOURCE TARGET --pool P | --fs F`: peer an RBD pool (two-way by default)
or a CephFS file system (SOURCE -> TARGET) through sealed bootstrap tokens; idempotent."""

from __future__ import annotations

import argparse
from typing import Any

from cli import exit_codes
from cli.session import Session, add_connection, print_json, run
from schemas.ctl import PeerConnect, PeerConnected


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("peer", help="peer sites for mirroring (sealed bootstrap tokens)")
    sub = p.add_subparsers(dest="peer_command", metavar="ACTION", required=True)
    c = sub.add_parser("connect", help="peer a pool or a file system between two sites")
    c.add_argument("source", help="the site that mirrors from (CephFS: the current primary)")
    c.add_argument("target", help="the other site")
    what = c.add_mutually_exclusive_group(required=True)
    what.add_argument("--pool", help="an RBD pool (same name on both sites)")
    what.add_argument("--fs", help="a CephFS file system (same name on both sites)")
    c.add_argument(
        "--direction", choices=("rx-tx", "rx-only"), default="rx-tx", help="RBD only (default rx-tx)"
    )
    add_connection(c)
    c.set_defaults(func=connect)


def connect_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"source": args.source, "target": args.target}
    if args.pool:
        body |= {"pool": args.pool, "direction": args.direction}
    else:
        body["fs"] = args.fs
    return body


def connect(args: argparse.Namespace) -> int:
    async def body(s: Session) -> int:
        got = await s.req(
            "peer.connect",
            connect_body(args),
            request=PeerConnect,
            reply=PeerConnected,
            timeout=max(args.timeout, 120.0),
        )
        if args.json:
            print_json(got)
        else:
            print(got.message)  # it says whether anything changed
        return exit_codes.OK

    return run(args, body)
