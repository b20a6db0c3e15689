"""One `!dr` message in, one reply out: parse, check the allow-list, hold forced failovers for
their confirmation, send the controller request, render the answer (pure: the controller is
reached through `Caller`, which the bus bridge implements and unit tests fake).

Every request carries `actor = "chat:<user>"`, so the controller's operation records and the
pause records name the person, not the bot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from chatops import render
from chatops.rules import USAGE, AllowList, Confirmations, Parsed, ParseError, parse
from schemas.common import Accepted, Done
from schemas.ctl import Failback, Failover, FleetStatus, GetStatus, GroupRef, ListOps, OpList
from schemas.errors import CephDRError
from schemas.group import GroupRecord
from schemas.ids import GroupName, RequestId, SiteName
from schemas.policy import PauseAuto, ResumeAuto

T = TypeVar("T")


class Caller(Protocol):
    def call(self, endpoint: str, body: Any, reply: type[T]) -> T:
        """Send `body` to `cephdr.ctl.<endpoint>` with a deadline; raise the error tree."""
        ...


def actor_of(user: str) -> str:
    return f"chat:{user}"[:128]


def _rid() -> RequestId:
    return RequestId(f"chat-{uuid.uuid4().hex[:24]}")


@dataclass
class Desk:
    caller: Caller
    allow: AllowList
    confirmations: Confirmations = field(default_factory=Confirmations)
    channel: str = ""
    ops_limit: int = 10

    def handle(self, user: str, args: str) -> str:
        try:
            p = parse(args)
        except ParseError as exc:
            return str(exc)
        refusal = self.allow.refusal(user, p.needs)
        if refusal is not None:
            return refusal
        try:
            return self._do(p, user, actor_of(user))
        except ParseError as exc:
            return str(exc)
        except CephDRError as exc:
            return render.error(_action(p), exc)

    def _do(self, p: Parsed, user: str, actor: str) -> str:
        group = GroupName(p.group) if p.group else None
        if p.verb == "help":
            return USAGE + f"\nYour roles: {', '.join(sorted(self.allow.roles(user))) or 'none'}"
        if p.verb == "status":
            st = self.caller.call("status", GetStatus(group=group, actor=actor), FleetStatus)
            return render.status(st, group)
        if p.verb == "ops":
            lst = self.caller.call("op.list", ListOps(group=group, limit=self.ops_limit, actor=actor), OpList)
            return render.ops(lst)
        if p.verb in ("pause", "resume"):
            if p.verb == "pause":
                body: PauseAuto | ResumeAuto = PauseAuto(
                    request_id=_rid(), actor=actor, group=group, reason=f"paused from chat by {user}"
                )
            else:
                body = ResumeAuto(request_id=_rid(), actor=actor, group=group)
            return render.done(self.caller.call(f"auto.{p.verb}", body, Done))
        assert group is not None  # parse() requires it for the verbs below
        if p.verb == "failback":
            acc = self.caller.call(
                "failback", Failback(request_id=_rid(), actor=actor, group=group), Accepted
            )
            return render.accepted("failback", group, acc, self.channel)
        if p.verb == "failover" and not p.force:
            to = SiteName(p.to) if p.to else None
            req = Failover(request_id=_rid(), actor=actor, group=group, to=to)
            return render.accepted(
                "planned failover", group, self.caller.call("failover", req, Accepted), self.channel
            )
        if p.verb == "failover":
            # name the real target in the question: the person confirms a site, not a default
            rec = self.caller.call("group.get", GroupRef(group=group, actor=actor), GroupRecord)
            target = p.to or rec.secondary
            self.confirmations.ask(user, group, target)
            return render.confirm_prompt(user, group, target, self.confirmations.ttl)
        pending = self.confirmations.confirm(user, group)
        req = Failover(
            request_id=_rid(),
            actor=actor,
            group=group,
            to=SiteName(pending.to) if pending.to else None,
            force=True,
            confirm=group,
        )
        return render.accepted(
            "FORCED failover", group, self.caller.call("failover", req, Accepted), self.channel
        )


def _action(p: Parsed) -> str:
    if p.verb == "confirm" or p.force:
        return "forced failover" + (f" of {p.group}" if p.group else "")
    return f"{p.verb}" + (f" of {p.group}" if p.group else "")
