"""What a controller handler gets."""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.actions import Env
from controller.runner import Runner
from controller.sites import Sites
from controller.store import Store
from schemas.policy import DecisionEvent


@dataclass
class ControllerContext:
    env: Env
    runner: Runner
    events_subject: str  # where operation progress goes (`<prefix>.ctl.evt.op`)
    leader: str = ""  # this controller's lease holder id: only the leader serves, so it is the leader's
    decisions: dict[str, DecisionEvent] = field(default_factory=dict)  # the autopilot's last, per group

    @property
    def store(self) -> Store:
        return self.env.store

    @property
    def sites(self) -> Sites:
        return self.env.sites
