"""`cephdr events [--site S] [--group G] [--kind K] [--since 15m] [--follow] [--live]`: the event
stream (`CEPHDR_EVENTS`: agents' `cephdr.evt.<site>.*` and the controller's `cephdr.ctl.evt.*`).

By default it prints what the stream kept since `--since` and exits; `--follow` keeps printing
as new events arrive. `--live` reads nothing from the stream, only what is published from now on
(including heartbeats with `--kind heartbeat`, which the stream does not keep). `--json` prints
one event per line as `{"subject": ..., "event": ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
from typing import Any

import msgspec
from nats.js import api

from bus.subjects import EVENTS_STREAM
from cli import exit_codes, tables
from cli.event_filter import EventFilter, since_seconds
from cli.session import Session, add_connection, report_error, run
from schemas.errors import CephDRError, InvalidRequest, Unavailable


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "events", help="the event stream: op progress, alerts, decisions, mirroring changes"
    )
    p.add_argument("--site", help="only events of this site")
    p.add_argument("--group", help="only events naming this group (controller events)")
    p.add_argument(
        "--kind", help="op, alert, group, decision, leader, rbd, rbd.image, fs, fence, daemon, ..."
    )
    p.add_argument("--since", default="15m", help="from this long ago (90s, 15m, 2h, 1d; default 15m)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new events (Ctrl-C ends)")
    p.add_argument("--live", action="store_true", help="only events published from now on (implies --follow)")
    p.add_argument("--max", type=int, default=0, help="stop after this many events (0: no limit)")
    add_connection(p)
    p.set_defaults(func=events)


def _print(args: argparse.Namespace, subject: str, body: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps({"subject": subject, "event": body}), flush=True)
    else:
        print(tables.event_line(subject, body), flush=True)


def _decode(data: bytes) -> dict[str, Any] | None:
    try:
        body = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return None
    return body if isinstance(body, dict) else None


def events(args: argparse.Namespace) -> int:
    try:
        window = since_seconds(args.since)
    except CephDRError as err:
        return report_error(err, args.json)
    if args.max < 0:
        return report_error(InvalidRequest("--max must be 0 or more", where="--max"), args.json)
    filt = EventFilter(site=args.site, group=args.group, kind=args.kind)

    async def body(s: Session) -> int:
        shown = 0
        # (subject, data, messages the stream still holds after this one; -1: live, unknown)
        queue: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue()

        async def on_live(msg: Any) -> None:
            queue.put_nowait((msg.subject, msg.data, -1))

        async def on_stored(msg: Any) -> None:
            queue.put_nowait((msg.subject, msg.data, msg.metadata.num_pending))

        caught_up = False
        if args.live or args.kind == "heartbeat":  # the stream keeps no heartbeat: live only
            for subj in filt.subjects(s.prefix):
                await s.nc.subscribe(subj, cb=on_live)
        else:
            start = datetime.datetime.fromtimestamp(time.time() - window, datetime.UTC)
            cfg = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=start)
            try:
                sub = await s.nc.jetstream().subscribe(
                    f"{s.prefix}.>", stream=EVENTS_STREAM, cb=on_stored, ordered_consumer=True, config=cfg
                )
                info = await sub.consumer_info()
            except Exception as exc:
                raise Unavailable(
                    f"cannot read stream {EVENTS_STREAM}: {exc} (try --live)", where=EVENTS_STREAM
                ) from None
            # nothing delivered and nothing pending: the window is empty
            caught_up = not info.num_pending and not (info.delivered and info.delivered.consumer_seq)
        follow = args.follow or args.live or args.kind == "heartbeat"
        while True:
            if caught_up and not follow:
                return exit_codes.OK
            subject, data, left = await queue.get()
            caught_up = caught_up or left == 0
            body = _decode(data)
            if body is None or not filt.matches(subject, body, s.prefix):
                continue
            _print(args, subject, body)
            shown += 1
            if args.max and shown >= args.max:
                return exit_codes.OK

    try:
        return run(args, body)
    except BrokenPipeError:  # `cephdr events | head`
        sys.stderr.close()
        return exit_codes.OK
