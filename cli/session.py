"""The operator's connection to the controller: `--nats/--creds/--actor/--timeout/--json`, one
request with the human's name and a fresh request id, and errors turned into exit codes.

Every request names the human (`actor`: `--actor`, default the OS user) so the audit trail shows
who asked, and carries a new `request_id` (a repeat of a command returns its first outcome).
Requests are validated against the controller's schema before they are sent: a typo is an exit 2
naming the field, not a round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from nats.aio.client import Client as NATS

from bus.client import request
from bus.connect import PermissionLog
from cli import exit_codes
from cli.req_cmd import add_tls_args, cli_connect
from schemas.errors import CephDRError, InvalidRequest

T = TypeVar("T")

DEFAULT_URL = "nats://127.0.0.1:4222"


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's random uid)
        return f"uid-{os.getuid()}"


def lab_defaults(environ: Mapping[str, str]) -> tuple[str, str]:
    """(URL, operator credentials) of the lab named by $CEPHDR_LAB_DIR, if it has a lab.json; so
    `cephdr status` works on the lab (and in the demo container) without exporting anything.
    Only an explicit $CEPHDR_LAB_DIR counts: an operator's shell never picks up a lab by accident."""
    lab_dir = environ.get("CEPHDR_LAB_DIR")
    if not lab_dir:
        return "", ""
    try:
        info = json.loads((Path(lab_dir) / "lab.json").read_text())
    except (OSError, ValueError):
        return "", ""
    url = info.get("nats_url") if isinstance(info, dict) else None
    if not isinstance(url, str):
        return "", ""
    creds = (info.get("credentials") or {}).get("operator", "")
    return url, creds if isinstance(creds, str) else ""


def lab_tls(environ: Mapping[str, str]) -> dict[str, str]:
    """With `lab up --tls`: the operator's client certificate and the lab's CA, as TLS defaults."""
    lab_dir = environ.get("CEPHDR_LAB_DIR")
    try:
        info = json.loads((Path(lab_dir) / "lab.json").read_text()) if lab_dir else {}
    except (OSError, ValueError):
        return {}
    tls_dir = info.get("tls_dir") if isinstance(info, dict) else None
    if not isinstance(tls_dir, str) or not tls_dir:
        return {}
    d = Path(tls_dir)
    return {
        "tls_ca": str(d / "ca.pem"),
        "tls_cert": str(d / "operator.pem"),
        "tls_key": str(d / "operator.key"),
    }


def add_connection(p: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """The options every operator command takes."""
    env = os.environ
    lab_url, lab_creds = lab_defaults(env)
    explicit = env.get("CEPHDR_NATS") or env.get("CEPHDR_NATS_URL")
    p.add_argument(
        "--nats",
        default=explicit or lab_url or DEFAULT_URL,
        help=f"NATS URL (default $CEPHDR_NATS, else the lab at $CEPHDR_LAB_DIR, else {DEFAULT_URL})",
    )
    p.add_argument(
        "--creds",
        default=env.get("CEPHDR_NATS_CREDS") or ("" if explicit else lab_creds),
        help="NATS credentials file (default $CEPHDR_NATS_CREDS, else the lab's operator.nk)",
    )
    add_tls_args(p)
    if not (explicit or any(env.get(f"CEPHDR_NATS_TLS_{k}") for k in ("CA", "CERT", "KEY"))):
        p.set_defaults(**lab_tls(env))
    p.add_argument(
        "--actor",
        default=default_actor(),
        help="who asks, recorded with the operation (default: your user name)",
    )
    p.add_argument("--prefix", default="cephdr", help=argparse.SUPPRESS)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a reply (default 30)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print the reply as JSON")


def request_id(verb: str) -> str:
    return f"cli-{verb[:12].replace('.', '-')}-{uuid.uuid4().hex[:16]}"


class Session:
    """One connection, as the human `actor`."""

    def __init__(self, args: argparse.Namespace, nc: NATS, perms: PermissionLog) -> None:
        self.args = args
        self.nc = nc
        self.perms = perms
        self.prefix: str = args.prefix
        self.actor: str = args.actor

    async def req(
        self,
        name: str,
        body: dict[str, Any],
        *,
        request: type[Any],
        reply: type[T],
        timeout: float | None = None,
    ) -> T:
        """`<prefix>.ctl.<name>` with `body` + actor + request_id, validated as `request` first."""
        full = {"request_id": request_id(name), "actor": self.actor, **body}
        try:
            msgspec.convert(full, type=request)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"{name}: {exc}", where=name) from None
        return await _request(
            self.nc,
            f"{self.prefix}.ctl.{name}",
            full,
            reply=reply,
            timeout=timeout or self.args.timeout,
            permissions=self.perms,
        )


async def _request(
    nc: NATS, subject: str, body: Any, *, reply: type[T], timeout: float, permissions: PermissionLog
) -> T:
    return await request(nc, subject, body, reply=reply, timeout=timeout, permissions=permissions)


def report_error(err: CephDRError, as_json: bool) -> int:
    """The error for a human (stderr) or a script (`--json`: the structured error on stdout)."""
    code = exit_codes.for_error(err)
    if as_json:
        print(json.dumps({"error": msgspec.to_builtins(err.body())}, indent=2))
    else:
        where = f" (at {err.where})" if err.where else ""
        print(f"cephdr: {exit_codes.MEANING[code]} ({err.code}): {err.message}{where}", file=sys.stderr)
        hint = err.details.get("active_op") if err.details else None
        if hint:
            print(f"cephdr: see `cephdr ops show {hint}`", file=sys.stderr)
    return code


def print_json(obj: Any) -> None:
    print(msgspec.json.format(msgspec.json.encode(obj)).decode())


def run(args: argparse.Namespace, body: Callable[[Session], Awaitable[int]]) -> int:
    """Connect, run `body`, close; any cephdr error becomes its exit code."""

    if not getattr(args, "verbose", False):
        # "disconnected" at every close and each failed connect attempt are the connection's
        # business; what the operator needs comes as the command's error (a denial is an ERROR)
        logging.getLogger("bus.connect").setLevel(logging.ERROR)
        logging.getLogger("asyncio").setLevel(logging.ERROR)  # nats-py's TLS close warns at each exit

    async def main() -> int:
        perms = PermissionLog()
        nc = await cli_connect(args, perms)
        try:
            return await body(Session(args, nc, perms))
        finally:
            await nc.close()

    try:
        return asyncio.run(main())
    except CephDRError as err:
        return report_error(err, getattr(args, "json", False))
    except KeyboardInterrupt:
        print(
            "cephdr: interrupted (an operation already started keeps running: `cephdr ops`)", file=sys.stderr
        )
        return 130
