"""Automatic failover and failback decisions: observations + policy + history -> a decision (pure).

A primary is declared lost only when two vantage points agree for `down_after`: the controller has
lost it (its agent silent, or reporting its own cluster unreachable) AND the survivor's agent, the
witness, cannot reach the primary's cluster with the peer credentials (Patroni's lesson: two sites
alone cannot tell a dead site from a cut link; orchestrator's "holistic" detection). Then the
guards, in the order an operator would ask: paused? busy? is the survivor itself alive? would it
lose too much (`max_lag`)? anti-flapping (`cooldown`, `max_per_day`)? is the survivor a site still
owed a resync (then failing over to it would go back in time)?

The lag guard uses the survivor's lag *when the primary was lost*: the agent's lag keeps growing
while the primary is dead (no new snapshots arrive), so the time the primary has been lost is
taken off the lag the survivor reports now.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.ids import SiteName
from schemas.policy import AutoFailover, Decision, Verdict

DAY_S = 86400.0


@dataclass(frozen=True)
class Observation:
    """What the controller knows about one group right now (the autopilot gathers it)."""

    now: float  # wall clock, for history (cooldown, per-day) only
    primary: str
    survivor: str
    primary_lost: tuple[float, str] | None  # (for how long, how) as the controller sees it
    witness_reachable: bool | None  # the survivor's agent on the primary's cluster
    witness_down_for: float  # how long the survivor's agent has said "unreachable"
    survivor_alive: bool
    survivor_lag_s: float | None  # the survivor's RPO lag as it reports it now
    active_op: str | None = None  # kind of the operation holding the group, if any
    paused: str | None = None  # why automatic actions are held, if they are
    owed_site: str | None = None  # a site failed away from and not yet resynced
    auto_failovers: list[float] = field(default_factory=list)  # past automatic failovers (wall)


def decide_failover(obs: Observation, policy: AutoFailover) -> Decision:
    p, s = obs.primary, obs.survivor
    if not policy.enabled:
        return Decision(verdict="disabled", code="disabled", reasons=["automatic failover is off"])
    if obs.primary_lost is None:
        return Decision(verdict="healthy", code="ok", reasons=[f"{p} is alive"])
    lost_for, how = obs.primary_lost
    need = policy.down_after_s
    reasons = [f"{p}: {how}"]

    def d(verdict: Verdict, code: str, *why: str) -> Decision:
        return Decision(
            verdict=verdict, code=code, reasons=[*reasons, *why], lost=SiteName(p), target=SiteName(s)
        )

    if lost_for < need:
        return d("suspect", "primary_suspect", f"{p} must look lost for {need}s before anything is done")
    if obs.witness_reachable is True:
        return d(
            "blocked",
            "partition",
            f"{s}'s agent still reaches {p}'s cluster: only the controller lost {p} (a partition); "
            "no failover",
        )
    if obs.witness_reachable is None:
        return d(
            "blocked",
            "witness_unknown",
            f"{s}'s agent does not say whether it reaches {p}'s cluster (not heard, or no probe yet): "
            "no failover without a witness",
        )
    if obs.witness_down_for < need:
        return d(
            "suspect",
            "witness_pending",
            f"{s}'s agent has failed to reach {p}'s cluster for {obs.witness_down_for:.0f}s of {need}s",
        )
    reasons.append(f"{s}'s agent has failed to reach {p}'s cluster for {obs.witness_down_for:.0f}s")
    if obs.paused:
        return d("blocked", "paused", f"automatic actions are paused: {obs.paused}")
    if obs.active_op and obs.active_op != "reconcile":
        return d("blocked", "busy", f"a {obs.active_op} operation holds the group")
    if not obs.survivor_alive:
        return d("blocked", "survivor_down", f"{s} is not alive either: nowhere to fail over to")
    if obs.owed_site == s:
        return d(
            "blocked",
            "owed",
            f"{s} was failed away from and never resynced: promoting it would go back in time",
        )
    if obs.survivor_lag_s is None:
        return d(
            "blocked",
            "lag_unknown",
            f"{s}'s RPO lag is unknown: what a failover would lose cannot be bounded",
        )
    lag_at_loss = max(0.0, obs.survivor_lag_s - lost_for)
    if lag_at_loss > policy.max_lag_s:
        return d(
            "blocked",
            "lag",
            f"{s} was {lag_at_loss:.0f}s behind when {p} was lost, above max_lag {policy.max_lag} "
            f"({policy.max_lag_s}s)",
        )
    reasons.append(f"{s} was {lag_at_loss:.0f}s behind when {p} was lost (max_lag {policy.max_lag})")
    past = sorted(obs.auto_failovers)
    if past and obs.now - past[-1] < policy.cooldown_s:
        return d(
            "blocked",
            "cooldown",
            f"the last automatic failover was {obs.now - past[-1]:.0f}s ago, "
            f"within cooldown {policy.cooldown}",
        )
    today = [t for t in past if obs.now - t < DAY_S]
    if len(today) >= policy.max_per_day:
        return d(
            "blocked",
            "max_per_day",
            f"{len(today)} automatic failover(s) in the last 24h (max_per_day {policy.max_per_day})",
        )
    if policy.dry_run:
        return d("dry_run", "fail_over", f"would fail over to {s} (dry_run: nothing done)")
    return d("failover", "fail_over", f"failing over to {s} (forced: {p} cannot demote)")


@dataclass(frozen=True)
class Return:
    """A site an unplanned failover left, as it comes back."""

    owed_site: str
    primary: str
    returned_for: float | None  # how long it has been alive again; None while it is not
    fenced: bool  # its agent reports the group fenced (its copies demoted)
    primary_alive: bool
    active_op: str | None = None
    paused: str | None = None


def decide_failback(r: Return, policy: AutoFailover) -> Decision:
    o, p = r.owed_site, r.primary
    if not policy.enabled or not policy.failback:
        return Decision(
            verdict="disabled", code="disabled", reasons=["automatic failback is off"], target=SiteName(o)
        )

    def d(verdict: Verdict, code: str, *why: str) -> Decision:
        return Decision(verdict=verdict, code=code, reasons=list(why), target=SiteName(o))

    if r.returned_for is None:
        return d("blocked", "returning", f"{o} is not back yet")
    need = policy.down_after_s
    if r.returned_for < need:
        return d(
            "suspect", "returning", f"{o} is back for {r.returned_for:.0f}s; waiting {need}s to trust it"
        )
    if not r.fenced:
        return d("blocked", "not_fenced", f"{o}'s agent does not report the group fenced yet")
    if r.paused:
        return d("blocked", "paused", f"automatic actions are paused: {r.paused}")
    if r.active_op:
        return d("blocked", "busy", f"a {r.active_op} operation holds the group")
    if not r.primary_alive:
        return d("blocked", "survivor_down", f"{p}, the current primary, is not alive")
    reasons = [f"{o} is back for {r.returned_for:.0f}s and fenced"]
    if policy.dry_run:
        return d("dry_run", "fail_back", *reasons, f"would fail back to {o} (dry_run: nothing done)")
    return d("failback", "fail_back", *reasons, f"failing back to {o}: resync, catch up, planned failover")
