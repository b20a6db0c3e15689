"""What every cephdr config file shares: the `[nats]` section, and reading a TOML file into a
validated Struct (config files and protection-group files alike)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta

from schemas.errors import InvalidRequest

T = TypeVar("T")


class NatsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    credentials: str = ""  # `<role>.nk` nkey seed from `cephdr nats-config` (or a .creds file)
    # TLS: the CA that signed the servers' certificates; cert + key only for mutual TLS
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    prefix: str = "cephdr"
    request_timeout: Annotated[float, Meta(gt=0, le=3600)] = 5.0


def load_toml(path: str | Path, typ: type[T], what: str) -> T:
    """Read and validate `path` as `typ`; a bad file raises `InvalidRequest` naming the file and
    the key at fault (`what` says which kind of file, e.g. "agent config")."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except OSError as exc:
        raise InvalidRequest(f"cannot read {what} {p}: {exc.strerror}", where=str(p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRequest(f"{what} {p} is not valid TOML: {exc}", where=str(p)) from None
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"{what} {p}: {exc}", where=str(p)) from None
