"""Bad requests get a structured error and change nothing; a dead cluster answers within the deadline.

Uses the lab's pre-peered `rbd` pool (site-a primary side) with fresh image names."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import oracle
from helpers.agent_ctx import Agent, InlineOps, make_cluster
from nacl.public import PrivateKey

from agent.config import Timeouts
from agent.context import AgentContext
from agent.identity import Identity
from lab.model import LabInfo
from schemas.errors import (
    ConfirmationRequired,
    Conflict,
    InvalidRequest,
    NotFound,
    Unavailable,
)
from schemas.ids import SiteName

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def primary_image(lab: LabInfo) -> str:
    """A snapshot-mode image, primary on site-a, in the lab's rbd pool."""
    sa = lab.site("site-a")
    name = oracle.unique_name("err")
    oracle.rbd(sa, "create", "--size", "8M", "--image-feature", "layering,exclusive-lock", f"rbd/{name}")
    oracle.rbd(sa, "mirror", "image", "enable", f"rbd/{name}", "snapshot")
    return name


def _info(lab: LabInfo, spec: str) -> dict[str, object]:
    info: dict[str, object] = oracle.rbd(lab.site("site-a"), "info", spec, json=True)
    return info


async def test_unknown_pool_and_image(agents: dict[str, Agent], rid: Callable[[], str]) -> None:
    a = agents["site-a"]
    with pytest.raises(NotFound) as e:
        await a.req("rbd.pool.info", pool="no-such-pool")
    assert e.value.where == "$.pool" and "no-such-pool" in e.value.message
    for name, extra in (
        ("rbd.image.status", {}),
        ("rbd.image.promote", {"request_id": rid()}),
        ("rbd.image.demote", {"request_id": rid()}),
        ("rbd.image.enable", {"request_id": rid(), "mode": "snapshot"}),
        ("rbd.image.snapshot", {"request_id": rid()}),
    ):
        with pytest.raises(NotFound) as e:
            await a.req(name, pool="rbd", image="no-such-image", **extra)
        assert e.value.where == "$.image" and "rbd/no-such-image" in e.value.message, name
    with pytest.raises(NotFound):
        await a.req("rbd.schedule.add", request_id=rid(), pool="rbd", image="no-such-image", interval="1h")


async def test_wrong_state_changes_nothing(
    lab: LabInfo, agents: dict[str, Agent], rid: Callable[[], str], primary_image: str
) -> None:
    a = agents["site-a"]
    spec = f"rbd/{primary_image}"
    before = _info(lab, spec)
    with pytest.raises(Conflict, match="primary here") as e:
        await a.req("rbd.image.resync", request_id=rid(), pool="rbd", image=primary_image, confirm=spec)
    assert not e.value.retryable
    with pytest.raises(Conflict, match="snapshot mode"):
        await a.req("rbd.image.enable", request_id=rid(), pool="rbd", image=primary_image, mode="journal")
    # already in state: not an error
    done = await a.req("rbd.image.promote", request_id=rid(), pool="rbd", image=primary_image)
    assert not done.changed
    assert _info(lab, spec) == before

    # journal mode needs exclusive-lock: refused, and journaling is not switched on
    bare = oracle.unique_name("bare")
    oracle.rbd(lab.site("site-a"), "create", "--size", "8M", "--image-feature", "layering", f"rbd/{bare}")
    with pytest.raises(Conflict, match="exclusive-lock"):
        await a.req("rbd.image.enable", request_id=rid(), pool="rbd", image=bare, mode="journal")
    assert _info(lab, f"rbd/{bare}")["features"] == ["layering"]
    with pytest.raises(Conflict, match="not enabled"):
        await a.req("rbd.image.status", pool="rbd", image=bare)
    with pytest.raises(Conflict, match="snapshot mode"):
        await a.req("rbd.schedule.add", request_id=rid(), pool="rbd", image=bare, interval="1h")
    # bulk: one unknown image rejects the whole request before anything runs
    ops_before = len(a.ops.results)
    with pytest.raises(NotFound) as e:
        await a.req(
            "rbd.images.demote", request_id=rid(), pool="rbd", images=[primary_image, "no-such-image"]
        )
    assert e.value.details["missing"] == ["no-such-image"]
    with pytest.raises(Conflict):
        await a.req("rbd.images.demote", request_id=rid(), pool="rbd", images=[bare])
    assert len(a.ops.results) == ops_before
    assert (await a.req("rbd.image.status", pool="rbd", image=primary_image)).role == "primary"
    oracle.rbd(lab.site("site-a"), "rm", "--no-progress", f"rbd/{bare}")


