"""The service boundary, against a real nats-server: how every outcome becomes a reply."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from nats.aio.client import Client as NATS

from bus.router import Router
from bus.service import Outcome, ServiceHost
from schemas.common import Command, Done, Request
from schemas.errors import Busy, NotFound

pytestmark = pytest.mark.bus


class Ctx:
    def __init__(self) -> None:
        self.calls = 0
        self.busy_left = 0


class Echo(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: str
    times: int = 1


class Echoed(msgspec.Struct, frozen=True, kw_only=True):
    text: str


class Act(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    what: str


router: Router[Ctx] = Router()
Host = tuple[ServiceHost[Ctx], Ctx, list[Outcome]]


@router.command("test.echo", request=Echo, reply=Echoed)
async def echo(ctx: Ctx, req: Echo) -> Echoed:
    """Echo text."""
    return Echoed(text=req.text * req.times)


@router.command("test.act", request=Act, reply=Done)
async def act(ctx: Ctx, req: Act) -> Done:
    """Count side effects."""
    if req.what == "missing":
        raise NotFound("no such thing", where="$.what")
    if req.what == "busy" and ctx.busy_left > 0:
        ctx.busy_left -= 1
        raise Busy("try again")
    if req.what == "bug":
        raise RuntimeError("secret internals /etc/ceph/keyring")
    ctx.calls += 1
    return Done(message=f"call {ctx.calls}")


@pytest.fixture
async def host(nc: NATS) -> AsyncIterator[Host]:
    ctx = Ctx()
    seen: list[Outcome] = []

    async def audit(o: Outcome) -> None:
        seen.append(o)

    prefix = f"t{uuid.uuid4().hex[:8]}"
    h = ServiceHost(
        nc,
        name="cephdr-test",
        version="0.1.0",
        description="test service",
        prefix=prefix,
        router=router,
        ctx=ctx,
        metadata={"site": "site-t"},
        audit=audit,
        max_request_bytes=1024,
    )
    await h.start()
    try:
        yield h, ctx, seen
    finally:
        await h.stop()


async def req(nc: NATS, subject: str, body: bytes) -> tuple[dict[str, str], dict[str, object]]:
    msg = await nc.request(subject, body, timeout=5)
    return dict(msg.headers or {}), json.loads(msg.data) if msg.data else {}


async def test_success_reply_is_the_struct(nc: NATS, host: Host) -> None:
    h, _, _ = host
    headers, body = await req(nc, f"{h.prefix}.test.echo", b'{"text": "ab", "times": 2}')
    assert body == {"text": "abab"}
    assert "Nats-Service-Error-Code" not in headers


@pytest.mark.parametrize(
    ("payload", "where", "fragment"),
    [
        (b'{"text": 1}', "$.text", "Expected `str`, got `int`"),
        (b'{"text": "a", "bogus": 1}', "$", "unknown field `bogus`"),
        (b'{"times": 2}', "$", "missing required field `text`"),
        (b'{"text": "a"', "$", "malformed JSON"),
        (b"[1,2]", "$", "Expected `object`"),
    ],
)
async def test_bad_input_gets_400_with_where(
    nc: NATS, host: Host, payload: bytes, where: str, fragment: str
) -> None:
    h, _, _ = host
    headers, body = await req(nc, f"{h.prefix}.test.echo", payload)
    assert headers["Nats-Service-Error-Code"] == "400"
    err = body["error"]
    assert isinstance(err, dict)
    assert err["code"] == "invalid_request"
    assert err["where"] == where
    assert fragment in str(err["message"])
    assert err["retryable"] is False


async def test_oversized_request_refused(nc: NATS, host: Host) -> None:
    h, ctx, _ = host
    payload = json.dumps({"request_id": "req-00000001", "what": "x" * 2000}).encode()
    headers, body = await req(nc, f"{h.prefix}.test.act", payload)
    assert headers["Nats-Service-Error-Code"] == "413"
    assert body["error"]["code"] == "request_too_large"  # type: ignore[index]
    assert ctx.calls == 0


async def test_repeated_request_id_acts_once(nc: NATS, host: Host) -> None:
    h, ctx, _ = host
    payload = b'{"request_id": "req-00000002", "what": "thing"}'
    _, first = await req(nc, f"{h.prefix}.test.act", payload)
    _, second = await req(nc, f"{h.prefix}.test.act", payload)
    assert first == second == {"changed": True, "message": "call 1"}
    assert ctx.calls == 1
    # the same id for another request is refused, not answered with the first outcome
    headers, _ = await req(nc, f"{h.prefix}.test.act", b'{"request_id": "req-00000002", "what": "other"}')
    assert headers["Nats-Service-Error-Code"] == "409"
    assert ctx.calls == 1


async def test_retryable_failure_is_not_remembered(nc: NATS, host: Host) -> None:
    h, ctx, _ = host
    ctx.busy_left = 1
    payload = b'{"request_id": "req-00000003", "what": "busy"}'
    headers, body = await req(nc, f"{h.prefix}.test.act", payload)
    assert headers["Nats-Service-Error-Code"] == "409"
    assert body["error"]["retryable"] is True  # type: ignore[index]
    _, body = await req(nc, f"{h.prefix}.test.act", payload)
    assert body == {"changed": True, "message": "call 1"}


async def test_domain_error_and_bug(nc: NATS, host: Host) -> None:
    h, _, seen = host
    headers, body = await req(
        nc, f"{h.prefix}.test.act", b'{"request_id": "req-00000004", "what": "missing"}'
    )
    assert headers["Nats-Service-Error-Code"] == "404"
    assert headers["Nats-Service-Error"] == "no such thing"
    assert body["error"] == {
        "code": "not_found",
        "message": "no such thing",
        "retryable": False,
        "where": "$.what",
        "details": {},
    }
    headers, body = await req(nc, f"{h.prefix}.test.act", b'{"request_id": "req-00000005", "what": "bug"}')
    assert headers["Nats-Service-Error-Code"] == "500"
    assert "keyring" not in json.dumps(body) and "Traceback" not in json.dumps(body)
    assert [o.ok for o in seen] == [False, False]
    assert seen[0].error is not None and seen[0].error.code == "not_found"


async def test_micro_discovery_matches_natscli_schemas(nc: NATS, host: Host) -> None:
    h, _, _ = host
    info = json.loads((await nc.request("$SRV.INFO.cephdr-test", b"", timeout=2)).data)
    stats = json.loads((await nc.request("$SRV.STATS.cephdr-test", b"", timeout=2)).data)
    assert isinstance(info["description"], str)
    assert info["metadata"] == {"site": "site-t"}
    subjects = {e["subject"] for e in info["endpoints"]}
    assert f"{h.prefix}.test.echo" in subjects
    assert all(isinstance(e["data"], dict) for e in stats["endpoints"])
