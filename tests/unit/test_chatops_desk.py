"""ChatOps desk: one `!dr` message -> the controller request it sends and the reply text.

Faked: the controller, as a recording `Caller` (the real one, over NATS, is in tests/chatops).
Checked here: the actor on every request, refusals before any request, the forced-failover
confirmation flow and what it finally sends."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from chatops.desk import Desk
from chatops.rules import AllowList, Confirmations
from schemas.common import Accepted, Done
from schemas.ctl import Failover, FleetStatus, OpList
from schemas.errors import NotFound
from schemas.group import GroupRecord, GroupSpec, RbdMember
from schemas.ids import GroupName, ImageName, OpId, PoolName, SiteName
from schemas.policy import PauseAuto

T = TypeVar("T")


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.missing: set[str] = set()

    def call(self, endpoint: str, body: Any, reply: type[T]) -> T:
        self.sent.append((endpoint, body))
        group = getattr(body, "group", None)
        if group in self.missing:
            raise NotFound(f"no group {group}", where="$.group")
        out: Any
        if reply is GroupRecord:
            a, b = SiteName("site-a"), SiteName("site-b")
            rbd = [RbdMember(pool=PoolName("rbd"), images=[ImageName("vm1")])]
            spec = GroupSpec(name=GroupName(str(group)), sites=[a, b], primary=a, rbd=rbd)
            out = GroupRecord(spec=spec, primary=a)
        elif reply is Accepted:
            out = Accepted(op_id=OpId("op-1"), events_subject="cephdr.ctl.evt.op")
        elif reply is Done:
            out = Done(message="done")
        elif reply is FleetStatus:
            out = FleetStatus()
        else:
            assert reply is OpList
            out = OpList()
        return out  # type: ignore[no-any-return]


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def desk() -> Desk:
    allow = AllowList.load({"@alice": ["force"], "@bob": ["operate"], "@vic": ["view"]})
    conf = Confirmations(ttl=60, clock=Clock())
    return Desk(caller=Recorder(), allow=allow, confirmations=conf, channel="#dr")


def sent(desk: Desk) -> list[tuple[str, Any]]:
    assert isinstance(desk.caller, Recorder)
    return desk.caller.sent


def test_every_request_names_the_human(desk: Desk) -> None:
    for args in ("status", "ops web", "pause web", "resume", "failover web to site-b", "failback web"):
        desk.handle("@bob", args)
    assert [e for e, _ in sent(desk)] == [
        "status",
        "op.list",
        "auto.pause",
        "auto.resume",
        "failover",
        "failback",
    ]
    assert {b.actor for _, b in sent(desk)} == {"chat:@bob"}
    pause = sent(desk)[2][1]
    assert isinstance(pause, PauseAuto) and pause.group == "web" and pause.request_id.startswith("chat-")
    planned = sent(desk)[4][1]
    assert isinstance(planned, Failover) and not planned.force and planned.to == "site-b"


def test_refusals_send_nothing(desk: Desk) -> None:
    assert "@mallory is not on the cephdr allow-list" in desk.handle("@mallory", "status")
    assert "needs role operate" in desk.handle("@vic", "failover web")
    assert "needs role force" in desk.handle("@bob", "failover web --force")
    assert "needs role force" in desk.handle("@bob", "confirm web")
    assert "unknown command" in desk.handle("@alice", "explode")
    assert sent(desk) == []


def test_a_forced_failover_is_sent_only_after_its_owner_confirms(desk: Desk) -> None:
    ask = desk.handle("@alice", "failover web --force")
    assert "FORCED failover of web to site-b" in ask and "!dr confirm web" in ask
    assert [e for e, _ in sent(desk)] == ["group.get"]  # only looked up the target
    assert "no forced failover of db" in desk.handle("@alice", "confirm db")
    reply = desk.handle("@alice", "confirm web")
    assert reply.startswith("FORCED failover of web accepted: operation op-1")
    endpoint, req = sent(desk)[-1]
    assert endpoint == "failover" and isinstance(req, Failover)
    assert (req.force, req.confirm, req.to, req.actor) == (True, "web", "site-b", "chat:@alice")


def test_a_confirmation_by_someone_else_or_too_late_sends_nothing(desk: Desk) -> None:
    desk.allow = AllowList.load({"@alice": ["force"], "@carol": ["force"]})
    desk.handle("@alice", "failover web --force")
    assert "only @alice, who asked" in desk.handle("@carol", "confirm web")
    assert isinstance(desk.confirmations.clock, Clock)
    desk.confirmations.clock.t += 61
    assert "expired after 60 s" in desk.handle("@alice", "confirm web")
    assert [e for e, _ in sent(desk)] == ["group.get"]


def test_controller_errors_come_back_with_their_code(desk: Desk) -> None:
    assert isinstance(desk.caller, Recorder)
    desk.caller.missing.add("nope")
    assert (
        desk.handle("@bob", "failback nope")
        == "failback of nope refused [not_found]: no group nope (at $.group)"
    )
    assert "[not_found]" in desk.handle("@alice", "failover nope --force")
    assert "no forced failover of nope" in desk.handle("@alice", "confirm nope")  # nothing was held