async def test_confirmation_required(
    lab: LabInfo, agents: dict[str, Agent], rid: Callable[[], str], primary_image: str
) -> None:
    a = agents["site-a"]
    spec = f"rbd/{primary_image}"
    before = _info(lab, spec)
    cases = [
        ("rbd.image.promote", {"image": primary_image, "force": True}),
        ("rbd.image.resync", {"image": primary_image, "confirm": "rbd/other"}),
        ("rbd.image.disable", {"image": primary_image, "force": True}),
        ("rbd.pool.disable", {}),
        ("rbd.images.promote", {"force": True, "confirm": spec}),
        ("rbd.peer.remove", {"uuid": "00000000-0000-0000-0000-000000000000"}),
    ]
    for name, body in cases:
        with pytest.raises(ConfirmationRequired) as e:
            await a.req(name, request_id=rid(), pool="rbd", **body)
        assert e.value.where == "$.confirm" and e.value.details["expected"], name
    assert _info(lab, spec) == before
    assert len((await a.req("rbd.peer.list", pool="rbd")).peers) == 1


async def test_validation_at_decode(agents: dict[str, Agent], rid: Callable[[], str]) -> None:
    a = agents["site-a"]
    for interval in ("5s", "1w", "m", "0", "0h", "-1m", "1.5h"):
        with pytest.raises(InvalidRequest) as e:
            await a.req("rbd.schedule.add", request_id=rid(), pool="rbd", interval=interval)
        assert e.value.where == "$.interval", (interval, e.value)
    for body in (
        {"pool": "rbd", "image": "x", "mode": "Journal"},
        {"pool": "rbd/x", "image": "x", "mode": "journal"},
        {"pool": "rbd", "image": "x", "mode": "journal", "extra": 1},
        {"pool": "rbd", "image": "x", "mode": "journal", "request_id": "short"},
    ):
        with pytest.raises(InvalidRequest):
            await a.req("rbd.image.enable", **{"request_id": rid(), **body})
    with pytest.raises(InvalidRequest) as e:
        await a.req("rbd.images.promote", request_id=rid(), pool="rbd", concurrency=33)
    assert e.value.where == "$.concurrency"


async def test_forged_bootstrap_is_refused(agents: dict[str, Agent], rid: Callable[[], str]) -> None:
    a, b = agents["site-a"], agents["site-b"]
    sealed = await a.req(
        "rbd.peer.bootstrap.create",
        request_id=rid(),
        pool="rbd",
        recipient_site="site-b",
        recipient_public_key=b.identity.public_key,
    )
    stranger = Identity(PrivateKey.generate())
    with pytest.raises(InvalidRequest, match="authentication") as e:
        await b.req(
            "rbd.peer.bootstrap.import",
            request_id=rid(),
            pool="rbd",
            sealed=sealed.sealed,
            sender_public_key=stranger.public_key,
        )
    assert sealed.sealed not in str(e.value.body())
    # sealed for b and opened by b, but b's own cluster already has the peer: a no-op
    done = await b.req(
        "rbd.peer.bootstrap.import",
        request_id=rid(),
        pool="rbd",
        sealed=sealed.sealed,
        sender_public_key=a.identity.public_key,
    )
    assert not done.changed


def _dead_conf(tmp_path: Path, lab: LabInfo) -> str:
    with socket.socket() as s:  # a port nothing listens on (bound, never listened, then closed)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "dead.conf"
    conf.write_text(
        f"[global]\nfsid = {lab.site('site-a').fsid}\nmon_host = [v2:127.0.0.1:{port}]\n"
        f"keyring = {lab.site('site-a').keyring}\nlog_to_stderr = false\nerr_to_stderr = false\n"
    )
    return str(conf)


async def test_dead_cluster_answers_within_deadline(
    lab: LabInfo, tmp_path: Path, rid: Callable[[], str]
) -> None:
    cluster = make_cluster(_dead_conf(tmp_path, lab), timeouts=Timeouts(connect=2, op=3, mon_op=3, osd_op=3))
    ctx = AgentContext(SiteName("site-a"), cluster, InlineOps(site="site-a"), Identity(PrivateKey.generate()))
    dead = Agent(ctx, InlineOps(site="site-a"), Identity(PrivateKey.generate()))
    try:
        for name, body in (
            ("rbd.pool.info", {"pool": "rbd"}),
            ("rbd.image.promote", {"request_id": rid(), "pool": "rbd", "image": "x", "wait_s": 0}),
            ("rbd.schedule.list", {"pool": "rbd"}),
        ):
            t0 = time.monotonic()
            with pytest.raises(Unavailable) as e:  # DeadlineExceeded is an Unavailable
                await dead.req(name, **body)
            assert time.monotonic() - t0 < 5, name
            assert e.value.retryable
        assert cluster.reachable is False
    finally:
        cluster.close()
        cluster.executor.shutdown()
