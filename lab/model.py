"""What a running lab is: the machine-readable description `cephdr lab up` writes to DIR/lab.json.

Tests, benchmarks and the agents read it; nothing else about a lab's layout is a contract.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from bus.config import NatsConfig

LAB_FILE = "lab.json"


class DaemonInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # ceph entity ("mon.a", "osd.0", "client.rbd-mirror.a") or "nats-server", "cephdr-agent"
    pid: int
    log: str | None = None
    asok: str | None = None  # admin socket, where the daemon has one


class SiteInfo(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # "site-a"
    conf: str  # path of this site's ceph.conf
    keyring: str  # an admin keyring path (client.admin)
    fsid: str
    mon_host: str
    dir: str  # the site's state directory
    run_dir: str  # pid files and admin sockets (kept short: AF_UNIX paths are limited to 107 bytes)
    rbd_pool: str = "rbd"
    fs_name: str = "cephfs"
    rbd_mirror_asok: str = ""
    cephfs_mirror_asok: str = ""
    daemons: list[DaemonInfo] = msgspec.field(default_factory=list)


class AgentInfo(msgspec.Struct, frozen=True, kw_only=True):
    site: str
    pid: int
    config: str
    log: str


class ControllerInfo(msgspec.Struct, frozen=True, kw_only=True):
    pid: int
    config: str  # LAB/controller/controller.toml
    log: str
    metrics_url: str = ""  # its Prometheus endpoint (empty: off)


class LabInfo(msgspec.Struct, frozen=True, kw_only=True):
    version: int = 1
    dir: str
    nats_url: str
    nats_pid: int
    objectstore: str = "bluestore"
    sites: list[SiteInfo] = msgspec.field(default_factory=list)
    agents: list[AgentInfo] = msgspec.field(default_factory=list)
    controller: ControllerInfo | None = None  # None: started with --no-agents
    peered: bool = False
    # role ("operator", "controller", "agent-site-a", ...) -> the credentials file the lab made for
    # it; empty while the lab's NATS runs without authentication
    credentials: dict[str, str] = msgspec.field(default_factory=dict)
    # with `lab up --tls`: the directory of the CA (ca.pem) and each role's client certificate
    # (<role>.pem, <role>.key; the server asks for one: mutual TLS); empty: plain TCP
    tls_dir: str = ""

    def creds(self, role: str) -> str:
        """The credentials file for `role`, or "" when the lab's NATS needs none."""
        return self.credentials.get(role, "")

    def nats_config(self, role: str) -> NatsConfig:
        """How `role` connects to the lab's NATS: URL, credentials and (with --tls) its certificate."""
        if not self.tls_dir:
            return NatsConfig(servers=[self.nats_url], credentials=self.creds(role))
        d = Path(self.tls_dir)
        return NatsConfig(servers=[self.nats_url], credentials=self.creds(role), tls_ca=str(d / "ca.pem"),
                          tls_cert=str(d / f"{role}.pem"), tls_key=str(d / f"{role}.key"))

    def site(self, name: str) -> SiteInfo:
        for s in self.sites:
            if s.name == name:
                return s
        raise KeyError(name)


def load(lab_dir: str | Path) -> LabInfo:
    return msgspec.json.decode(Path(lab_dir, LAB_FILE).read_bytes(), type=LabInfo)


def save(info: LabInfo) -> None:
    path = Path(info.dir, LAB_FILE)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(info)))
    tmp.replace(path)
