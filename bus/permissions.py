"""Who may do what on the bus: the NATS permissions of each cephdr identity, in one place.

`cephdr nats-config` writes these into the server configuration, the lab runs with them, and the
permission-matrix tests check them against a real server. Pure (no nats import): the lists are
data, derived from the same names the code uses (bus/subjects.py), so a renamed subject changes
the permissions with it.

A JetStream operation is a request to a `$JS.API.<verb>.<stream>...` subject; a KV put is a
publish to `$KV.<bucket>.<key>`; a KV get is `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`;
a watch creates an ordered consumer (`$JS.API.CONSUMER.CREATE.KV_<bucket>.<name>.<filter>`)
whose messages arrive on the client's own inbox. Replies to requests a service received are
allowed by `allow_responses` (once per request), never by a publish permission.

Every identity may subscribe only to its own inbox prefix (`_INBOX_<role>`, see
`inbox_prefix`): nobody reads another's replies, and the audit trail can name the sender by the
prefix of the reply subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bus import subjects

AGENT_ROLE_PREFIX = "agent-"
FIXED_ROLES = ("controller", "operator", "chatops", "viewer")
# lab and debugging only: reads everything on the bus (secret-hygiene tests), publishes nothing
TAP_ROLE = "tap"

# the agents' endpoints that change nothing (names relative to `<prefix>.agent.<site>`); a unit
# test checks each is a registered agent endpoint
AGENT_READ_ONLY = (
    "status", "op.get", "op.list", "daemon.status",
    "rbd.image.status", "rbd.pool.info", "rbd.peer.list", "rbd.schedule.list", "rbd.schedule.status",
    "fs.peer.list", "fs.dir.list", "fs.schedule.status", "fs.snapshot.list",
)
# the controller's endpoints that change nothing (relative to `<prefix>.ctl`)
CTL_READ_ONLY = ("status", "site.list", "group.get", "group.list", "op.get", "op.list", "auto.get")

_SITE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()
    allow_responses: bool = False  # serves requests: may answer each one it received, once


def inbox_prefix(role: str) -> str:
    """`_INBOX_<role>` with every character outside [A-Za-z0-9_] made `_` (a single token)."""
    return "_INBOX_" + re.sub(r"[^A-Za-z0-9_]", "_", role)


def agent_role(site: str) -> str:
    return f"{AGENT_ROLE_PREFIX}{site}"


def roles(sites: list[str], *, tap: bool = False) -> list[str]:
    return [agent_role(s) for s in sites] + list(FIXED_ROLES) + ([TAP_ROLE] if tap else [])


def _kv(bucket: str) -> str:
    return f"KV_{bucket}"


def _stream_read(stream: str) -> list[str]:
    """Reading a stream (or KV bucket) without changing it: info, get, and consumers that deliver
    to the reader's own inbox."""
    api = "$JS.API"
    return [
        f"{api}.STREAM.INFO.{stream}",
        f"{api}.STREAM.MSG.GET.{stream}",
        f"{api}.DIRECT.GET.{stream}",
        f"{api}.DIRECT.GET.{stream}.>",
        f"{api}.CONSUMER.CREATE.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}.>",
        f"{api}.CONSUMER.INFO.{stream}.*",
        f"{api}.CONSUMER.DELETE.{stream}.*",
        f"{api}.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.ACK.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def _discovery(service: str) -> list[str]:
    """The `$SRV` subjects a nats micro service named `service` listens on."""
    return [f"$SRV.{verb}{tail}" for verb in ("PING", "INFO", "STATS")
            for tail in ("", f".{service}", f".{service}.*")]


def _read_only_requests(prefix: str) -> list[str]:
    return ([f"{prefix}.agent.*.{name}" for name in AGENT_READ_ONLY]
            + [f"{prefix}.ctl.{name}" for name in CTL_READ_ONLY])


def _reader_js(prefix: str) -> list[str]:
    return ["$JS.API.INFO", "$JS.API.STREAM.NAMES", *_stream_read(subjects.EVENTS_STREAM)]


def for_role(role: str, prefix: str = subjects.PREFIX) -> Permissions:
    """The permissions of `role` ("agent-<site>", "controller", "operator", "chatops", "viewer",
    "tap"); an unknown role raises ValueError."""
    inbox = f"{inbox_prefix(role)}.>"
    state, leases = subjects.STATE_BUCKET, subjects.LEASE_BUCKET
    if role.startswith(AGENT_ROLE_PREFIX):
        site = role.removeprefix(AGENT_ROLE_PREFIX)
        if not _SITE.match(site):
            raise ValueError(f"bad site name in role {role!r}")
        kv = _kv(state)
        own_keys = f"$KV.{state}.site.{site}.>"
        return Permissions(
            publish=(
                f"{prefix}.evt.{site}.>",
                f"{prefix}.audit.agent.{site}",
                own_keys,
                "$JS.API.INFO",
                # the first agent up may create the shared streams (nothing else of them)
                *(f"$JS.API.STREAM.{verb}.{s}" for s in (subjects.EVENTS_STREAM, subjects.AUDIT_STREAM, kv)
                  for verb in ("INFO", "CREATE")),
                # reads the bucket (its own keys, the fence records), watches the fence records
                f"$JS.API.STREAM.MSG.GET.{kv}",
                f"$JS.API.DIRECT.GET.{kv}.{own_keys}",
                f"$JS.API.DIRECT.GET.{kv}.$KV.{state}.{subjects.FENCE_KEY_PREFIX}>",
                # nats-py's watcher names neither consumer nor filter in the subject (the filter is
                # in the body), so reads of the bucket cannot be narrowed by key: only writes are
                f"$JS.API.CONSUMER.CREATE.{kv}",
                f"$JS.API.CONSUMER.CREATE.{kv}.*.$KV.{state}.{subjects.FENCE_KEY_PREFIX}>",
                f"$JS.API.CONSUMER.INFO.{kv}.*",
                f"$JS.API.CONSUMER.DELETE.{kv}.*",
                f"$JS.FC.{kv}.>",
            ),
            subscribe=(f"{prefix}.agent.{site}.>", *_discovery("cephdr-agent"), inbox),
            allow_responses=True,
        )
    if role == "controller":
        return Permissions(
            publish=(
                f"{prefix}.agent.>",  # commands the agents
                f"{prefix}.ctl.>",  # its own API (another controller's, while it stands by)
                f"{prefix}.ctl.evt.>",
                f"{prefix}.audit.ctl",
                "$JS.API.>",  # owns the streams and buckets
                f"$KV.{state}.>",
                f"$KV.{leases}.>",
                "$JS.ACK.>",
                "$JS.FC.>",
                "$SRV.>",
            ),
            subscribe=(f"{prefix}.ctl.>", f"{prefix}.evt.>", *_discovery("cephdr-controller"), inbox),
            allow_responses=True,
        )
    if role == "operator":
        return Permissions(
            publish=(
                f"{prefix}.ctl.>",
                *(f"{prefix}.agent.*.{name}" for name in AGENT_READ_ONLY),
                "$SRV.>",
                *_reader_js(prefix),
                *_stream_read(subjects.AUDIT_STREAM),
                *_stream_read(_kv(state)),
                *_stream_read(_kv(leases)),
            ),
            # nobody but the controller speaks for the controller
            publish_deny=(f"{prefix}.ctl.evt.>",),
            subscribe=(f"{prefix}.evt.>", f"{prefix}.ctl.evt.>", f"{prefix}.audit.>", inbox),
        )
    if role == "chatops":
        return Permissions(
            publish=(f"{prefix}.ctl.>", "$SRV.>"),
            publish_deny=(f"{prefix}.ctl.evt.>",),
            # the controller's own events (decisions, failovers, leader changes) are its alerts
            subscribe=(f"{prefix}.ctl.evt.>", inbox),
        )
    if role == "viewer":
        return Permissions(
            publish=(*_read_only_requests(prefix), "$SRV.>", *_reader_js(prefix)),
            subscribe=(f"{prefix}.evt.>", f"{prefix}.ctl.evt.>", inbox),
        )
    if role == TAP_ROLE:
        return Permissions(publish=(), subscribe=(">",))
    raise ValueError(f"unknown role {role!r} (agent-<site>, {', '.join(FIXED_ROLES)}, {TAP_ROLE})")


def role_of_credentials(path: str) -> str:
    """The role a credentials file written by `cephdr nats-config` is for: its name without the
    `.nk` suffix (`/etc/cephdr/operator.nk` -> "operator")."""
    name = path.rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".nk") else name.rsplit(".", 1)[0]
