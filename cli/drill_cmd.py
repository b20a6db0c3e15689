"""`cephdr drill NAME --kind planned|unplanned`: a failover drill on the lab (lab/drill.py).

Prints the measured RTO, RPO and failback time as a table, or as one JSON document (`--json`).
Exit 0 when the drill completed, whatever it measured (a non-zero RPO is a result, not a failure);
otherwise the structured error and the exit codes of `cephdr req`. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import msgspec

from cli.lab_cmd import default_dir
from cli.req_cmd import print_error
from schemas.errors import CephDRError, InvalidRequest

# the group name doubles as the image-name prefix and the pool-name stem
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,20}$")
INTERVAL = re.compile(r"^[1-9]\d*[dhm]?$")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("drill", help="a failover drill on the lab: RTO, RPO and failback time")
    p.add_argument("group", help="a new protection group's name (refused if it exists)")
    p.add_argument("--kind", choices=("planned", "unplanned"), required=True,
                   help="planned: controller failover; unplanned: site-a killed -9, forced failover")
    p.add_argument("--images", type=int, default=4, help="images in the group (default 4)")
    p.add_argument("--mode", choices=("snapshot", "journal"), default="snapshot")
    p.add_argument("--interval", default="1m", help="mirror-snapshot schedule (default 1m)")
    p.add_argument("--write-for", type=float, default=60.0,
                   help="seconds of writes before the failover or the fault (default 60)")
    p.add_argument("--lab-dir", default=default_dir(),
                   help="lab directory (default: $CEPHDR_LAB_DIR or ./.lab)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.set_defaults(func=run)


def validate(args: argparse.Namespace) -> None:
    if not NAME.match(args.group):
        raise InvalidRequest(f"group name {args.group!r} must match {NAME.pattern}", where="$.group")
    if not 1 <= args.images <= 100:
        raise InvalidRequest("--images must be between 1 and 100", where="$.images")
    if not INTERVAL.match(args.interval):
        raise InvalidRequest(f"--interval {args.interval!r} must match {INTERVAL.pattern}",
                             where="$.interval")
    if not 0 < args.write_for <= 3600:
        raise InvalidRequest("--write-for must be in (0, 3600] seconds", where="$.write_for")


def say(message: str) -> None:
    print(f"drill: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        validate(args)
    except CephDRError as err:
        return print_error(err)
    from lab.drill import DrillOptions, run_drill
    from lab.drill_report import table

    opts = DrillOptions(group=args.group, kind=args.kind, images=args.images, mode=args.mode,
                        interval=args.interval, write_for=args.write_for)
    try:
        report = asyncio.run(run_drill(Path(args.lab_dir), opts, say))
    except CephDRError as err:
        return print_error(err)
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(report)).decode())
    else:
        print(table(report))
    return 0
