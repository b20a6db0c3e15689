"""Automatic failover: the per-group policy, pauses, and the decisions the controller publishes.

    [auto]                      # in a group file; off unless enabled
    enabled = true
    down_after = "60s"          # the primary must look lost this long, to the controller AND the peer
    max_lag = "30m"             # no failover if the survivor was further behind than this
    cooldown = "1h"             # no second automatic failover of the group within this
    max_per_day = 1
    dry_run = false             # decide and publish, never act
    failback = false            # fail back on its own once the lost site is back and fenced

Every evaluation that changes a group's verdict is published on `cephdr.ctl.evt.decision`
(`DecisionEvent`), acted on or not, with its reasons; the event stream keeps them (the audit trail).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.common import Command, Reply, Request
from schemas.ids import Group, Op, Site

Duration = Annotated[str, Meta(pattern=r"^[0-9]{1,6}[smhd]$", max_length=7)]
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(d: str) -> int:
    """`"90s"`, `"5m"`, `"1h"`, `"2d"` in seconds."""
    if not re.fullmatch(r"[0-9]{1,6}[smhd]", d):
        raise ValueError(f"not a duration: {d!r} (a number and s, m, h or d)")
    return int(d[:-1]) * _UNIT[d[-1]]


class AutoFailover(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = False
    down_after: Duration = "60s"
    max_lag: Duration = "30m"
    cooldown: Duration = "1h"
    max_per_day: Annotated[int, Meta(ge=1, le=24)] = 1
    dry_run: bool = False
    failback: bool = False

    def __post_init__(self) -> None:
        if seconds(self.down_after) < 10:
            raise ValueError(
                f"down_after {self.down_after} is too short: agents report every few seconds and "
                "probe their peer every 10 s, so a site must be silent at least 10 s to look lost"
            )

    @property
    def down_after_s(self) -> int:
        return seconds(self.down_after)

    @property
    def max_lag_s(self) -> int:
        return seconds(self.max_lag)

    @property
    def cooldown_s(self) -> int:
        return seconds(self.cooldown)


class Pause(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Automatic actions held (maintenance), fleet-wide or for one group. Requests still work."""

    at: float
    by: str = ""
    reason: str = ""


Verdict = Literal["disabled", "healthy", "suspect", "blocked", "dry_run", "failover", "failback"]


class Decision(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the policy concluded for a group, and why. `code` is stable for machines:
    ok, primary_suspect, witness_pending, partition, witness_unknown, survivor_down, paused, busy,
    lag, lag_unknown, cooldown, max_per_day, owed, fail_over, returning, not_fenced, fail_back."""

    verdict: Verdict
    code: str
    reasons: list[str] = msgspec.field(default_factory=list)
    lost: Site | None = None
    target: Site | None = None


class DecisionEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    at: float
    group: Group
    primary: Site
    decision: Decision
    acted: bool = False
    op_id: Op | None = None
    error: str | None = None


class PauseAuto(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Hold automatic failover/failback: for one group, or for every group without `group`."""

    group: Group | None = None
    reason: Annotated[str, Meta(max_length=256)] = ""


class ResumeAuto(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    group: Group | None = None


class GetAuto(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    group: Group | None = None


class GroupAuto(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    group: Group
    policy: AutoFailover
    paused: Pause | None = None
    last: DecisionEvent | None = None
    auto_failovers: list[float] = msgspec.field(default_factory=list)


class AutoState(Reply, frozen=True, kw_only=True):
    """The autopilot: the fleet-wide pause and, per group, its policy, pause and last decision."""

    paused: Pause | None = None
    groups: list[GroupAuto] = msgspec.field(default_factory=list)
