"""`cephdr nats-config --out DIR --sites site-a,site-b [--tls --tls-host H ...]`: the NATS
identities (one nkey per role), the server's permissions block and optionally TLS files.

Prints what it wrote and how to use it; never a seed or a private key.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from bus import identities, subjects
from bus import permissions as perms

_SITE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "nats-config",
        help="generate NATS credentials per role (nkeys), the server's permissions and TLS files",
        description="Writes DIR/<role>.nk (nkey seeds, 0600) for agent-<site>, controller, operator, "
        "chatops and viewer, DIR/auth.conf (include it in every nats-server config) and, with --tls, "
        "a CA, server and client certificates under DIR/tls and DIR/tls.conf. Existing keys are kept.",
    )
    p.add_argument("--out", required=True, help="output directory (keep it private: it holds the seeds)")
    p.add_argument("--sites", required=True, help="comma-separated site names, e.g. site-a,site-b")
    p.add_argument("--prefix", default=subjects.PREFIX, help="subject prefix (default cephdr)")
    p.add_argument("--tls", action="store_true", help="also make a CA, server and client certificates")
    p.add_argument("--tls-host", action="append", default=[],
                   help="a name or address clients use to reach a server (repeat; default 127.0.0.1)")
    p.add_argument("--tap", action="store_true",
                   help="also a 'tap' identity that reads everything (debugging; do not deploy)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    bad = [s for s in sites if not _SITE.match(s)]
    if not sites or bad:
        print(f"cephdr nats-config: bad --sites {args.sites!r} (names like site-a)", file=sys.stderr)
        return 2
    out = Path(args.out)
    hosts = (args.tls_host or ["127.0.0.1"]) if args.tls else None
    gen = identities.generate(out, sites, prefix=args.prefix, tls_hosts=hosts, tap=args.tap)
    print(f"wrote to {out}:")
    for role, path in gen.credentials.items():
        print(f"  {role:<14} {path}  (public key {gen.public_keys[role]}, inbox {perms.inbox_prefix(role)})")
    print(f"  server auth    {gen.auth_conf}")
    if gen.tls_conf is not None and gen.tls is not None:
        print(f"  server tls     {gen.tls_conf} (CA {gen.tls.ca}, mutual TLS; "
              f"client certs {out}/tls/<role>.pem)")
    print("\nnext: add to every nats-server config")
    print(f'  include "{gen.auth_conf.resolve()}"')
    if gen.tls_conf is not None:
        print(f'  include "{gen.tls_conf.resolve()}"')
    print("and give each daemon its own file only, in its config's [nats] section:")
    print('  credentials = "/etc/cephdr/<role>.nk"   # keep the name: the role picks the inbox prefix')
    if gen.tls_conf is not None:
        print('  tls_ca = "/etc/cephdr/ca.pem"; tls_cert = "/etc/cephdr/<role>.pem"; '
              'tls_key = "/etc/cephdr/<role>.key"')
    return 0
