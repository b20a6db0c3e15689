"""Plain-text tables and lines for the operator CLI (pure: records in, text out).

Everything here is deterministic given its inputs (`now` is passed in), so tests pin the exact
text. Columns are left-aligned and padded; an unknown value is `-`, never an empty cell.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from schemas.ctl import CtlOpEvent, FleetStatus, GroupStatus, OpRecord, SiteInfo
from schemas.group import GroupRecord, member_names
from schemas.policy import AutoState

DASH = "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; no trailing spaces."""
    widths = [len(h) for h in headers]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, headers {len(headers)}")
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def duration(seconds: float | None) -> str:
    """`-`, `850ms`, `12.3s`, `4m05s`, `2h03m`, `3d04h`."""
    if seconds is None:
        return DASH
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = round(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def clock(ts: float | None) -> str:
    """A wall-clock time in UTC, to the second (what the controller's records and logs use)."""
    if not ts:
        return DASH
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def yes_no(v: bool | None) -> str:
    return DASH if v is None else ("yes" if v else "no")


# -- status ---------------------------------------------------------------------------------------


def sites_table(sites: Sequence[SiteInfo]) -> str:
    rows = [
        [
            s.site,
            "up" if s.alive else "DOWN",
            duration(s.age_s),
            yes_no(s.cluster_reachable),
            ",".join(f"{p}:{yes_no(r)}" for p, r in sorted(s.peer_reachable.items())) or DASH,
            ",".join(s.fenced_groups) or DASH,
            s.version or DASH,
        ]
        for s in sites
    ]
    return table(["SITE", "AGENT", "SEEN", "CLUSTER", "PEERS", "FENCED", "VERSION"], rows)


def alert_summary(g: GroupStatus) -> str:
    if not g.alerts:
        return DASH
    crit = sum(a.severity == "critical" for a in g.alerts)
    kinds = sorted({a.kind for a in g.alerts})
    return (
        f"{len(g.alerts)} ({crit} critical): {','.join(kinds)}"
        if crit
        else f"{len(g.alerts)}: {','.join(kinds)}"
    )


def groups_status_table(groups: Sequence[GroupStatus]) -> str:
    rows = [
        [
            g.group,
            g.health.upper() if g.health != "ok" else "ok",
            g.primary,
            str(g.epoch),
            duration(g.rpo_lag_s),
            str(len(g.members)),
            g.active_op or DASH,
            alert_summary(g),
        ]
        for g in groups
    ]
    return table(["GROUP", "STATE", "PRIMARY", "EPOCH", "RPO LAG", "MEMBERS", "RUNNING OP", "ALERTS"], rows)


def fleet(st: FleetStatus, site: str | None = None) -> str:
    """`cephdr status` (all) or `cephdr status --site X` (that site, and the groups it is in)."""
    sites = [s for s in st.sites if site is None or s.site == site]
    groups = [
        g for g in st.groups if site is None or any(site in m.sites for m in g.members) or g.primary == site
    ]
    parts = ["Sites", sites_table(sites) if sites else "  (no site has reported)"]
    parts += ["", "Groups", groups_status_table(groups) if groups else "  (no protection group)"]
    if site is not None and groups:
        for g in groups:
            parts += ["", f"{g.group} on {site}", members_table(g, [site])]
    return "\n".join(parts)


def _member_site(g: GroupStatus, sites: Sequence[str]) -> list[list[str]]:
    rows = []
    for m in g.members:
        row = [m.name, m.kind]
        for s in sites:
            ms = m.sites.get(s)
            if ms is None:
                row.append(DASH)
                continue
            bits = [ms.role or "?", ms.state or "?"]
            if ms.split_brain:
                bits.append("SPLIT-BRAIN")
            if ms.up is False:
                bits.append("down")
            row.append(" ".join(bits))
        row.append(duration(m.rpo_lag_s))
        rows.append(row)
    return rows


def members_table(g: GroupStatus, sites: Sequence[str] | None = None) -> str:
    cols = list(sites) if sites is not None else _sites_of(g)
    return table(["MEMBER", "KIND", *[c.upper() for c in cols], "RPO LAG"], _member_site(g, cols))


def _sites_of(g: GroupStatus) -> list[str]:
    seen: list[str] = [g.primary]
    for m in g.members:
        seen += [s for s in sorted(m.sites) if s not in seen]
    return seen


def group_detail(g: GroupStatus) -> str:
    """`cephdr status GROUP`."""
    head = [
        f"Group {g.group}: {g.health.upper()}, primary {g.primary} (epoch {g.epoch}), worst RPO lag "
        f"{duration(g.rpo_lag_s)}"
    ]
    if g.active_op:
        head.append(f"Running operation: {g.active_op}")
    if g.last_op is not None:
        lo = g.last_op
        head.append(
            f"Last operation: {lo.op_id} {lo.kind} {lo.state} at {clock(lo.finished_at or lo.updated_at)}"
        )
    parts = ["\n".join(head), "", members_table(g) if g.members else "  (no member reported yet)", ""]
    if g.alerts:
        rows = [[a.severity.upper(), a.kind, a.site or DASH, a.member or DASH, a.message] for a in g.alerts]
        parts.append(table(["SEVERITY", "ALERT", "SITE", "MEMBER", "MESSAGE"], rows))
    else:
        parts.append("No alerts.")
    return "\n".join(parts)


# -- groups, ops, auto ----------------------------------------------------------------------------


def groups_table(groups: Sequence[GroupRecord]) -> str:
    rows = [
        [
            g.spec.name,
            g.primary,
            g.secondary,
            str(g.epoch),
            str(len(member_names(g.spec))),
            "yes" if g.spec.auto.enabled else "no",
            "paused" if g.paused else DASH,
            f"to {g.owed.site}" if g.owed else DASH,
            g.active_op or DASH,
        ]
        for g in groups
    ]
    return table(
        ["GROUP", "PRIMARY", "SECONDARY", "EPOCH", "MEMBERS", "AUTO", "PAUSE", "FAILBACK OWED", "RUNNING OP"],
        rows,
    )


def op_duration(op: OpRecord, now: float) -> float | None:
    if not op.created_at:
        return None
    return (op.finished_at or now) - op.created_at


def ops_table(ops: Sequence[OpRecord], now: float) -> str:
    rows = [
        [
            op.op_id,
            op.kind,
            op.group,
            f"{op.source or DASH}->{op.target or DASH}" if op.source or op.target else DASH,
            op.state,
            f"{op.done_steps}/{len(op.steps)}",
            clock(op.created_at),
            duration(op_duration(op, now)),
            op.actor or DASH,
        ]
        for op in ops
    ]
    return table(["OP", "KIND", "GROUP", "MOVE", "STATE", "STEPS", "STARTED (UTC)", "TOOK", "BY"], rows)


def op_detail(op: OpRecord, now: float) -> str:
    """`cephdr ops show ID`: the header and every step."""
    move = f" {op.source}->{op.target}" if op.source and op.target else ""
    head = [
        f"Operation {op.op_id}: {op.kind} of {op.group}{move}, {op.state.upper()}",
        f"Started {clock(op.created_at)} by {op.actor or DASH}, took {duration(op_duration(op, now))}"
        + (f", epoch {op.epoch}" if op.epoch is not None else ""),
    ]
    if op.message:
        head.append(f"Message: {op.message}")
    if op.error is not None:
        head.append(f"Error: {op.error.code}: {op.error.message}")
    rows = []
    for i, s in enumerate(op.steps, 1):
        took = s.finished_at - s.started_at if s.started_at and s.finished_at else None
        note = s.error.message if s.error is not None else s.message
        rows.append(
            [
                str(i),
                s.state,
                s.name + (" (!)" if s.point_of_no_return else ""),
                s.site or DASH,
                duration(took),
                _short(note, 100),
            ]
        )
    steps = table(["#", "STATE", "STEP", "SITE", "TOOK", "MESSAGE"], rows) if rows else "  (no steps)"
    tail = "(!) point of no return: the operation cannot be cancelled once this step started"
    return "\n".join([*head, "", steps] + ([tail] if any(s.point_of_no_return for s in op.steps) else []))


def auto_table(st: AutoState) -> str:
    fleet_line = (
        f"Fleet-wide: PAUSED since {clock(st.paused.at)} by {st.paused.by or DASH}"
        + (f" ({st.paused.reason})" if st.paused.reason else "")
        if st.paused
        else "Fleet-wide: automatic actions allowed"
    )
    rows = [
        [
            g.group,
            "on" if g.policy.enabled else "off",
            "paused" if g.paused else DASH,
            g.last.decision.verdict if g.last else DASH,
            _short(g.last.decision.reasons[0], 80) if g.last and g.last.decision.reasons else DASH,
        ]
        for g in st.groups
    ]
    if not rows:
        return fleet_line
    return fleet_line + "\n" + table(["GROUP", "AUTO", "PAUSE", "LAST VERDICT", "WHY"], rows)


# -- progress and summary -------------------------------------------------------------------------


def progress_line(ev: CtlOpEvent, started: float) -> str:
    """One line per step transition: `[   2.1s]  4/22 done     demote web on site-a: 2 changed`."""
    at = f"[{duration(max(0.0, ev.at - started)):>7}]"
    if ev.step is None:
        return f"{at} operation {ev.op_id} {ev.state}" + (
            f": {_short(ev.message, 120)}" if ev.message else ""
        )
    text = ev.step
    if ev.message and ev.step_state != "running":
        # a step's message often repeats its name: say it once
        msg = ev.message
        text = msg if msg.lower().startswith(ev.step.lower()) else f"{ev.step}: {msg}"
    width = len(str(ev.total))
    return f"{at} {ev.done:>{width}}/{ev.total} {ev.step_state or '?':8} {_short(text, 140)}"


def summary(op: OpRecord, now: float, rpo_lag_s: float | None = None) -> str:
    """What an operator reads when a long operation ends."""
    skipped = sum(s.state == "skipped" for s in op.steps)
    lines = [
        f"{op.kind} of {op.group} {op.state.upper()}"
        + (f" ({op.source} -> {op.target})" if op.source and op.target else "")
        + f" in {duration(op_duration(op, now))}",
        f"  steps: {op.done_steps}/{len(op.steps)} done" + (f" ({skipped} skipped)" if skipped else ""),
    ]
    if op.epoch is not None:
        lines.append(f"  epoch: {op.epoch}")
    rpo = rpo_line(op, rpo_lag_s)
    if rpo:
        lines.append(f"  RPO: {rpo}")
    failed = next((s for s in op.steps if s.state == "failed"), None)
    if failed is not None and failed.error is not None:
        lines.append(f"  failed at: {failed.name}: {failed.error.message}")
    if op.message:
        lines.append(f"  {op.message}")
    lines.append(f"  details: cephdr ops show {op.op_id}")
    return "\n".join(lines)


def rpo_line(op: OpRecord, rpo_lag_s: float | None) -> str:
    """A planned failover demotes before it promotes: nothing acknowledged is lost. A forced one
    loses at most what the survivor lagged when it was promoted."""
    if op.state != "succeeded":
        return ""
    if op.kind in ("planned_failover", "failback"):
        return "0 (the primary was demoted and the target caught up before the promote)"
    if op.kind == "unplanned_failover":
        return (
            f"up to {duration(rpo_lag_s)} of writes (the survivor's lag before the failover)"
            if rpo_lag_s is not None
            else "unknown (no lag reported before the failover)"
        )
    return ""


def event_line(subject: str, data: dict[str, Any]) -> str:
    """One event of the stream, for `cephdr events`: time, subject, the gist."""
    raw_op = data.get("op")
    op: dict[str, Any] = raw_op if isinstance(raw_op, dict) else {}
    at = data.get("at") or data.get("sent_at") or op.get("finished_at") or op.get("started_at")
    ts = clock(at)[11:] if isinstance(at, int | float) else "--:--:--"
    gist = data.get("message") or ""
    if "op" in data and isinstance(data["op"], dict):
        op = data["op"]
        gist = f"{op.get('kind', '')} {op.get('target', '')} {op.get('state', '')} {op.get('message', '')}"
    elif "decision" in data and isinstance(data["decision"], dict):
        d = data["decision"]
        gist = f"{data.get('group', '')}: {d.get('verdict', '')} ({d.get('code', '')})"
    elif "alert" in data and isinstance(data["alert"], dict):
        a = data["alert"]
        gist = (
            f"{data.get('group', '')}: {'RAISED' if data.get('raised') else 'cleared'} {a.get('kind', '')} "
            f"{a.get('message', '')}"
        )
    elif data.get("type") == "cephdr.ctl.op.v1":
        gist = (
            f"{data.get('group', '')} {data.get('op_id', '')} {data.get('state', '')} "
            f"{data.get('done', 0)}/{data.get('total', 0)} "
            f"{data.get('step') or ''} {data.get('step_state') or ''}"
        )
    elif data.get("type") == "cephdr.ctl.leader.v1":
        gist = f"{data.get('change', '')} by {data.get('holder', '')}"
    elif not gist:
        gist = " ".join(
            f"{k}={v}" for k, v in data.items() if k not in ("type", "at") and not isinstance(v, dict | list)
        )
    return f"{ts} {subject} {_short(' '.join(str(gist).split()), 160)}"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
