"""Input hardening on the lab: every endpoint of the real agent (site-a) and the real controller
gets hypothesis-made payloads (JSON objects built from the request type's own field names with
arbitrary values, unknown fields, malformed JSON, raw bytes). Each reply must be structured: a
known error code in the 4xx family (a read may also succeed); never a 5xx, never silence. The
services still answer afterwards, and Ceph on both sites is as it was (the `rbd`/`ceph` CLIs).

Names in the payloads never name a real pool, image, file system or group, so a payload that
decodes reaches Ceph and is refused there (not found), which is the deep path worth shaking. The
few commands whose every field is free-form (a fleet-wide autopilot pause, the site name) always
carry an unknown field: a valid request there would change state by design, not by a bug.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from helpers.lab_bus import lab_nats
from helpers.oracle import ceph, rbd, unique_name
from helpers.wait import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.aio.client import Client as NATS

import agent.service.all  # noqa: F401  (registers the endpoints)
import controller.service.all  # noqa: F401
from agent.service.registry import router as agent_router
from bus.codec import MAX_REQUEST_BYTES
from bus.router import Endpoint
from controller.service.registry import router as ctl_router
from lab.model import LabInfo, SiteInfo
from schemas.errors import ErrorReply

pytestmark = pytest.mark.system

SITE = "site-a"
EXAMPLES = 8  # per endpoint: ~60 endpoints stay well under two minutes on the lab
KNOWN_4XX = {"invalid_request", "confirmation_required", "request_too_large", "permission_denied",
             "not_found", "conflict", "busy"}
ALWAYS_JUNK = {"agent:rbd.site_name.set", "ctl:auto.pause", "ctl:auto.resume"}
READS = {
    "agent:daemon.status", "agent:fs.peer.list", "agent:fs.dir.list", "agent:fs.schedule.status",
    "agent:fs.snapshot.list", "agent:rbd.image.status", "agent:rbd.peer.list", "agent:rbd.pool.info",
    "agent:rbd.schedule.list", "agent:rbd.schedule.status", "agent:status", "agent:op.get", "agent:op.list",
    "ctl:group.get", "ctl:group.list", "ctl:auto.get", "ctl:op.get", "ctl:op.list", "ctl:site.list",
    "ctl:status",
}


def endpoints() -> dict[str, tuple[str, Endpoint[Any]]]:
    """key -> (subject, endpoint) for every agent and controller endpoint."""
    eps: dict[str, tuple[str, Endpoint[Any]]] = {
        f"agent:{n}": (f"cephdr.agent.{SITE}.{n}", e) for n, e in agent_router.endpoints.items()
    }
    eps |= {f"ctl:{n}": (f"cephdr.ctl.{n}", e) for n, e in ctl_router.endpoints.items()}
    return eps


# names that look plausible but exist nowhere in the lab
GHOSTS = st.sampled_from(["nosuchpool", "ghost-img", "nosuchfs", "/nosuch/dir", "ghost", "site-zz",
                          "0f8e4a2c-1b3d-4e5f-8a9b-0c1d2e3f4a5b", "fz-op-00000001", "A" * 43 + "=", ""])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=24), GHOSTS)
VALUES = st.recursive(SCALARS, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                                    max_size=3), max_leaves=6)
REQUEST_IDS = st.one_of(st.from_regex(r"\Afz-[a-z0-9]{10}\Z"), st.text(max_size=12), st.integers())


# what the lab really has: a typed payload never names it, so a decoded request is refused by Ceph
REAL = {"rbd", "cephfs", "site-a", "site-b", "rbd-mirror", "cephfs-mirror"}


def typed(t: Any) -> st.SearchStrategy[Any]:
    """Values msgspec accepts for type info `t` (patterns, bounds, literals, nested Structs)."""
    if isinstance(t, mi.Metadata):
        return typed(t.type)
    if isinstance(t, mi.StrType):
        base = st.from_regex(t.pattern, fullmatch=True) if t.pattern else st.text(max_size=40)
        lo, hi = t.min_length or 0, t.max_length if t.max_length is not None else 10**9
        return base.filter(lambda v: lo <= len(v) <= hi and v not in REAL)
    if isinstance(t, mi.IntType):
        lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else -(2**31))
        hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else 2**31)
        return st.integers(lo, hi)
    if isinstance(t, mi.FloatType):
        lo_f = t.ge if t.ge is not None else t.gt
        hi_f = t.le if t.le is not None else t.lt
        return st.floats(lo_f, hi_f, exclude_min=t.ge is None and t.gt is not None,
                         exclude_max=t.le is None and t.lt is not None, allow_nan=False, allow_infinity=False)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.UnionType):
        return st.one_of(*(typed(x) for x in t.types))
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(list(t.values))
    if isinstance(t, mi.EnumType):
        return st.sampled_from([m.value for m in t.cls])
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return st.lists(typed(t.item_type), max_size=min(3, t.max_length or 3), unique=not isinstance(
            t, mi.ListType | mi.VarTupleType))
    if isinstance(t, mi.TupleType):
        return st.tuples(*(typed(x) for x in t.item_types)).map(list)
    if isinstance(t, mi.DictType):
        return st.dictionaries(typed(t.key_type), typed(t.value_type), max_size=2)
    if isinstance(t, mi.StructType):
        return struct_dicts(t)
    return VALUES  # Any and the rest: whatever JSON


def struct_dicts(t: mi.StructType) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.encode_name: typed(f.type) for f in t.fields if f.required}
    optional = {f.encode_name: typed(f.type) for f in t.fields if not f.required}
    d = st.fixed_dictionaries(required, optional=optional)
    tag_field, tag = t.tag_field, t.tag
    if tag_field is not None:
        d = d.map(lambda v: {**v, tag_field: tag})
    return d


def payloads(key: str, ep: Endpoint[Any]) -> st.SearchStrategy[bytes]:
    info = mi.type_info(ep.request)
    assert isinstance(info, mi.StructType)
    fields = [f.encode_name for f in info.fields if f.encode_name != "request_id"]
    loose = st.fixed_dictionaries(
        {"request_id": REQUEST_IDS},
        optional={f: st.one_of(GHOSTS, VALUES) for f in fields},
    )
    junk_key = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in fields), VALUES,
                               min_size=1, max_size=2)
    valid = struct_dicts(info)
    objs: st.SearchStrategy[dict[str, Any]]
    if key in ALWAYS_JUNK:
        objs = st.builds(lambda a, b: {**a, **b}, st.one_of(valid, loose), junk_key)
    else:
        # mostly decodable (the deep path), some loosely typed, some with unknown fields
        objs = st.one_of(valid, valid, valid, loose, st.builds(lambda a, b: {**a, **b}, valid, junk_key))
    as_json = objs.map(lambda d: json.dumps(d).encode())
    return st.one_of(
        as_json,
        as_json,
        as_json.flatmap(lambda b: st.integers(0, max(0, len(b) - 1)).map(lambda n: b[:n])),  # cut short
        st.binary(max_size=128).filter(lambda b: not _is_object(b) or key not in ALWAYS_JUNK),
        VALUES.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
    )


def _is_object(b: bytes) -> bool:
    try:
        return isinstance(json.loads(b), dict)
    except ValueError:
        return False


def ceph_state(site: SiteInfo) -> dict[str, Any]:
    """What a command could change, as the CLIs see it (nothing time-varying)."""
    images = rbd(site, "ls", "-l", "rbd", json=True) or []
    return {
        "pools": ceph(site, "osd", "pool", "ls", json=True),
        "fs": ceph(site, "fs", "ls", json=True),
        "rbd_images": sorted((i["image"], i.get("snapshot"), i["size"]) for i in images),
        "rbd_primary": {i["image"]: rbd(site, "info", f"rbd/{i['image']}", json=True).get("mirroring")
                        for i in images if "snapshot" not in i},
        "rbd_mirror": rbd(site, "mirror", "pool", "info", "rbd", json=True),
        "rbd_schedules": rbd(site, "mirror", "snapshot", "schedule", "ls", "-p", "rbd", "-R", json=True),
        "fs_peers": ceph(site, "fs", "snapshot", "mirror", "peer_list", "cephfs", json=True),
    }


@pytest.fixture(scope="module")
async def conns(lab: LabInfo) -> AsyncIterator[dict[str, NATS]]:
    """Each service asked by the role allowed to command it: agents by the controller, the
    controller by an operator."""
    out = {"agent": await lab_nats(lab, "controller"), "ctl": await lab_nats(lab, "operator")}
    yield out
    for c in out.values():
        await c.close()


@pytest.fixture(scope="module")
def before(lab: LabInfo) -> Iterator[dict[str, dict[str, Any]]]:
    """Ceph's state once a mirrored witness image is on both sites (primary on site-a)."""
    a, b = lab.site("site-a"), lab.site("site-b")
    spec = f"rbd/{unique_name('fuzz-witness')}"
    rbd(a, "create", spec, "--size", "8M")
    rbd(a, "mirror", "image", "enable", spec, "snapshot")
    wait_for(lambda: rbd(b, "info", spec, json=True)["mirroring"]["state"] == "enabled", timeout=180,
             what=f"{spec} replicated to site-b", interval=2)
    yield {s.name: ceph_state(s) for s in lab.sites}
    rbd(a, "mirror", "image", "disable", spec)
    rbd(a, "rm", "--no-progress", spec)


