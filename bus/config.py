"""The `[nats]` section every cephdr process's config file shares."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class NatsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    credentials: str = ""
    prefix: str = "cephdr"
    request_timeout: Annotated[float, Meta(gt=0, le=3600)] = 5.0
