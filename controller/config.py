"""The controller's configuration file (TOML), validated with msgspec.

[nats]
servers = ["nats://127.0.0.1:4222"]
credentials = ""            # .creds or nkey seed file; empty = no auth (lab)
prefix = "cephdr"
request_timeout = 5.0

[controller]
site_timeout = 15.0         # a site whose agent is silent this long is not alive
agent_timeout = 30.0        # deadline of one request to an agent
poll_interval = 2.0         # how often waiting steps look again
reconcile_interval = 120.0  # every group is reconciled this often (drift repair); 0 = never
alert_interval = 10.0       # alerts are evaluated (and raised/cleared as events) this often
auto_interval = 5.0         # groups with an [auto] policy are evaluated this often
lease_ttl = 15.0            # leader lease: a dead leader's standby takes over within about this
lease_renew = 5.0           # the leader renews this often (lease_renew * 2 < lease_ttl)
metrics_listen = ""         # Prometheus GET /metrics, e.g. "127.0.0.1:9283"; empty = off
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from bus import toml_writer
from bus.config import NatsConfig, load_toml
from controller.metrics import parse_listen

Seconds = Annotated[float, Meta(gt=0, le=3600)]


class ControllerSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    site_timeout: Seconds = 15.0
    agent_timeout: Seconds = 30.0
    poll_interval: Seconds = 2.0
    reconcile_interval: Annotated[float, Meta(ge=0, le=86400)] = 120.0
    alert_interval: Seconds = 10.0
    auto_interval: Seconds = 5.0
    lease_ttl: Annotated[float, Meta(ge=2, le=600)] = 15.0
    lease_renew: Annotated[float, Meta(ge=0.5, le=300)] = 5.0
    metrics_listen: Annotated[str, Meta(max_length=128)] = ""

    def __post_init__(self) -> None:
        parse_listen(self.metrics_listen)  # ValueError names the bad value
        # at least two renewals per lease: one failed renew must not lose the lease
        if self.lease_renew * 2 >= self.lease_ttl:
            raise ValueError(
                f"lease_renew ({self.lease_renew:g}) must be less than half of lease_ttl ({self.lease_ttl:g})"
            )


class ControllerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    nats: NatsConfig = msgspec.field(default_factory=NatsConfig)
    controller: ControllerSection = msgspec.field(default_factory=ControllerSection)


def load(path: str | Path) -> ControllerConfig:
    """Read and validate; a bad file raises `InvalidRequest` naming the file and the key at fault."""
    return load_toml(path, ControllerConfig, "controller config")


def dump(cfg: ControllerConfig) -> str:
    """TOML text for a config (the lab writes its controller's config with this)."""
    return toml_writer.dumps(cfg)
