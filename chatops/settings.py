"""The plugin's settings: the dict `CEPHDR_CHATOPS` in errbot's config.py (pure).

CEPHDR_CHATOPS = {
    "nats": "nats://127.0.0.1:4222",
    "creds": "/etc/cephdr/chatops.creds",   # the chatops role's NATS credentials ("" for none)
    "tls_ca": "/etc/cephdr/nats/tls/ca.pem",  # TLS to NATS (and mutual TLS with tls_cert/tls_key)
    "channel": "#dr",                       # where progress, alerts and decisions are posted
    "users": {"@alice": ["force"], "@bob": ["operate"], "*": ["view"]},
    "confirm_timeout": 60,                  # seconds to confirm a forced failover
    "request_timeout": 10,                  # every controller request's deadline
    "steps": True,                          # post each finished step of a failover/failback
}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from chatops.rules import AllowList, Role


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    nats: str = "nats://127.0.0.1:4222"
    creds: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    role: str = "chatops"
    prefix: str = "cephdr"
    channel: str = ""
    users: dict[str, list[Role]] = msgspec.field(default_factory=dict)
    confirm_timeout: Annotated[float, Meta(gt=0, le=3600)] = 60.0
    request_timeout: Annotated[float, Meta(gt=0, le=300)] = 10.0
    steps: bool = True
    ops_limit: Annotated[int, Meta(ge=1, le=100)] = 10

    @property
    def allow(self) -> AllowList:
        return AllowList(users=self.users)


def load(raw: Mapping[str, Any] | None) -> Settings:
    """Validated settings; a typo in the config is an error naming the key, at plugin start."""
    try:
        return msgspec.convert(dict(raw or {}), Settings)
    except msgspec.ValidationError as exc:
        raise ValueError(f"CEPHDR_CHATOPS: {exc}") from None
