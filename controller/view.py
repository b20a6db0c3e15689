"""A group's status and alerts, from what the agents last reported (pure).

Lag alerts follow Ramen's: a warning when the RPO lag passes 2x the schedule interval, critical
at 3x. A member is judged from its non-primary copy (that is where the lag is).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from schemas.ctl import Alert, GroupStatus, MemberSite, MemberStatus, OpRecord, SiteInfo
from schemas.group import GroupRecord
from schemas.status import ImageStatus, Role, SiteStatus


def _image_site(i: ImageStatus) -> MemberSite:
    return MemberSite(
        role=str(i.role),
        state=str(i.state),
        up=i.up,
        healthy=i.healthy,
        split_brain=i.split_brain,
        caught_up=i.caught_up,
        rpo_lag_s=i.rpo_lag_s,
        description=i.description,
    )


def group_status(
    rec: GroupRecord,
    statuses: Mapping[str, SiteStatus | None],
    sites: Mapping[str, SiteInfo],
    last_op: OpRecord | None = None,
) -> GroupStatus:
    spec, primary = rec.spec, rec.primary
    interval = spec.schedule.interval_s
    alerts: list[Alert] = []
    members: list[MemberStatus] = []

    for s in spec.sites:
        info = sites.get(s)
        if info is None or not info.alive:
            alerts.append(
                Alert(
                    kind="site_down",
                    severity="critical",
                    site=s,
                    message=f"{s}: agent silent or cluster unreachable",
                )
            )
        st = statuses.get(s)
        for dm in st.daemons if st else []:
            if not dm.up:
                alerts.append(
                    Alert(
                        kind="daemon_down",
                        severity="warning",
                        site=s,
                        message=f"{s}: {dm.kind} {dm.id} is down",
                    )
                )

    wanted: dict[str, None] = {}
    for m in spec.rbd:
        names = [f"{m.pool}/{i}" for i in m.images]
        if m.whole_pool:
            for st in statuses.values():
                names += [f"{i.pool}/{i.image}" for i in (st.images if st else []) if i.pool == m.pool]
        wanted.update(dict.fromkeys(names))
    by_site = {s: {f"{i.pool}/{i.image}": i for i in (st.images if st else [])} for s, st in statuses.items()}
    for name in sorted(wanted):
        per: dict[str, MemberSite] = {
            s: _image_site(by_site[s][name]) for s in spec.sites if name in by_site.get(s, {})
        }
        primaries = [s for s in spec.sites if s in per and per[s].role == Role.PRIMARY]
        lag = None
        for s in spec.sites:
            if s in per and per[s].role == Role.NON_PRIMARY:
                lag = per[s].rpo_lag_s
        members.append(MemberStatus(kind="rbd", name=name, sites=per, rpo_lag_s=lag))
        if any(p.split_brain for p in per.values()):
            alerts.append(
                Alert(
                    kind="split_brain",
                    severity="critical",
                    member=name,
                    message=f"{name}: split-brain (needs a resync of the loser)",
                )
            )
        if len(primaries) > 1:
            alerts.append(
                Alert(
                    kind="two_primaries",
                    severity="critical",
                    member=name,
                    message=f"{name}: primary on {' and '.join(primaries)}",
                )
            )
        elif statuses.get(primary) is not None and primary not in primaries:
            alerts.append(
                Alert(
                    kind="no_primary",
                    severity="warning",
                    member=name,
                    message=f"{name}: not primary on {primary}, the group's primary",
                )
            )
        missing = [s for s in spec.sites if statuses.get(s) is not None and s not in per]
        if missing:
            alerts.append(
                Alert(
                    kind="not_mirrored",
                    severity="warning",
                    member=name,
                    message=f"{name}: not mirrored on {', '.join(missing)}",
                )
            )
        alerts += _lag_alerts(name, lag, interval)

    src = statuses.get(primary)
    for fm in spec.fs:
        for path in fm.dirs:
            name = f"{fm.fs}:{path}"
            d = next((x for x in (src.dirs if src else []) if x.fs == fm.fs and x.path == path), None)
            fper: dict[str, MemberSite] = {}
            if d is not None:
                fper[primary] = MemberSite(
                    role="source",
                    state=str(d.state),
                    healthy=d.healthy,
                    rpo_lag_s=d.rpo_lag_s,
                    description=d.failure_reason or "",
                )
            members.append(
                MemberStatus(kind="fs", name=name, sites=fper, rpo_lag_s=d.rpo_lag_s if d else None)
            )
            if src is not None and d is None:
                alerts.append(
                    Alert(
                        kind="not_mirrored",
                        severity="warning",
                        member=name,
                        message=f"{name}: {primary} does not mirror it",
                    )
                )
            elif d is not None:
                alerts += _lag_alerts(name, d.rpo_lag_s, spec.schedule.fs_interval_s)

    if rec.owed is not None:
        alerts.append(
            Alert(
                kind="failback_needed",
                severity="warning",
                site=rec.owed.site,
                message=f"{rec.owed.site} was failed away from at epoch {rec.owed.since_epoch}: "
                "run failback once it is back",
            )
        )
    if last_op is not None and last_op.state == "failed":
        alerts.append(
            Alert(
                kind="op_failed",
                severity="warning",
                message=f"last operation {last_op.op_id} ({last_op.kind}) failed: {last_op.message}",
            )
        )

    health: Literal["ok", "warning", "error", "unknown"]
    lags = [m.rpo_lag_s for m in members if m.rpo_lag_s is not None]
    if any(a.severity == "critical" for a in alerts):
        health = "error"
    elif alerts:
        health = "warning"
    elif any(statuses.get(s) is None for s in spec.sites):
        health = "unknown"
    else:
        health = "ok"
    return GroupStatus(
        group=spec.name,
        primary=primary,
        epoch=rec.epoch,
        health=health,
        rpo_lag_s=max(lags) if lags else None,
        members=members,
        alerts=alerts,
        active_op=rec.active_op,
        last_op=last_op,
    )


def _lag_alerts(name: str, lag: float | None, interval: int) -> list[Alert]:
    if lag is None:
        return []
    if lag >= 3 * interval:
        return [
            Alert(
                kind="lag",
                severity="critical",
                member=name,
                message=f"{name}: RPO lag {lag:.0f}s is at least 3x the {interval}s interval",
            )
        ]
    if lag > 2 * interval:
        return [
            Alert(
                kind="lag",
                severity="warning",
                member=name,
                message=f"{name}: RPO lag {lag:.0f}s is above 2x the {interval}s interval",
            )
        ]
    return []


def alert_key(a: Alert) -> str:
    return f"{a.kind}|{a.site or ''}|{a.member or ''}"
