"""`cephdr req SUBJECT [JSON]`: one request to any cephdr endpoint, for operators without the Go
`nats` CLI. Prints the reply as JSON; on failure prints the structured error and exits non-zero:
2 invalid request, 3 refused (not found, conflict, confirmation required, permission), 5 timed
out, 6 unavailable, 1 anything else (cli/exit_codes.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import msgspec
from nats.aio.client import Client as NATS

from bus.client import request
from bus.connect import PermissionLog, connect, tls_context
from cli import exit_codes
from schemas.errors import CephDRError, Unavailable


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("req", help="send one request to a cephdr endpoint and print the reply")
    p.add_argument("subject", help="e.g. cephdr.agent.site-a.status")
    p.add_argument("body", nargs="?", default="{}", help="JSON request body (default {}; '-' reads stdin)")
    p.add_argument(
        "--nats",
        default=os.environ.get("CEPHDR_NATS") or os.environ.get("CEPHDR_NATS_URL") or "nats://127.0.0.1:4222",
        help="NATS server URL (default $CEPHDR_NATS or nats://127.0.0.1:4222)",
    )
    p.add_argument("--creds", default=os.environ.get("CEPHDR_NATS_CREDS", ""), help="NATS credentials file")
    add_tls_args(p)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the reply")
    p.set_defaults(func=run)


def exit_code(err: CephDRError) -> int:
    """The exit codes of every operator command (cli/exit_codes.py)."""
    return exit_codes.for_error(err)


def run(args: argparse.Namespace) -> int:
    body = sys.stdin.read() if args.body == "-" else args.body
    return asyncio.run(_run(args, body.encode()))


def print_error(err: CephDRError) -> int:
    """The structured error as JSON on stdout; returns the exit code it means."""
    print(json.dumps({"error": msgspec.to_builtins(err.body())}, indent=2))
    return exit_code(err)


def add_tls_args(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    p.add_argument("--tls-ca", default=env("CEPHDR_NATS_TLS_CA", ""),
                   help="CA of the NATS servers' certificates (default $CEPHDR_NATS_TLS_CA)")
    p.add_argument("--tls-cert", default=env("CEPHDR_NATS_TLS_CERT", ""),
                   help="client certificate for mutual TLS (default $CEPHDR_NATS_TLS_CERT)")
    p.add_argument("--tls-key", default=env("CEPHDR_NATS_TLS_KEY", ""),
                   help="its key (default $CEPHDR_NATS_TLS_KEY)")


async def cli_connect(args: argparse.Namespace, perms: PermissionLog) -> NATS:
    """The operator's connection (`--nats`, `--creds`, TLS from `--tls-*` or $CEPHDR_NATS_TLS_*):
    fails fast instead of retrying forever."""
    ca, cert, key = (getattr(args, f"tls_{k}", "") or os.environ.get(f"CEPHDR_NATS_TLS_{k.upper()}", "")
                     for k in ("ca", "cert", "key"))
    tls = tls_context(ca, cert, key) if ca or cert else None
    try:
        return await connect(
            args.nats,
            name=f"cephdr-cli-{os.getuid()}",
            credentials=args.creds,
            permissions=perms,
            forever=False,
            tls=tls,
        )
    except Exception as exc:
        raise Unavailable(f"cannot connect to {args.nats}: {exc}", where=args.nats) from None


async def _run(args: argparse.Namespace, body: bytes) -> int:
    perms = PermissionLog()
    try:
        nc = await cli_connect(args, perms)
    except CephDRError as err:
        return print_error(err)
    try:
        reply = await request(nc, args.subject, body, timeout=args.timeout, permissions=perms)
    except CephDRError as err:
        return print_error(err)
    finally:
        await nc.close()
    print(json.dumps(reply, indent=2))
    return 0
