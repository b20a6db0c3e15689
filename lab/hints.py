"""`python -m lab.hints --dir LAB`: what to try next against a running lab (printed by `make demo`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab import model


def hints(info: model.LabInfo) -> str:
    a, b = info.site("site-a"), info.site("site-b")
    venv = Path(sys.executable).parent
    op = info.creds("operator")
    creds = f" --creds {op}" if op else ""
    nkey = f" --nkey {op} --inbox-prefix _INBOX_operator" if op else ""
    return f"""
The lab is up. Try:

  # each site's mirroring status, from its cephdr agent (NATS request/reply; nats-py, no Go CLI needed)
  {venv}/cephdr req cephdr.agent.site-a.status '{{}}' --nats {info.nats_url}{creds}

  # the sites as the controller knows them (from the agents' heartbeats)
  {venv}/cephdr req cephdr.ctl.site.list '{{}}' --nats {info.nats_url}{creds}

  # with the NATS CLI, if you have it (as the lab's operator identity: least privilege)
  nats --server {info.nats_url}{nkey} \\
      req cephdr.agent.site-b.rbd.pool.info '{{"pool": "rbd"}}'
  nats --server {info.nats_url}{nkey} micro ls

  # the Ceph CLIs, per site
  rbd -c {a.conf} mirror pool info rbd
  ceph -c {b.conf} -s

  # take it down (stops every process, removes all state)
  {venv}/cephdr lab down --dir {info.dir}
"""


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    print(hints(model.load(args.dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
