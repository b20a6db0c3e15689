"""Dangerous operations: every endpoint that can discard data or force a promotion is refused
without `confirm` naming its target, and the refusal says how to confirm. Every endpoint of both
routers must be classified here, so a new one cannot slip by unreviewed.

Handlers run directly on their routers; the context is a tripwire that fails the test when a
handler touches Ceph (or the controller's runner) before refusing. The controller's store is a
dict holding one group record (built with tests/unit/controller/ctl_unit_build.py)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import agent.service.all  # noqa: F401  (registers the endpoints)
import controller.service.all  # noqa: F401
from agent.service.registry import router as agent_router
from bus.router import Endpoint
from controller.service.registry import router as ctl_router
from schemas.common import ConfirmableCommand
from schemas.errors import ConfirmationRequired
from schemas.group import GroupRecord
from tests.unit.controller.ctl_unit_build import rbd_spec, record

UUID = "0f8e4a2c-1b3d-4e5f-8a9b-0c1d2e3f4a5b"

# endpoint -> (request without `confirm`, the target `confirm` must name)
DANGEROUS: dict[str, tuple[dict[str, Any], str]] = {
    "agent:rbd.image.promote": ({"pool": "rbd", "image": "vm-1", "force": True}, "rbd/vm-1"),
    "agent:rbd.images.promote": ({"pool": "rbd", "force": True}, "rbd"),
    "agent:rbd.image.disable": ({"pool": "rbd", "image": "vm-1", "force": True}, "rbd/vm-1"),
    "agent:rbd.image.resync": ({"pool": "rbd", "image": "vm-1"}, "rbd/vm-1"),
    "agent:rbd.peer.remove": ({"pool": "rbd", "uuid": UUID}, UUID),
    "agent:rbd.pool.disable": ({"pool": "rbd"}, "rbd"),
    "agent:fs.mirror.disable": ({"fs": "cephfs"}, "cephfs"),
    "agent:fs.peer.remove": ({"fs": "cephfs", "peer": UUID}, UUID),
    "agent:fs.dir.prepare": ({"fs": "cephfs", "path": "/shared", "method": "fresh"}, "cephfs:/shared"),
    "ctl:failover": ({"group": "web", "force": True}, "web"),
    "ctl:group.delete": ({"group": "web"}, "web"),
}

# endpoints that change something yet need no confirmation, and why (read-only ones are below)
NOT_DANGEROUS: dict[str, str] = {
    "agent:rbd.image.demote": "keeps the data; a primary elsewhere or a later promote brings it back",
    "agent:rbd.images.demote": "as rbd.image.demote, for many images",
    "agent:rbd.image.enable": "starts mirroring; the primary's data is untouched",
    "agent:rbd.image.snapshot": "adds a mirror snapshot",
    "agent:rbd.pool.enable": "starts mirroring",
    "agent:rbd.site_name.set": "a label",
    "agent:rbd.peer.bootstrap.create": "makes a token (sealed for one agent)",
    "agent:rbd.peer.bootstrap.import": "adds a peer; an image is only replaced when it is non-primary",
    "agent:rbd.schedule.add": "a schedule",
    "agent:rbd.schedule.remove": "a schedule; existing snapshots stay",
    "agent:fs.mirror.enable": "starts mirroring",
    "agent:fs.peer.bootstrap.create": "makes a token (sealed for one agent)",
    "agent:fs.peer.bootstrap.import": "adds a peer",
    "agent:fs.dir.add": "mirrors a directory (the target side is prepared with fs.dir.prepare, confirmed)",
    "agent:fs.dir.remove": "stops mirroring a directory; its data and snapshots stay",
    "agent:fs.schedule.add": "a schedule",
    "agent:fs.schedule.remove": "a schedule; existing snapshots stay",
    "agent:fs.retention.add": "keeps snapshots longer or shorter, like the schedule module's own",
    "agent:fs.retention.remove": "keeps more snapshots",
    "agent:fs.snapshot.create": "adds a snapshot",
    "ctl:group.apply": "desired state; members it drops are left as they are in Ceph",
    "ctl:group.reconcile": "repairs drift towards the applied spec; never promotes or resyncs",
    "ctl:auto.pause": "pauses the autopilot",
    "ctl:auto.resume": "resumes the autopilot",
    "ctl:failback": (
        "its resync discards the old primary's unreplicated writes, which the forced failover's "
        "confirmation (confirm = group) already gave up; it is refused unless a forced failover left "
        "the group owing one"
    ),
    "ctl:op.cancel": "stops an operation at a step boundary",
    "ctl:op.retry": "re-runs a failed operation's failed step (a dangerous one was confirmed when started)",
    "ctl:peer.connect": "adds peers through sealed tokens",
}

READ_ONLY = {
    "agent:daemon.status", "agent:fs.peer.list", "agent:fs.dir.list", "agent:fs.schedule.status",
    "agent:fs.snapshot.list", "agent:rbd.image.status", "agent:rbd.peer.list", "agent:rbd.pool.info",
    "agent:rbd.schedule.list", "agent:rbd.schedule.status", "agent:status", "agent:op.get", "agent:op.list",
    "ctl:group.get", "ctl:group.list", "ctl:auto.get", "ctl:op.get", "ctl:op.list", "ctl:site.list",
    "ctl:status",
}


def endpoints() -> dict[str, Endpoint[Any]]:
    eps: dict[str, Endpoint[Any]] = {f"agent:{n}": e for n, e in agent_router.endpoints.items()}
    eps |= {f"ctl:{n}": e for n, e in ctl_router.endpoints.items()}
    return eps


class Touched(Exception):
    """The handler went past its confirmation check."""


class Tripwire:
    def __getattr__(self, name: str) -> Any:
        raise Touched(name)


class OneGroupStore(Tripwire):
    def __init__(self, rec: GroupRecord) -> None:
        self.rec = rec

    async def group(self, name: str) -> tuple[GroupRecord, int] | None:
        return (self.rec, 1) if name == self.rec.spec.name else None


class CtlCtx(Tripwire):
    """What the controller handlers may read before refusing: the group; nothing else."""

    def __init__(self) -> None:
        self.store = OneGroupStore(record(rbd_spec(name="web")))


def ctx_for(key: str) -> Any:
    return CtlCtx() if key.startswith("ctl:") else Tripwire()


def request(key: str, extra: dict[str, Any]) -> msgspec.Struct:
    body, _ = DANGEROUS[key]
    return msgspec.convert({"request_id": "req-confirm-1", **body, **extra}, endpoints()[key].request)


def test_every_endpoint_is_classified() -> None:
    known = set(DANGEROUS) | set(NOT_DANGEROUS) | READ_ONLY
    assert set(endpoints()) - known == set(), "classify the new endpoint(s) in this test"
    assert known - set(endpoints()) == set(), "an endpoint listed here no longer exists"


def test_every_confirmable_request_is_listed_as_dangerous() -> None:
    confirmable = {k for k, e in endpoints().items() if issubclass(e.request, ConfirmableCommand)}
    assert confirmable == set(DANGEROUS)


@pytest.mark.parametrize("key", sorted(DANGEROUS))
async def test_refused_without_confirm_and_says_how(key: str) -> None:
    target = DANGEROUS[key][1]
    for extra in ({}, {"confirm": "yes"}, {"confirm": target.upper() + "x"}):
        with pytest.raises(ConfirmationRequired) as exc:
            await endpoints()[key].handler(ctx_for(key), request(key, extra))
        err = exc.value
        assert err.status == 400 and err.where == "$.confirm"
        assert f'repeat the request with "confirm": "{target}"' in err.message
        assert err.details == {"expected": target}


@pytest.mark.parametrize("key", sorted(DANGEROUS))
async def test_the_named_target_passes_the_check(key: str) -> None:
    # past the check the handler reaches for Ceph or the runner: the tripwire proves it got there
    with pytest.raises(Touched):
        await endpoints()[key].handler(ctx_for(key), request(key, {"confirm": DANGEROUS[key][1]}))