async def ask(nc: NATS, subject: str, payload: bytes) -> tuple[dict[str, str], bytes]:
    msg = await nc.request(subject, payload, timeout=30)  # nats-py raises on no reply: a failure
    return dict(msg.headers or {}), msg.data


# a 503 that is the designed answer, not a failure to validate: the controller cannot tell a site
# that does not exist from one whose agent has not reported yet, and "retry later" is right for that
DESIGNED_503 = {("ctl:peer.connect", "unavailable")}


def check_reply(key: str, ep: Endpoint[Any], payload: bytes, headers: dict[str, str], data: bytes) -> None:
    status = headers.get("Nats-Service-Error-Code")
    if status is None:
        reply = msgspec.json.decode(data, type=ep.reply)
        # a command may succeed only by finding nothing to do (deleting a group that is not there)
        assert key in READS or getattr(reply, "changed", True) is False, (
            f"{key} acted on fuzz {payload[:200]!r}: {data[:300]!r}"
        )
        return
    err = msgspec.json.decode(data, type=ErrorReply).error
    assert err.message and "Traceback" not in err.message
    if (key, err.code) in DESIGNED_503:
        return
    assert 400 <= int(status) < 500 and err.code in KNOWN_4XX, (
        f"{key} answered {status} {err.code} to {payload[:200]!r}: {err.message}"
    )


