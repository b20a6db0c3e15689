"""The micro v1 discovery replies ($SRV.PING/INFO/STATS) against the shapes natscli checks
(tests/data/micro_v1/), and collecting every reply to one discovery request, as `nats micro`
does (it waits for all services, not the first)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft7Validator
from nats.aio.client import Client as NATS
from referencing import Registry, Resource

Verb = Literal["PING", "INFO", "STATS"]
DIR = Path(__file__).resolve().parent.parent / "data" / "micro_v1"
_FILES = {"PING": "ping_response.json", "INFO": "info_response.json", "STATS": "stats_response.json"}


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DIR / name).read_text())
    return doc


@cache
def validator(verb: Verb) -> Draft7Validator:
    docs = [_load(n) for n in ("definitions.json", *_FILES.values())]
    registry: Registry[Any] = Registry().with_resources(
        (d["$id"], Resource.from_contents(d)) for d in docs
    )
    schema = _load(_FILES[verb])
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, registry=registry)


def errors(verb: Verb, reply: object) -> list[str]:
    """Every schema violation of `reply`, as "json/path: message" ("$" for the top)."""
    out = []
    for e in sorted(validator(verb).iter_errors(reply), key=lambda e: list(map(str, e.absolute_path))):
        path = "/".join(str(p) for p in e.absolute_path) or "$"
        out.append(f"{path}: {e.message}")
    return out


async def collect(nc: NATS, subject: str, *, want: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Publish `subject` with a reply inbox; gather replies until `want` arrived or `timeout`
    passed (then the caller sees how many came). Replies are decoded JSON."""
    got: list[dict[str, Any]] = []
    enough = asyncio.Event()
    inbox = nc.new_inbox()

    async def on_reply(msg: Any) -> None:
        got.append(json.loads(msg.data))
        if len(got) >= want:
            enough.set()

    sub = await nc.subscribe(inbox, cb=on_reply)
    try:
        await nc.publish(subject, b"", reply=inbox)
        await nc.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), timeout)
    finally:
        await sub.unsubscribe()
    return got
