"""The agent's configuration file (TOML), validated with msgspec.

site = "site-a"

[nats]
servers = ["nats://127.0.0.1:4222"]
credentials = ""            # .creds or nkey seed file; empty = no auth (lab)

[ceph]
conf = "/etc/ceph/ceph.conf"
client = "client.admin"
keyring = ""                # empty: the one ceph.conf names
rbd_mirror_asok = "/run/ceph/ceph-client.rbd-mirror.a.asok"
cephfs_mirror_asok = ""

[status]
interval = 5.0              # seconds between scans
pools = ["rbd"]             # RBD pools to scan; empty = every pool with mirroring enabled
filesystems = ["cephfs"]

[agent]
identity_file = "/var/lib/cephdr/site-a.key"
heartbeat_interval = 5.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from bus import toml_writer
from bus.config import NatsConfig, load_toml
from schemas.ids import Fs, Pool, Site

Seconds = Annotated[float, Meta(gt=0, le=3600)]


class Timeouts(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds. `op` is the default deadline of a call; librados' own limits sit a bit above it."""

    connect: float = 10.0
    op: float = 10.0
    mon_op: float = 15.0
    osd_op: float = 30.0


class CephConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    conf: str = "/etc/ceph/ceph.conf"
    client: str = "client.admin"
    keyring: str = ""
    rbd_mirror_asok: str = ""
    cephfs_mirror_asok: str = ""
    timeouts: Timeouts = msgspec.field(default_factory=Timeouts)
    max_workers: Annotated[int, Meta(ge=1, le=64)] = 8


class StatusConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    interval: Seconds = 5.0
    pools: list[Pool] = msgspec.field(default_factory=list)
    filesystems: list[Fs] = msgspec.field(default_factory=list)


class AgentSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    identity_file: str = "/var/lib/cephdr/agent.key"
    heartbeat_interval: Seconds = 5.0
    peer_probe_interval: Seconds = 10.0


class AgentConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    site: Site
    nats: NatsConfig = msgspec.field(default_factory=NatsConfig)
    ceph: CephConfig = msgspec.field(default_factory=CephConfig)
    status: StatusConfig = msgspec.field(default_factory=StatusConfig)
    agent: AgentSection = msgspec.field(default_factory=AgentSection)


def load(path: str | Path) -> AgentConfig:
    """Read and validate; a bad file raises `InvalidRequest` naming the file and the key at fault."""
    return load_toml(path, AgentConfig, "agent config")


def dump(cfg: AgentConfig) -> str:
    """TOML text for a config (the lab writes agent configs with this)."""
    return toml_writer.dumps(cfg)
