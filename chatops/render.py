"""Chat text for replies, errors and bus events (pure).

Events come from `cephdr.ctl.evt.<kind>` as published by the controller: `op` (CtlOpEvent: an
operation started, finished a step, ended), `alert` (AlertEvent: raised or cleared; split-brain,
site down, RPO lag above 2x / at least 3x the interval, ...), `decision` (DecisionEvent: what the
autopilot concluded, acted on or not). `event()` returns None for what the channel should not get:
a periodic reconcile every minute would drown the channel, so reconciles are posted only when
they fail.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from schemas.common import Accepted, Done
from schemas.ctl import AlertEvent, CtlOpEvent, FleetStatus, GroupEvent, GroupStatus, OpList, OpRecord
from schemas.errors import CephDRError, DeadlineExceeded, Unavailable
from schemas.policy import DecisionEvent

_SEVERITY = {"critical": "CRITICAL", "warning": "WARNING"}


def error(action: str, exc: CephDRError) -> str:
    """A failed request: the error code first (what runbooks and people search for), then why."""
    how = "failed" if isinstance(exc, Unavailable | DeadlineExceeded) else "refused"
    where = f" (at {exc.where})" if exc.where and exc.where.startswith("$") else ""
    return f"{action} {how} [{exc.code}]: {exc.message}{where}"


def _lag(s: float | None) -> str:
    return "-" if s is None else f"{s:.0f}s"


def _when(t: float | None) -> str:
    if not t:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _group_line(g: GroupStatus) -> str:
    line = f"{g.group}: primary {g.primary} (epoch {g.epoch}), health {g.health}, RPO lag {_lag(g.rpo_lag_s)}"
    if g.active_op:
        line += f", running {g.active_op}"
    return line


def status(st: FleetStatus, group: str | None = None) -> str:
    lines: list[str] = []
    if group is None:
        sites = ", ".join(
            f"{s.site} {'up' if s.alive else 'DOWN'}"
            + ("" if s.cluster_reachable is not False else " (cluster unreachable)")
            for s in st.sites
        )
        lines.append(f"sites: {sites or 'none reported'}")
        if not st.groups:
            lines.append("no protection groups")
    for g in st.groups:
        lines.append(_group_line(g))
        if group is not None:
            for m in g.members:
                per_site = "; ".join(
                    f"{site} {ms.role or '?'} {ms.state or ''}".rstrip()
                    + (" SPLIT-BRAIN" if ms.split_brain else "")
                    for site, ms in sorted(m.sites.items())
                )
                lines.append(f"  {m.name}: {per_site or 'no report'}, lag {_lag(m.rpo_lag_s)}")
            if g.last_op is not None:
                lines.append(f"  last operation: {_op_line(g.last_op)}")
        for a in g.alerts:
            lines.append(f"  {_SEVERITY.get(a.severity, a.severity)} {a.kind}: {a.message}")
    return "\n".join(lines)


def _op_line(op: OpRecord) -> str:
    who = f" by {op.actor}" if op.actor else ""
    where = f" {op.source}->{op.target}" if op.source and op.target else ""
    msg = f": {op.message}" if op.message else ""
    return (
        f"{op.op_id} {op.kind} {op.group}{where} {op.state} "
        f"({op.done_steps}/{len(op.steps)} steps){who}, {_when(op.created_at)}{msg}"
    )


def ops(lst: OpList) -> str:
    if not lst.ops:
        return "no operations"
    return "\n".join(_op_line(o) for o in lst.ops)


def accepted(what: str, group: str, acc: Accepted, channel: str) -> str:
    follow = f"; progress in {channel}" if channel else ""
    return f"{what} of {group} accepted: operation {acc.op_id}{follow} (or `!dr ops {group}`)"


def done(d: Done) -> str:
    return d.message + ("" if d.changed else " (nothing to change)")


def confirm_prompt(user: str, group: str, to: str | None, ttl: float) -> str:
    target = to or "the other site"
    return (
        f"FORCED failover of {group} to {target}: the primary's unreplicated writes are lost and the old "
        f"primary is fenced. {user}, to go ahead type `!dr confirm {group}` within {ttl:g} s."
    )


def _op_event(e: CtlOpEvent, steps: bool) -> str | None:
    head = f"[{e.group}] {e.kind.replace('_', ' ')} {e.op_id}"
    if e.state != "running":
        return f"{head} {e.state.upper()} ({e.done}/{e.total} steps)" + (
            f": {e.message}" if e.message else ""
        )
    if e.kind == "reconcile":
        return None
    if e.step is None:
        return f"{head} started ({e.total} steps)"
    if e.step_state == "failed" or (steps and e.step_state == "done"):
        return f"{head} step {e.done}/{e.total} {e.step_state}: {e.step}" + (
            f" ({e.message})" if e.step_state == "failed" and e.message else ""
        )
    return None


def _alert_event(e: AlertEvent) -> str:
    a = e.alert
    if not e.raised:
        return f"[{e.group}] cleared {a.kind}: {a.message}"
    return f"[{e.group}] {_SEVERITY.get(a.severity, a.severity)} {a.kind}: {a.message}"


def _decision_event(e: DecisionEvent) -> str | None:
    d = e.decision
    if d.verdict == "disabled":
        return None
    why = "; ".join(d.reasons) or d.code
    head = f"[{e.group}] autopilot: {d.verdict} ({d.code})"
    if e.acted and e.op_id:
        head += f", started {e.op_id}"
    elif e.error:
        head += f", could not act: {e.error}"
    return f"{head}: {why}"


def event(kind: str, data: bytes, *, steps: bool = True) -> str | None:
    """The channel text for one event on `cephdr.ctl.evt.<kind>`, or None (not for chat, or not
    understood: a newer controller's event must not break the bot)."""
    try:
        if kind == "op":
            op_event: str | None = _op_event(msgspec.json.decode(data, type=CtlOpEvent), steps)
            return op_event
        if kind == "alert":
            return _alert_event(msgspec.json.decode(data, type=AlertEvent))
        if kind == "decision":
            return _decision_event(msgspec.json.decode(data, type=DecisionEvent))
        if kind == "group":
            g = msgspec.json.decode(data, type=GroupEvent)
            return f"[{g.group}] {g.message}" if g.change in ("primary", "deleted") else None
    except msgspec.DecodeError:
        return None
    return None
