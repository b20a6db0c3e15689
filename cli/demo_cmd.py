"""`cephdr demo [--dir LAB] [--group-file FILE] [--cleanup]` (`make demo`): the lab up, a
protection group applied and mirrored, a planned failover and the failback with live progress,
and what to try next (lab/demo.py). Exit 0 when every step succeeded, else the exit code of the
step that failed (cli/exit_codes.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli import exit_codes
from cli.lab_cmd import default_dir
from cli.session import report_error
from schemas.errors import CephDRError


def register(subparsers: Any) -> None:
    from lab.demo import GROUP_FILE

    p = subparsers.add_parser("demo", help="the lab, a protected group, a failover and back, live")
    p.add_argument("--dir", default=default_dir(), help="lab directory (default: $CEPHDR_LAB_DIR or ./.lab)")
    p.add_argument(
        "--group-file", default=str(GROUP_FILE), help=f"the group to protect (default {GROUP_FILE})"
    )
    p.add_argument("--cleanup", action="store_true", help="delete the group and its schedules at the end")
    p.set_defaults(func=run)


def say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    from lab.demo import CommandFailed, run_demo

    try:
        run_demo(Path(args.dir), Path(args.group_file), say, cleanup=args.cleanup)
    except CommandFailed as err:
        print(f"demo: {err.message}", file=sys.stderr)
        return err.rc
    except CephDRError as err:
        return report_error(err, False)
    print("\ndemo: done", flush=True)
    return exit_codes.OK
