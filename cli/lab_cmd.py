"""`cephdr lab up | status | down`: the two-site test lab."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from lab import runner
from lab.cmd import LabError

MIB = 1024 * 1024


def default_dir() -> str:
    return os.environ.get("CEPHDR_LAB_DIR") or "./.lab"


def register(subparsers: Any) -> None:
    lab = subparsers.add_parser("lab", help="the two-site Ceph + NATS lab on 127.0.0.1")
    lab_sub = lab.add_subparsers(dest="lab_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dir", default=default_dir(),
                       help="lab directory (default: $CEPHDR_LAB_DIR or ./.lab)")

    up = lab_sub.add_parser("up", help="bring the lab up (a no-op when it is up already)")
    common(up)
    up.add_argument("--peered", action="store_true",
                    help="also peer the sites (RBD two-way, CephFS a->b): a demo shortcut; "
                    "normally cephdr does it")
    up.add_argument("--objectstore", choices=("bluestore", "memstore"), default="bluestore",
                    help="OSD objectstore (memstore loses data on SIGKILL)")
    up.add_argument("--no-agents", action="store_true",
                    help="start neither a cephdr agent per site nor the controller "
                    "(for tests that run their own)")
    up.add_argument("--tls", action="store_true",
                    help="NATS with mutual TLS (a CA, server and per-role client certificates)")
    up.set_defaults(func=cmd_up)

    st = lab_sub.add_parser("status", help="health, daemons (pid, RSS), NATS, agents and controller")
    common(st)
    st.add_argument("--json", action="store_true", help="one JSON object")
    st.set_defaults(func=cmd_status)

    dn = lab_sub.add_parser("down", help="stop everything the lab started and remove its state")
    common(dn)
    dn.set_defaults(func=cmd_down)


def cmd_up(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    try:
        info = runner.up(Path(args.dir), objectstore=args.objectstore, peered=args.peered,
                         with_agents=not args.no_agents, tls=args.tls)
    except LabError as e:
        print(f"cephdr lab up FAILED: {e.describe()}", file=sys.stderr)
        return 1
    st = runner.status(Path(info.dir))
    print(f"lab up at {info.dir} in {time.monotonic() - t0:.1f}s; NATS {info.nats_url}; "
          f"total RSS {runner.total_rss(st) / MIB:.0f} MiB")
    for s in info.sites:
        print(f"  {s.name}: export CEPH_CONF={s.conf}")
    if info.credentials:
        print(f"  NATS identities (least privilege, `--creds FILE`): {Path(info.creds('operator')).parent}/"
              f"<role>.nk; roles {', '.join(sorted(info.credentials))}"
              + (f"; TLS certs in {info.tls_dir}" if info.tls_dir else ""))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    lab_dir = Path(args.dir)
    try:
        st = runner.status(lab_dir)
    except (OSError, ValueError) as e:
        if args.json:
            print(json.dumps({"error": f"no lab at {lab_dir}: {e}"}))
        else:
            print(f"no lab at {lab_dir}: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        print_status(st)
    return 0 if runner.status_ok(st) else 1


def _rss(v: int | None) -> str:
    return "-" if v is None else f"{v / MIB:.1f}"


def print_status(st: dict[str, Any]) -> None:
    n = st["nats"]
    print(f"lab {st['dir']} ({st['objectstore']}{', peered' if st['peered'] else ''})")
    print(f"NATS  {st['nats_url']}  pid {n['pid']}  rss {_rss(n['rss'])} MiB{'' if n['alive'] else '  DEAD'}")
    if st.get("credentials"):
        where = {str(Path(f).parent) for f in st["credentials"].values()}
        print(f"  credentials {'|'.join(sorted(where))}/<role>.nk: {', '.join(sorted(st['credentials']))}"
              + (f"; mutual TLS, certificates in {st['tls_dir']}" if st.get("tls_dir") else ""))
    for s in st["sites"]:
        print(f"\n{s['name']}  {s['health']}  conf {s['conf']}")
        print(f"  {'daemon':<26} {'pid':>8} {'RSS MiB':>9}")
        for d in s["daemons"]:
            state = "" if d["alive"] else "  DEAD"
            print(f"  {d['name']:<26} {d['pid'] or '-':>8} {_rss(d['rss']):>9}{state}")
    if st.get("agents"):
        print("\ncephdr agents")
        for a in st["agents"]:
            state = "" if a["alive"] else "  DEAD"
            print(f"  {a['site']:<10} pid {a['pid'] or '-':>8}  rss {_rss(a['rss'])} MiB"
                  f"  log {a['log']}{state}")
    c = st.get("controller")
    if c:
        state = "" if c["alive"] else "  DEAD"
        print(f"\ncephdr controller  pid {c['pid'] or '-':>8}  rss {_rss(c['rss'])} MiB"
              f"  log {c['log']}{state}")
        if c.get("metrics_url"):
            print(f"  Prometheus metrics {c['metrics_url']}")
    print(f"\ntotal RSS {runner.total_rss(st) / MIB:.0f} MiB")


def cmd_down(args: argparse.Namespace) -> int:
    try:
        runner.down(Path(args.dir))
    except LabError as e:
        print(f"cephdr lab down FAILED: {e.describe()}", file=sys.stderr)
        return 1
    return 0
