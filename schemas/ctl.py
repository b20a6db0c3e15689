"""Requests and replies of the controller (`cephdr.ctl.*`), and its operation records.

An operation (failover, failback, reconcile) is a list of steps decided when it starts. The
controller persists the record in KV after every step, so a restarted controller resumes at the
first step not recorded as done; every step is idempotent, so re-running the one that was in
flight when a controller died changes nothing that already took effect.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from schemas.common import Command, ConfirmableCommand, Reply, Request
from schemas.errors import ErrorBody
from schemas.group import GroupRecord, GroupSpec
from schemas.ids import Fs, Group, Op, Pool, Site
from schemas.rbd import Direction
from schemas.status import StatusCounts

OpKind = Literal["planned_failover", "unplanned_failover", "failback", "reconcile"]
OpState = Literal["running", "succeeded", "failed", "cancelled"]
StepState = Literal["pending", "running", "done", "failed", "skipped"]


# -- groups --------------------------------------------------------------------------------------


class ApplyGroup(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Create or update a protection group, then reconcile it (a long operation)."""

    spec: GroupSpec


class GroupApplied(Reply, frozen=True, kw_only=True):
    """The stored group and the reconcile operation that makes reality match it."""

    group: GroupRecord
    changed: bool
    op_id: Op | None = None
    message: str = ""


