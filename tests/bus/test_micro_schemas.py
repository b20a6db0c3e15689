"""`nats micro ls / info / stats` print a service only when its $SRV.PING/INFO/STATS replies pass
natscli's micro v1 schemas. Here the agent's and the controller's real routers are served through
bus/service.py against a real nats-server and every discovery reply is checked against the shapes
in tests/data/micro_v1/; a bare nats-py service (its defaults: description null, data null) shows
the check can fail. The lab's own services are checked the same way in
tests/system/test_npm_client.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from helpers.micro_v1 import Verb, collect, errors
from nats.aio.client import Client as NATS
from nats.micro import add_service
from nats.micro.request import Request as MicroRequest

import agent.service.all  # noqa: F401  (registers the agent's endpoints)
import controller.service.all  # noqa: F401  (registers the controller's endpoints)
from agent.service.registry import router as agent_router
from bus.router import Router
from bus.service import ServiceHost
from controller.service.registry import router as ctl_router

pytestmark = pytest.mark.bus
VERBS: tuple[Verb, ...] = ("PING", "INFO", "STATS")


@pytest.fixture
async def hosts(nc: NATS) -> AsyncIterator[dict[str, ServiceHost[Any]]]:
    """Both services as bus/service.py serves them, under a unique prefix and name per test (the
    session's server is shared). No handler runs: only refused requests are sent, so no context."""
    tag = uuid.uuid4().hex[:8]
    routers: dict[str, Router[Any]] = {"agent": agent_router, "controller": ctl_router}
    out: dict[str, ServiceHost[Any]] = {}
    for kind, router in routers.items():
        out[kind] = ServiceHost(
            nc, name=f"cephdr-{kind}-{tag}", version="0.1.0", description=f"cephdr {kind} (test)",
            prefix=f"t{tag}.{kind}", router=router, ctx=cast(Any, None),
            metadata={"site": "site-t"} if kind == "agent" else None,
        )
        await out[kind].start()
    try:
        yield out
    finally:
        for h in out.values():
            await h.stop()


async def test_every_discovery_reply_of_both_services_passes(
    nc: NATS, hosts: dict[str, ServiceHost[Any]]
) -> None:
    for h in hosts.values():
        # a refused request makes STATS carry counters, times and an error, as in production
        first = next(iter(h.router.endpoints.values()))
        bad = await nc.request(first.subject(h.prefix), b"{not json", timeout=5)
        assert bad.headers and bad.headers["Nats-Service-Error-Code"] == "400"
        for verb in VERBS:
            replies = await collect(nc, f"$SRV.{verb}.{h.name}", want=1)
            assert len(replies) == 1, (verb, h.name, replies)
            assert errors(verb, replies[0]) == [], (verb, h.name, replies[0])
        info = (await collect(nc, f"$SRV.INFO.{h.name}", want=1))[0]
        assert info["description"] == h.description
        served = {ep["subject"]: ep["metadata"] for ep in info["endpoints"]}
        assert set(served) == {ep.subject(h.prefix) for ep in h.router.endpoints.values()}
        for ep in h.router.endpoints.values():
            assert served[ep.subject(h.prefix)]["request"] == ep.request.__name__
        stats = (await collect(nc, f"$SRV.STATS.{h.name}", want=1))[0]
        used = [ep for ep in stats["endpoints"] if ep["num_requests"]]
        assert [ep["subject"] for ep in used] == [first.subject(h.prefix)]
        assert used[0]["processing_time"] > 0 and used[0]["data"] == {}
        # a refusal counts as an error, as `nats micro stats` shows it (nats-py counts only raises)
        assert used[0]["num_errors"] == 1 and used[0]["last_error"].startswith("400:malformed JSON")


async def test_nats_py_defaults_fail_the_schemas(nc: NATS) -> None:
    """The failure the settings in bus/service.py avoid: without `description` and
    `stats_handler`, INFO has description null and STATS data null, and natscli rejects both."""
    name = f"bare-{uuid.uuid4().hex[:8]}"

    async def ok(req: MicroRequest) -> None:
        await req.respond(b"{}")

    svc = await add_service(nc, name=name, version="0.1.0")
    try:
        await svc.add_endpoint(name="hello", subject=f"{name}.hello", handler=ok)
        await nc.request(f"{name}.hello", b"{}", timeout=5)
        replies = {verb: (await collect(nc, f"$SRV.{verb}.{name}", want=1))[0] for verb in VERBS}
    finally:
        await svc.stop()
    assert errors("PING", replies["PING"]) == []
    assert errors("INFO", replies["INFO"]) == ["description: None is not of type 'string'"]
    assert errors("STATS", replies["STATS"]) == ["endpoints/0/data: None is not of type 'object'"]


@pytest.mark.parametrize(
    ("verb", "reply", "fragment"),
    [
        ("PING", {"type": "io.nats.micro.v1.ping_response", "name": "a.b", "id": "x", "version": "1.0.0"},
         "does not match"),
        ("PING", {"type": "io.nats.micro.v1.ping_response", "name": "a", "id": "x", "version": "v1"},
         "does not match"),
        ("INFO", {"type": "io.nats.micro.v1.ping_response", "name": "a", "id": "x", "version": "1.0.0",
                  "description": "", "endpoints": []}, "was expected"),
        ("STATS", {"type": "io.nats.micro.v1.stats_response", "name": "a", "id": "x", "version": "1.0.0",
                   "started": "yesterday", "endpoints": []}, "does not match"),
        ("STATS", {"type": "io.nats.micro.v1.stats_response", "name": "a", "id": "x", "version": "1.0.0",
                   "started": "2026-11-21T04:40:58.854Z",
                   "endpoints": [{"name": "e", "subject": "s", "num_requests": -1, "num_errors": 0,
                                  "last_error": "", "processing_time": 0, "average_processing_time": 0,
                                  "data": {}}]},
         "less than the minimum"),
    ],
)
def test_the_shapes_reject_what_natscli_would(verb: Verb, reply: dict[str, object], fragment: str) -> None:
    found = errors(verb, reply)
    assert len(found) == 1 and fragment in found[0], found
