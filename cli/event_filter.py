"""Which events `cephdr events` shows (pure): by site, group and kind, from the subject and the
decoded body. Subjects: `cephdr.evt.<site>.<kind...>` from agents, `cephdr.ctl.evt.<kind>` from
the controller."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from schemas.errors import InvalidRequest

_SINCE = re.compile(r"^([0-9]{1,6})([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_seconds(text: str) -> float:
    """`--since 90s|15m|2h|1d` in seconds."""
    m = _SINCE.match(text)
    if m is None:
        raise InvalidRequest(f"--since {text!r}: a number and s, m, h or d (e.g. 15m)", where="--since")
    return float(int(m.group(1)) * _UNIT[m.group(2)])


def parse_subject(subject: str, prefix: str = "cephdr") -> tuple[str | None, str]:
    """(site, kind): `cephdr.evt.site-a.rbd.image` -> (site-a, rbd.image); `cephdr.ctl.evt.op` ->
    (None, op)."""
    ctl = f"{prefix}.ctl.evt."
    if subject.startswith(ctl):
        return None, subject[len(ctl) :]
    agent = f"{prefix}.evt."
    if subject.startswith(agent):
        site, _, kind = subject[len(agent) :].partition(".")
        return site, kind
    return None, subject


def _sites_in(body: dict[str, Any]) -> set[str]:
    out = set()
    for v in (
        body.get("site"),
        (body.get("alert") or {}).get("site"),
        (body.get("op") or {}).get("site"),
        body.get("primary"),
        body.get("source"),
        body.get("target"),
    ):
        if isinstance(v, str):
            out.add(v)
    decision = body.get("decision")
    if isinstance(decision, dict):
        out |= {v for v in (decision.get("lost"), decision.get("target")) if isinstance(v, str)}
    return out


@dataclass(frozen=True)
class EventFilter:
    site: str | None = None
    group: str | None = None
    kind: str | None = None  # a kind or its first words: `rbd` matches `rbd.image`

    def subjects(self, prefix: str = "cephdr") -> list[str]:
        """The live subjects to subscribe to (narrowed by site where the subject says it)."""
        agent = f"{prefix}.evt.{self.site or '*'}.>"
        return [agent, f"{prefix}.ctl.evt.>"] if self.group is None else [f"{prefix}.ctl.evt.>", agent]

    def matches(self, subject: str, body: dict[str, Any], prefix: str = "cephdr") -> bool:
        site, kind = parse_subject(subject, prefix)
        if kind == "heartbeat" and self.kind != "heartbeat":
            return False  # every few seconds per site: only on request
        if self.kind is not None and kind != self.kind and not kind.startswith(self.kind + "."):
            return False
        if self.site is not None and site != self.site and self.site not in _sites_in(body):
            return False
        if self.group is not None:
            groups = {
                body.get("group"),
                (body.get("op") or {}).get("group") if isinstance(body.get("op"), dict) else None,
            }
            if self.group not in groups:
                return False
        return True