class GroupRef(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One protection group by name."""

    group: Group


class ListGroups(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every protection group."""


class GroupList(Reply, frozen=True, kw_only=True):
    groups: list[GroupRecord] = msgspec.field(default_factory=list)


class DeleteGroup(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Stop managing a group (confirm = group name). Ceph keeps mirroring as it is; the fencing
    record goes, and the controller no longer reconciles, moves schedules or fails it over."""

    group: Group


class ReconcileGroup(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Reconcile a group now (a long operation): enable, peer, schedule, repair drift."""

    group: Group


# -- failover ------------------------------------------------------------------------------------


class Failover(ConfirmableCommand, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fail a group over to `to` (default: the other site). Planned unless `force`.

    Planned: the primary is demoted first and nothing written is lost (RPO 0); refused when the
    prechecks fail. Forced (unplanned, the primary is lost): the epoch is bumped first so the old
    primary fences itself when it returns, then every member is force-promoted on `to`; writes not
    yet replicated are lost. `force` needs `confirm` = the group name."""

    group: Group
    to: Site | None = None
    force: bool = False


class Failback(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """After an unplanned failover: once the old primary is back and fenced, resync it, wait
    until it replays and caught up, then fail over back to it (planned)."""

    group: Group


# -- peers ---------------------------------------------------------------------------------------


class PeerConnect(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Peer a pool (`pool`) or a file system (`fs`) between two sites, through sealed tokens.

    RBD: `source`'s agent creates the token sealed to `target`'s agent, which imports it
    (`rx-tx`: both directions from the one token). CephFS mirrors one way, source → target: the
    target (receiving) agent creates the token, the source imports it. Idempotent."""

    source: Site
    target: Site
    pool: Pool | None = None
    fs: Fs | None = None
    direction: Direction = "rx-tx"

    def __post_init__(self) -> None:
        if (self.pool is None) == (self.fs is None):
            raise ValueError("give exactly one of pool or fs")
        if self.source == self.target:
            raise ValueError("source and target must be different sites")


class PeerConnected(Reply, frozen=True, kw_only=True):
    changed: bool
    message: str


# -- operations ----------------------------------------------------------------------------------


class StepRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One step of an operation. `args` are the action's inputs, `result` what it returned (no
    secrets: tokens only ever pass through a step in memory)."""

    name: str
    action: str
    site: Site | None = None
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    state: StepState
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    message: str = ""
    result: dict[str, Any] = msgspec.field(default_factory=dict)
    error: ErrorBody | None = None
    point_of_no_return: bool = False  # once this step started, the operation can't be cancelled


class OpRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A controller operation, as persisted in KV `op.<op_id>` after every step."""

    op_id: Op
    kind: OpKind
    group: Group
    source: Site | None = None
    target: Site | None = None
    state: OpState
    steps: list[StepRecord] = msgspec.field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    message: str = ""
    error: ErrorBody | None = None
    request_id: str | None = None
    actor: str | None = None
    cancel_requested: bool = False
    epoch: int | None = None  # the epoch this operation establishes (failovers)

    @property
    def done_steps(self) -> int:
        return sum(s.state in ("done", "skipped") for s in self.steps)


class OpRef(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One controller operation."""

    op_id: Op


class OpCommand(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Act on one controller operation (cancel, retry)."""

    op_id: Op


class ListOps(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Recent controller operations, newest first."""

    group: Group | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 50


class OpList(Reply, frozen=True, kw_only=True):
    ops: list[OpRecord] = msgspec.field(default_factory=list)


# -- sites and status ----------------------------------------------------------------------------


class SiteInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A site as the controller knows it from its agent's heartbeats."""

    site: Site
    alive: bool
    last_seen: float | None = None
    age_s: float | None = None
    version: str = ""
    public_key: str = ""
    cluster_reachable: bool | None = None
    peer_reachable: dict[str, bool | None] = msgspec.field(default_factory=dict)
    counts: StatusCounts | None = None
    epochs: dict[str, int] = msgspec.field(default_factory=dict)
    fenced_groups: list[str] = msgspec.field(default_factory=list)


class ListSites(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every site that ever sent a heartbeat."""


class SiteList(Reply, frozen=True, kw_only=True):
    sites: list[SiteInfo] = msgspec.field(default_factory=list)
    leader: str = ""  # lease holder id of the controller that answered (only the leader answers)


Severity = Literal["warning", "critical"]


class Alert(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Something an operator must look at. Kinds: `split_brain`, `lag`, `daemon_down`,
    `site_down`, `cluster_unreachable`, `not_mirrored`, `two_primaries`, `no_primary`,
    `failback_needed`, `op_failed`."""

    kind: str
    severity: Severity
    message: str
    site: Site | None = None
    member: str | None = None


class MemberSite(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One member on one site, as that site's agent last reported it."""

    role: str | None = None  # primary | non-primary | unknown (rbd); "source" / "target" (fs)
    state: str | None = None
    up: bool | None = None
    healthy: bool | None = None
    split_brain: bool = False
    caught_up: bool | None = None
    rpo_lag_s: float | None = None
    description: str = ""


class MemberStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A member (`pool/image` or `fs:/dir`) across both sites."""

    kind: Literal["rbd", "fs"]
    name: str
    sites: dict[str, MemberSite] = msgspec.field(default_factory=dict)
    rpo_lag_s: float | None = None


class GroupStatus(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A group right now: which site is primary, each member on each site, the worst RPO lag."""

    group: Group
    primary: Site
    epoch: int
    health: Literal["ok", "warning", "error", "unknown"]
    rpo_lag_s: float | None = None
    members: list[MemberStatus] = msgspec.field(default_factory=list)
    alerts: list[Alert] = msgspec.field(default_factory=list)
    active_op: Op | None = None
    last_op: OpRecord | None = None


class GetStatus(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Status of the fleet, or of one group."""

    group: Group | None = None


class FleetStatus(Reply, frozen=True, kw_only=True):
    sites: list[SiteInfo] = msgspec.field(default_factory=list)
    groups: list[GroupStatus] = msgspec.field(default_factory=list)


# -- events (cephdr.ctl.evt.<kind>) --------------------------------------------------------------


class CtlOpEvent(msgspec.Struct, frozen=True, kw_only=True, tag="cephdr.ctl.op.v1", tag_field="type"):
    """An operation started, finished a step, or ended: on `cephdr.ctl.evt.op`."""

    at: float
    op_id: Op
    kind: OpKind
    group: Group
    state: OpState
    step: str | None = None
    step_state: StepState | None = None
    done: int = 0
    total: int = 0
    message: str = ""


class GroupEvent(msgspec.Struct, frozen=True, kw_only=True, tag="cephdr.ctl.group.v1", tag_field="type"):
    """A group was applied, deleted, reconciled with drift repaired, or changed primary: on
    `cephdr.ctl.evt.group`."""

    at: float
    group: Group
    change: Literal["applied", "deleted", "drift", "primary"]
    message: str
    details: list[str] = msgspec.field(default_factory=list)


class AlertEvent(msgspec.Struct, frozen=True, kw_only=True, tag="cephdr.ctl.alert.v1", tag_field="type"):
    """An alert was raised or cleared: on `cephdr.ctl.evt.alert`."""

    at: float
    group: Group
    raised: bool
    alert: Alert
