"""What a controller handler gets."""

from __future__ import annotations

from dataclasses import dataclass

from controller.actions import Env
from controller.runner import Runner
from controller.sites import Sites
from controller.store import Store


@dataclass
class ControllerContext:
    env: Env
    runner: Runner
    events_subject: str  # where operation progress goes (`<prefix>.ctl.evt.op`)
    leader: str = ""  # this controller's lease holder id: only the leader serves, so it is the leader's

    @property
    def store(self) -> Store:
        return self.env.store

    @property
    def sites(self) -> Sites:
        return self.env.sites
