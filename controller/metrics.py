"""The controller's Prometheus metrics: the fleet view rendered as text exposition format 0.0.4 (pure).

The HTTP adapter (controller/metrics_http.py) gathers a `Snapshot` from the state store and the
controller's memory on every scrape; this module only turns it into text. Per-member series come
from the same `view.group_status` the status endpoint uses, so `cephdr status` and Prometheus
never disagree about a group. Every series is prefixed `cephdr_`; the README lists them.

Counters of operations come from the operation records in the state store (`OpTally`), so every
controller, leader or standby, counts the same operations, each once, also those that finished
before it started; a restarted controller's counters start again from what KV still holds, which
Prometheus treats as a counter reset.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from controller.view import group_status
from schemas.ctl import OpKind, OpRecord, SiteInfo
from schemas.group import GroupRecord
from schemas.policy import DecisionEvent
from schemas.status import DirState, ImageState, Role, SiteStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

OP_KINDS: tuple[OpKind, ...] = ("planned_failover", "unplanned_failover", "failback", "reconcile")
OP_ENDS = ("succeeded", "failed", "cancelled")
TRIGGERS = ("operator", "auto", "periodic")
# failovers take minutes on a real fleet, reconciles seconds
DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
HEALTHS = ("ok", "warning", "error", "unknown")


def parse_listen(value: str) -> tuple[str, int] | None:
    """`host:port` (`[v6]:port`) -> (host, port); "" -> None (metrics off). ValueError when bad."""
    if value == "":
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"metrics_listen {value!r}: expected host:port, e.g. 127.0.0.1:9283")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def trigger_of(actor: str | None) -> str:
    """Who started an operation, in three values a dashboard can group by."""
    if actor == "controller:autopilot":
        return "auto"
    if actor == "controller:periodic":
        return "periodic"
    return "operator"


@dataclass
class OpTally:
    """Finished operations counted once each by op id, with a duration histogram per kind/state."""

    seen: set[str] = field(default_factory=set)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (kind, state, trigger)
    buckets: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (kind, state) -> per le
    sums: dict[tuple[str, str], float] = field(default_factory=dict)

    def add(self, ops: Iterable[OpRecord]) -> None:
        for op in ops:
            if op.state == "running" or op.op_id in self.seen:
                continue
            self.seen.add(op.op_id)
            key = (op.kind, op.state, trigger_of(op.actor))
            self.counts[key] = self.counts.get(key, 0) + 1
            if op.finished_at is None or not op.created_at:
                continue
            took = max(0.0, op.finished_at - op.created_at)
            b = self.buckets.setdefault((op.kind, op.state), [0] * (len(DURATION_BUCKETS) + 1))
            for i, le in enumerate(DURATION_BUCKETS):
                if took <= le:
                    b[i] += 1
            b[-1] += 1
            self.sums[(op.kind, op.state)] = self.sums.get((op.kind, op.state), 0.0) + took


@dataclass
class Decisions:
    """Autopilot decisions as published (on a verdict change, or when it acted), per group/verdict."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def observe(self, event: DecisionEvent) -> None:
        key = (str(event.group), event.decision.verdict)
        self.counts[key] = self.counts.get(key, 0) + 1


@dataclass(frozen=True)
class Snapshot:
    """What one scrape sees. `store_up` False: the state store did not answer, so the group and
    operation series are missing (not zero) and only what the controller holds in memory is shown."""

    holder: str
    leader: bool
    store_up: bool
    version: str = ""
    sites: Sequence[SiteInfo] = ()
    groups: Sequence[GroupRecord] = ()
    statuses: Mapping[str, SiteStatus | None] = field(default_factory=dict)
    last_ops: Mapping[str, OpRecord] = field(default_factory=dict)  # group -> its active or last op
    running: Sequence[OpRecord] = ()
    tally: OpTally = field(default_factory=OpTally)
    decisions: Decisions = field(default_factory=Decisions)
    last_decision: Mapping[str, DecisionEvent] = field(default_factory=dict)


