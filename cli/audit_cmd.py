"""`cephdr audit`: who asked what, when, and how it ended, from the stream `CEPHDR_AUDIT`.

    cephdr audit --since 2h --outcome error
    cephdr audit --actor alice --subject 'cephdr.ctl.failover' --json

Reads with an ordered consumer (server-side start time for `--since`); the other filters apply
here. Exit 0 with the matching records, 4 when the bus or the stream is unavailable.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import fnmatch
import json
import os
import re
import sys
from collections import deque
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bus import subjects
from bus.connect import PermissionLog
from cli.req_cmd import add_tls_args, cli_connect, print_error
from cli.session import DEFAULT_URL, lab_defaults, lab_tls
from schemas.audit import AuditRecord
from schemas.errors import CephDRError, InvalidRequest, Unavailable

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# how long to wait for the next record before deciding the stream has no more for us
IDLE_S = 2.0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="show the audit trail (every command served, by whom, outcome)")
    p.add_argument("--since", help="only newer records: 30m, 2h, 7d, or an ISO time (UTC if no zone)")
    p.add_argument("--actor", help="only this actor (the human behind the request)")
    p.add_argument("--subject", help="only these command subjects (glob: 'cephdr.ctl.*', '*.promote')")
    p.add_argument("--outcome", help="'ok', 'error' (any failure) or an error code (confirmation_required)")
    p.add_argument("--limit", type=int, default=1000, help="the last N matching records (default 1000)")
    # connection options as every operator command's (cli/session.py), whose --actor means "who asks"
    env = os.environ
    lab_url, lab_creds = lab_defaults(env)
    explicit = env.get("CEPHDR_NATS") or env.get("CEPHDR_NATS_URL")
    p.add_argument("--nats", default=explicit or lab_url or DEFAULT_URL,
                   help=f"NATS URL (default $CEPHDR_NATS, else the lab at $CEPHDR_LAB_DIR, "
                   f"else {DEFAULT_URL})")
    p.add_argument("--creds", default=env.get("CEPHDR_NATS_CREDS") or ("" if explicit else lab_creds),
                   help="NATS credentials file (default $CEPHDR_NATS_CREDS, else the lab's operator.nk)")
    add_tls_args(p)
    if not (explicit or any(env.get(f"CEPHDR_NATS_TLS_{k}") for k in ("CA", "CERT", "KEY"))):
        p.set_defaults(**lab_tls(env))
    p.add_argument("--json", action="store_true", help="one JSON record per line")
    p.set_defaults(func=run)


def parse_since(text: str, now: float) -> float:
    """A relative age (`90s`, `30m`, `2h`, `7d`) or an ISO time -> epoch seconds."""
    m = _DURATION.match(text.strip())
    if m:
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(
            f"--since {text!r}: expected an age like 30m, 2h, 7d or an ISO time", where="--since"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


@dataclass(frozen=True)
class Filters:
    since: float | None = None
    actor: str | None = None
    subject: str | None = None
    outcome: str | None = None

    def match(self, r: AuditRecord) -> bool:
        if self.since is not None and r.at < self.since:
            return False
        if self.actor is not None and r.actor != self.actor:
            return False
        if self.subject is not None and not fnmatch.fnmatchcase(r.subject, self.subject):
            return False
        if self.outcome == "error":
            return r.outcome != "ok"
        return self.outcome is None or r.outcome == self.outcome


def line(r: AuditRecord) -> str:
    when = dt.datetime.fromtimestamp(r.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    who = f"{r.actor or '-'} via {r.sender or '-'}"
    return f"{when}  {r.outcome:<22} {r.duration_ms:>9.1f}ms  {r.subject}  {who}" + (
        f"  {r.message}" if r.message else ""
    )


def run(args: argparse.Namespace) -> int:
    try:
        f = Filters(
            since=parse_since(args.since, dt.datetime.now(dt.UTC).timestamp()) if args.since else None,
            actor=args.actor,
            subject=args.subject,
            outcome=args.outcome,
        )
    except CephDRError as err:
        return print_error(err)
    try:
        records = asyncio.run(read(args, f))
    except CephDRError as err:
        return print_error(err)
    for r in records:
        print(json.dumps(msgspec.to_builtins(r), sort_keys=True) if args.json else line(r))
    if not args.json:
        print(f"{len(records)} record(s)", file=sys.stderr)
    return 0


async def read(args: argparse.Namespace, f: Filters) -> list[AuditRecord]:
    perms = PermissionLog()
    nc = await cli_connect(args, perms)
    try:
        js = nc.jetstream(timeout=5.0)
        stream = subjects.AUDIT_STREAM
        try:
            info = await js.stream_info(subjects.AUDIT_STREAM)
        except NotFoundError:
            raise Unavailable(f"no stream {stream} yet (the controller creates it)", where=stream) from None
        except Exception as exc:
            raise Unavailable(f"cannot read {stream}: {exc}", where=stream) from None
        last = info.state.last_seq
        out: deque[AuditRecord] = deque(maxlen=max(1, args.limit))
        if info.state.messages == 0:
            return []
        cfg = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        if f.since is not None:
            # the server starts at `since`: an old, long trail is not read from its beginning
            cfg = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=dt.datetime.fromtimestamp(f.since, dt.UTC),
            )
        sub = await js.subscribe(
            f"{_root(info.config.subjects)}>", stream=subjects.AUDIT_STREAM, ordered_consumer=True, config=cfg
        )
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=IDLE_S)
                except TimeoutError:
                    break  # nothing newer than `since`, or the rest is still on its way: done
                try:
                    rec = msgspec.json.decode(msg.data, type=AuditRecord)
                except msgspec.DecodeError:
                    continue  # not ours (or a future format): skip, do not fail the listing
                if f.match(rec):
                    out.append(rec)
                meta = msg.metadata
                if meta.sequence.stream >= last or meta.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
        return list(out)
    finally:
        await nc.close()


def _root(stream_subjects: list[str] | None) -> str:
    # the stream captures `<prefix>.audit.>`; follow whatever prefix it was made with
    first = (stream_subjects or ["cephdr.audit.>"])[0]
    return first[:-1] if first.endswith(">") else first + "."

