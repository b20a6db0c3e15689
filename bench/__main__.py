"""`python -m bench`: the benchmarks against Ceph's own tools, on a running lab (issue 8 part 1).

Each benchmark measures cephdr and its anchor side by side, alternating, for several rounds; the
summary table gives medians, the ratio and the target; the JSON report keeps every sample.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import stats

ALL = ["P1", "P2", "P3", "P4"]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--lab-dir", default=os.environ.get("CEPHDR_LAB_DIR", ".lab"))
    p.add_argument("--only", default=",".join(ALL), help="benchmarks to run, e.g. P1,P3 (default all)")
    p.add_argument("--role", default="operator", help="the lab NATS role to connect as")
    # demote/promote on an agent are the controller's to send: the operator role may only read agents
    p.add_argument("--agent-role", default="controller",
                   help="the lab NATS role for P1's direct agent commands (demote/promote)")
    p.add_argument("--json", default="bench/results/latest.json", help="where the JSON report goes")
    p.add_argument("--p1-rounds", type=int, default=10)
    p.add_argument("--p2-n", type=_ints, default=[50, 200], help="images per failover (comma list)")
    p.add_argument("--p2-rounds", type=int, default=3)
    p.add_argument("--p2-loop-rounds", type=int, default=1,
                   help="rounds that include the per-image CLI loop (the slow one: ~2 s per image)")
    p.add_argument("--p3-n", type=_ints, default=[100, 1000], help="images per scanned pool (comma list)")
    p.add_argument("--p3-rounds", type=int, default=5)
    p.add_argument("--p4-sites", type=int, default=100)
    p.add_argument("--p4-images", type=int, default=10_000, help="images per simulated site")
    p.add_argument("--p4-bus-sites", type=int, default=10,
                   help="simulated sites whose status also travels over a real nats-server")
    p.add_argument("--p4-rounds", type=int, default=3)
    p.add_argument("--keep", action="store_true", help="keep the benchmark pools (faster reruns)")
    p.add_argument("--no-profile", action="store_true", help="skip the cProfile round of P4")
    return p.parse_args(argv)


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "load_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "kernel": platform.release(),
        "at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def save(path: Path, rows: list[stats.Row], m: dict[str, Any], profiles: dict[str, str],
         complete: bool) -> dict[str, Any]:
    rep = stats.report(rows, {**m, "load_now_1_5_15": [round(x, 2) for x in os.getloadavg()]}, profiles)
    rep["complete"] = complete
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep, indent=2) + "\n")
    return rep


async def main(args: argparse.Namespace, say: Callable[[str], None],
               out: Path) -> tuple[list[stats.Row], dict[str, Any]]:
    """Run the wanted benchmarks, the slow P2 last; the JSON report is rewritten after each, so
    an interrupted run keeps what it measured. A benchmark that fails is reported as a row with
    its error, and the others still run."""
    from bench import labenv

    wanted = {x.strip().upper() for x in args.only.split(",") if x.strip()}
    rows: list[stats.Row] = []
    profiles: dict[str, str] = {}
    m = {**machine(), "role": args.role, "agent_role": args.agent_role, "args": vars(args)}
    lab = None
    agent_lab = None
    if wanted & {"P1", "P2", "P3"}:
        lab = await labenv.open_lab(args.lab_dir, args.role)

    async def p1() -> list[stats.Row]:
        from bench import p1_latency

        nonlocal agent_lab
        agent_lab = await labenv.open_lab(args.lab_dir, args.agent_role)
        return await p1_latency.run(agent_lab, args.p1_rounds, say)

    async def p3() -> list[stats.Row]:
        from bench import p3_scan

        assert lab is not None
        return await p3_scan.run(lab, args.p3_n, args.p3_rounds, say, keep=args.keep)

    async def p4() -> list[stats.Row]:
        from bench import p4_scale

        got, prof = await p4_scale.run(args.p4_sites, args.p4_images, args.p4_bus_sites, args.p4_rounds, say,
                                       profile=not args.no_profile)
        profiles.update(prof)
        return got

    async def p2() -> list[stats.Row]:
        from bench import p2_failover

        assert lab is not None
        return await p2_failover.run(lab, args.p2_n, args.p2_rounds, say, keep=args.keep,
                                     loop_rounds=args.p2_loop_rounds)

    try:
        for name, fn in (("P1", p1), ("P3", p3), ("P4", p4), ("P2", p2)):
            if name not in wanted:
                continue
            try:
                rows += await fn()
            except Exception as exc:
                logging.getLogger("bench").exception("%s failed", name)
                rows.append(stats.Row(name, "(did not complete)", "-", "", "", errors=[f"{exc}"[:600]]))
            save(out, rows, m, profiles, complete=False)
            say(f"{name} done; report so far in {out}")
    finally:
        for one in (lab, agent_lab):
            if one is not None:
                await one.close()
    return rows, save(out, rows, m, profiles, complete=True)


def cli(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    def say(text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    out = Path(args.json)
    rows, rep = asyncio.run(main(args, say, out))
    m = rep["machine"]
    print(f"\ncephdr benchmarks, {m['at']}: {m['cores']} cores, load {m['load_1_5_15']} at the start, "
          f"{m['load_now_1_5_15']} at the end; NATS role {m['role']}\n")
    print(stats.table(rows))
    for name, text in rep["profiles"].items():
        print(f"\nprofile, {name}:\n{text}")
    print(f"\nJSON report: {out}")
    return 0 if all(r.case != "(did not complete)" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(cli())