class _Families:
    """Samples grouped by family, in the order the families were declared (the format wants each
    family's samples together, after its HELP and TYPE)."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.meta: dict[str, tuple[str, str]] = {}
        self.samples: dict[str, list[str]] = {}

    def declare(self, name: str, typ: str, help_text: str) -> None:
        self.order.append(name)
        self.meta[name] = (typ, help_text)
        self.samples[name] = []

    def add(self, family: str, value: float, suffix: str = "", **labels: str) -> None:
        self.samples[family].append(f"{family}{suffix}{_labels(labels)} {_value(value)}")

    def text(self) -> str:
        out: list[str] = []
        for name in self.order:
            typ, help_text = self.meta[name]
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {typ}")
            out.extend(self.samples[name])
        return "\n".join(out) + "\n"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}"


def _value(v: float) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _le(b: float) -> str:
    return "+Inf" if math.isinf(b) else repr(b)


FAMILIES: list[tuple[str, str, str]] = [
    ("cephdr_build_info", "gauge", "Always 1; the controller's cephdr version."),
    ("cephdr_controller_leader", "gauge", "1 while this controller holds the leader lease."),
    ("cephdr_controller_state_store_up", "gauge", "1 when this scrape could read the state store (KV)."),
    ("cephdr_site_up", "gauge", "1 while the site's agent heartbeats and says its cluster answers."),
    ("cephdr_site_heartbeat_age_seconds", "gauge", "Seconds since the site's agent last heartbeated."),
    ("cephdr_site_cluster_reachable", "gauge", "1 when the site's agent reaches its own Ceph cluster."),
    ("cephdr_site_peer_reachable", "gauge", "1 when the site's agent reaches the peer site's cluster."),
    ("cephdr_mirror_daemon_up", "gauge", "1 while an rbd-mirror or cephfs-mirror daemon reports."),
    ("cephdr_group_primary", "gauge", "1 for the site that is the group's primary."),
    ("cephdr_group_epoch", "gauge", "The group's fencing epoch (bumped by each forced failover)."),
    ("cephdr_group_health", "gauge", "1 for the group's current health (ok, warning, error, unknown)."),
    ("cephdr_group_rpo_lag_seconds", "gauge", "The worst RPO lag of the group's members."),
    ("cephdr_group_rbd_interval_seconds", "gauge", "The group's rbd mirror-snapshot schedule interval."),
    ("cephdr_group_fs_interval_seconds", "gauge", "The group's CephFS snap-schedule interval."),
    ("cephdr_group_alerts", "gauge", "Alerts the controller currently raises for the group, by kind."),
    ("cephdr_group_operation_active", "gauge", "1 while an operation holds the group."),
    ("cephdr_group_auto_enabled", "gauge", "1 when the group has automatic failover enabled."),
    ("cephdr_group_auto_paused", "gauge", "1 while automatic actions are held for the group."),
    ("cephdr_rbd_image_primary", "gauge", "1 when the site holds the image as primary."),
    ("cephdr_rbd_image_state", "gauge", "1 for the image's mirror state on the site (librbd states)."),
    ("cephdr_rbd_image_up", "gauge", "1 when the site's rbd-mirror reports the image."),
    ("cephdr_rbd_image_healthy", "gauge", "1 when the image's mirroring on the site is healthy."),
    ("cephdr_rbd_image_split_brain", "gauge", "1 when the image is split-brain on the site."),
    ("cephdr_rbd_image_caught_up", "gauge", "1 when the follower is caught up (when Ceph tells)."),
    ("cephdr_rbd_image_rpo_lag_seconds", "gauge", "Seconds since the newest point the copy holds."),
    ("cephdr_rbd_image_last_sync_timestamp_seconds", "gauge", "When the copy was last in sync (unix)."),
    ("cephdr_fs_dir_state", "gauge", "1 for the directory's cephfs-mirror state on the sending site."),
    ("cephdr_fs_dir_healthy", "gauge", "1 when the directory's mirroring is healthy."),
    ("cephdr_fs_dir_rpo_lag_seconds", "gauge", "Seconds since the last synced snapshot was taken."),
    ("cephdr_fs_dir_last_sync_timestamp_seconds", "gauge", "When the last synced snapshot was taken."),
    ("cephdr_fs_dir_last_sync_duration_seconds", "gauge", "How long the last snapshot sync took."),
    ("cephdr_fs_dir_snaps_synced", "gauge", "Snapshots synced since the mirror daemon started."),
    ("cephdr_operations_total", "counter", "Finished operations by kind, end state and trigger."),
    ("cephdr_operation_duration_seconds", "histogram", "How long finished operations took."),
    ("cephdr_operations_running", "gauge", "Operations running now, by kind."),
    ("cephdr_autopilot_decisions_total", "counter", "Autopilot decisions published, by group and verdict."),
    ("cephdr_autopilot_verdict", "gauge", "1 for the autopilot's latest verdict and code per group."),
]


def render(s: Snapshot) -> str:
    f = _Families()
    for name, typ, help_text in FAMILIES:
        f.declare(name, typ, help_text)
    f.add("cephdr_build_info", 1, version=s.version)
    f.add("cephdr_controller_leader", s.leader, holder=s.holder)
    f.add("cephdr_controller_state_store_up", s.store_up)
    _sites(f, s)
    infos = {str(i.site): i for i in s.sites}
    for g in s.groups:
        _group(f, s, g, infos)
    if s.store_up:
        _ops(f, s)
    for (group, verdict), n in sorted(s.decisions.counts.items()):
        f.add("cephdr_autopilot_decisions_total", n, group=group, verdict=verdict)
    for group, ev in sorted(s.last_decision.items()):
        f.add("cephdr_autopilot_verdict", 1, group=group, verdict=ev.decision.verdict, code=ev.decision.code)
    return f.text()


def _sites(f: _Families, s: Snapshot) -> None:
    for i in s.sites:
        site = str(i.site)
        f.add("cephdr_site_up", i.alive, site=site)
        if i.age_s is not None:
            f.add("cephdr_site_heartbeat_age_seconds", i.age_s, site=site)
        if i.cluster_reachable is not None:
            f.add("cephdr_site_cluster_reachable", i.cluster_reachable, site=site)
        for peer, ok in sorted(i.peer_reachable.items()):
            if ok is not None:
                f.add("cephdr_site_peer_reachable", ok, site=site, peer=peer)
    for site, st in sorted(s.statuses.items()):
        for d in st.daemons if st else []:
            f.add("cephdr_mirror_daemon_up", d.up, site=site, daemon=d.kind, id=d.id)


def _group(f: _Families, s: Snapshot, g: GroupRecord, infos: Mapping[str, SiteInfo]) -> None:
    name = g.name
    statuses: dict[str, SiteStatus | None] = {str(x): s.statuses.get(x) for x in g.spec.sites}
    gs = group_status(g, statuses, infos, s.last_ops.get(name))
    for x in g.spec.sites:
        f.add("cephdr_group_primary", x == g.primary, group=name, site=str(x))
    f.add("cephdr_group_epoch", g.epoch, group=name)
    for h in HEALTHS:
        f.add("cephdr_group_health", gs.health == h, group=name, health=h)
    if gs.rpo_lag_s is not None:
        f.add("cephdr_group_rpo_lag_seconds", gs.rpo_lag_s, group=name)
    if g.spec.rbd:
        f.add("cephdr_group_rbd_interval_seconds", g.spec.schedule.interval_s, group=name)
    if g.spec.fs:
        f.add("cephdr_group_fs_interval_seconds", g.spec.schedule.fs_interval_s, group=name)
    alerts: dict[tuple[str, str], int] = {}
    for a in gs.alerts:
        alerts[(a.kind, a.severity)] = alerts.get((a.kind, a.severity), 0) + 1
    for (kind, severity), n in sorted(alerts.items()):
        f.add("cephdr_group_alerts", n, group=name, kind=kind, severity=severity)
    f.add("cephdr_group_operation_active", g.active_op is not None, group=name)
    f.add("cephdr_group_auto_enabled", g.spec.auto.enabled, group=name)
    f.add("cephdr_group_auto_paused", g.paused is not None, group=name)

    for m in gs.members:
        if m.kind != "rbd":
            continue
        pool, _, image = m.name.partition("/")
        for site in m.sites:
            st = statuses.get(site)
            i = next((x for x in (st.images if st else []) if x.pool == pool and x.image == image), None)
            if i is None:
                continue
            lab = {"group": name, "site": site, "pool": pool, "image": image}
            f.add("cephdr_rbd_image_primary", i.role == Role.PRIMARY, **lab)
            for state in ImageState:
                f.add("cephdr_rbd_image_state", i.state == state, **lab, state=str(state))
            f.add("cephdr_rbd_image_up", i.up, **lab)
            f.add("cephdr_rbd_image_healthy", i.healthy, **lab)
            f.add("cephdr_rbd_image_split_brain", i.split_brain, **lab)
            if i.caught_up is not None:
                f.add("cephdr_rbd_image_caught_up", i.caught_up, **lab)
            if i.rpo_lag_s is not None:
                f.add("cephdr_rbd_image_rpo_lag_seconds", i.rpo_lag_s, **lab)
            synced = i.last_synced_snapshot_at or i.last_caught_up_at
            if synced is not None:
                f.add("cephdr_rbd_image_last_sync_timestamp_seconds", synced, **lab)

    src = statuses.get(g.primary)
    for fm in g.spec.fs:
        for path in fm.dirs:
            d = next((x for x in (src.dirs if src else []) if x.fs == fm.fs and x.path == path), None)
            if d is None:
                continue
            lab = {"group": name, "site": str(g.primary), "fs": str(fm.fs), "path": str(path)}
            for dstate in DirState:
                f.add("cephdr_fs_dir_state", d.state == dstate, **lab, state=str(dstate))
            f.add("cephdr_fs_dir_healthy", d.healthy, **lab)
            if d.rpo_lag_s is not None:
                f.add("cephdr_fs_dir_rpo_lag_seconds", d.rpo_lag_s, **lab)
            if d.last_synced_snapshot_at is not None:
                f.add("cephdr_fs_dir_last_sync_timestamp_seconds", d.last_synced_snapshot_at, **lab)
            if d.last_sync_duration_s is not None:
                f.add("cephdr_fs_dir_last_sync_duration_seconds", d.last_sync_duration_s, **lab)
            f.add("cephdr_fs_dir_snaps_synced", d.snaps_synced, **lab)


def _ops(f: _Families, s: Snapshot) -> None:
    t = s.tally
    # every combination from zero, so that `increase()` sees the first failover as an increase
    for op_kind in OP_KINDS:
        for end in OP_ENDS:
            for trigger in TRIGGERS:
                n = t.counts.get((op_kind, end, trigger), 0)
                f.add("cephdr_operations_total", n, kind=op_kind, state=end, trigger=trigger)
    for (kind, state), b in sorted(t.buckets.items()):
        for le, n in zip((*DURATION_BUCKETS, math.inf), b, strict=True):
            f.add("cephdr_operation_duration_seconds", n, "_bucket", kind=kind, state=state, le=_le(le))
        f.add("cephdr_operation_duration_seconds", t.sums[(kind, state)], "_sum", kind=kind, state=state)
        f.add("cephdr_operation_duration_seconds", b[-1], "_count", kind=kind, state=state)
    running: dict[str, int] = dict.fromkeys(OP_KINDS, 0)
    for op in s.running:
        running[op.kind] = running.get(op.kind, 0) + 1
    for kind, n in running.items():
        f.add("cephdr_operations_running", n, kind=kind)