@pytest.mark.parametrize("key", sorted(endpoints()))
async def test_every_endpoint_answers_fuzz_with_a_structured_4xx(
    conns: dict[str, NATS], before: dict[str, dict[str, Any]], key: str
) -> None:
    subject, ep = endpoints()[key]
    nc = conns[key.split(":")[0]]

    loop = asyncio.get_running_loop()

    # hypothesis drives a plain function; it runs in a thread so that each request can be sent on
    # this test's event loop (the one the connection lives on) while the thread waits for it
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(payloads(key, ep))
    def one(payload: bytes) -> None:
        headers, data = asyncio.run_coroutine_threadsafe(ask(nc, subject, payload), loop).result(60)
        check_reply(key, ep, payload, headers, data)

    await asyncio.to_thread(one)
    # the service still answers after its fuzz
    alive = f"cephdr.agent.{SITE}.status" if key.startswith("agent:") else "cephdr.ctl.status"
    headers, _ = await ask(nc, alive, b"{}")
    assert "Nats-Service-Error-Code" not in headers


@pytest.mark.parametrize("subject", [f"cephdr.agent.{SITE}.rbd.image.resync", "cephdr.ctl.failover"])
async def test_oversized_requests_are_refused_with_413(conns: dict[str, NATS], subject: str) -> None:
    nc = conns["agent" if ".agent." in subject else "ctl"]
    body = json.dumps({"request_id": "fz-oversized1", "pool": "x" * MAX_REQUEST_BYTES}).encode()
    headers, data = await ask(nc, subject, body)
    err = msgspec.json.decode(data, type=ErrorReply).error
    assert headers["Nats-Service-Error-Code"] == "413" and err.code == "request_too_large"
    assert str(MAX_REQUEST_BYTES) in err.message


def test_ceph_unchanged_by_the_fuzz(lab: LabInfo, before: dict[str, dict[str, Any]]) -> None:
    # runs after the fuzz (file order); `before` was taken when the first fuzz test started
    after = {s.name: ceph_state(s) for s in lab.sites}
    changed = {(site, k): (v, after[site].get(k)) for site, kv in before.items() for k, v in kv.items()
               if after[site].get(k) != v}
    assert not changed, f"Ceph changed during the fuzz (site, what): (before, after): {changed}"
