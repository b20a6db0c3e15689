"""The automatic-failover policy over a table of observations: every guard, and the flapping cases."""

from __future__ import annotations

from dataclasses import replace

import msgspec
import pytest
from msgspec.structs import replace as pol

from controller.policy import Observation, Return, decide_failback, decide_failover
from schemas.policy import AutoFailover, seconds

NOW = 1_000_000.0
ON = AutoFailover(enabled=True, down_after="60s", max_lag="10m", cooldown="1h", max_per_day=2)

# site-a (primary) dead for 90 s, seen by both vantage points; site-b 2 min behind when it died
DEAD = Observation(
    now=NOW,
    primary="site-a",
    survivor="site-b",
    primary_lost=(90.0, "no heartbeat from its agent for 90s"),
    witness_reachable=False,
    witness_down_for=85.0,
    survivor_alive=True,
    survivor_lag_s=210.0,
)

CASES: list[tuple[str, Observation, AutoFailover, str, str]] = [
    ("off", DEAD, AutoFailover(), "disabled", "disabled"),
    ("healthy", replace(DEAD, primary_lost=None), ON, "healthy", "ok"),
    ("lost too briefly", replace(DEAD, primary_lost=(59.0, "silent")), ON, "suspect", "primary_suspect"),
    (
        "only the controller lost it",
        replace(DEAD, witness_reachable=True, witness_down_for=0),
        ON,
        "blocked",
        "partition",
    ),
    (
        "no witness",
        replace(DEAD, witness_reachable=None, witness_down_for=0),
        ON,
        "blocked",
        "witness_unknown",
    ),
    ("witness agrees too briefly", replace(DEAD, witness_down_for=30.0), ON, "suspect", "witness_pending"),
    ("paused", replace(DEAD, paused="maintenance"), ON, "blocked", "paused"),
    ("busy with a failover", replace(DEAD, active_op="planned_failover"), ON, "blocked", "busy"),
    ("a reconcile does not block", replace(DEAD, active_op="reconcile"), ON, "failover", "fail_over"),
    ("survivor dead too", replace(DEAD, survivor_alive=False), ON, "blocked", "survivor_down"),
    ("survivor owed a resync", replace(DEAD, owed_site="site-b"), ON, "blocked", "owed"),
    ("lag unknown", replace(DEAD, survivor_lag_s=None), ON, "blocked", "lag_unknown"),
    # 700 s now, 90 s of it since the loss: 610 s behind at the loss, above 600
    ("too far behind", replace(DEAD, survivor_lag_s=700.0), ON, "blocked", "lag"),
    ("just within max_lag", replace(DEAD, survivor_lag_s=690.0), ON, "failover", "fail_over"),
    ("cooldown", replace(DEAD, auto_failovers=[NOW - 3000]), ON, "blocked", "cooldown"),
    ("after cooldown", replace(DEAD, auto_failovers=[NOW - 3700]), ON, "failover", "fail_over"),
    ("max per day", replace(DEAD, auto_failovers=[NOW - 80000, NOW - 4000]), ON, "blocked", "max_per_day"),
    ("a day later", replace(DEAD, auto_failovers=[NOW - 90000, NOW - 87000]), ON, "failover", "fail_over"),
    ("dry run", DEAD, pol(ON, dry_run=True), "dry_run", "fail_over"),
    ("go", DEAD, ON, "failover", "fail_over"),
]


@pytest.mark.parametrize(
    ("obs", "policy", "verdict", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_failover_decision(obs: Observation, policy: AutoFailover, verdict: str, code: str) -> None:
    d = decide_failover(obs, policy)
    assert (d.verdict, d.code) == (verdict, code), d.reasons
    assert d.reasons and all(r.strip() for r in d.reasons)
    if verdict not in ("disabled", "healthy"):
        assert (d.lost, d.target) == ("site-a", "site-b")
        assert any("site-a" in r for r in d.reasons)


def test_a_flapping_primary_never_reaches_down_after() -> None:
    """Lost, back, lost again: the controller's clock restarts with each loss (Sites resets it),
    so a site that keeps coming back within down_after is never failed over."""
    for lost_for in (10.0, 25.0, 59.9):
        assert decide_failover(replace(DEAD, primary_lost=(lost_for, "silent")), ON).verdict == "suspect"


def test_a_flapping_witness_holds_the_decision() -> None:
    """The survivor's probe succeeding once resets its count: the pending verdict follows the
    shorter of the two vantage points."""
    d = decide_failover(replace(DEAD, witness_down_for=5.0), ON)
    assert d.code == "witness_pending" and "5s of 60s" in d.reasons[-1]


def test_the_lag_guard_takes_the_outage_off_the_reported_lag() -> None:
    d = decide_failover(replace(DEAD, survivor_lag_s=90.0), ON)
    assert d.verdict == "failover"
    assert any("0s behind when site-a was lost" in r for r in d.reasons)


RET = Return(owed_site="site-a", primary="site-b", returned_for=120.0, fenced=True, primary_alive=True)
FB = pol(ON, failback=True)

FAILBACK_CASES: list[tuple[str, Return, AutoFailover, str, str]] = [
    ("off", RET, ON, "disabled", "disabled"),
    ("not back", replace(RET, returned_for=None), FB, "blocked", "returning"),
    ("back too briefly", replace(RET, returned_for=30.0), FB, "suspect", "returning"),
    ("not fenced", replace(RET, fenced=False), FB, "blocked", "not_fenced"),
    ("paused", replace(RET, paused="maintenance"), FB, "blocked", "paused"),
    ("busy", replace(RET, active_op="reconcile"), FB, "blocked", "busy"),
    ("primary died meanwhile", replace(RET, primary_alive=False), FB, "blocked", "survivor_down"),
    ("dry run", RET, pol(FB, dry_run=True), "dry_run", "fail_back"),
    ("go", RET, FB, "failback", "fail_back"),
]


@pytest.mark.parametrize(
    ("ret", "policy", "verdict", "code"), [c[1:] for c in FAILBACK_CASES], ids=[c[0] for c in FAILBACK_CASES]
)
def test_failback_decision(ret: Return, policy: AutoFailover, verdict: str, code: str) -> None:
    d = decide_failback(ret, policy)
    assert (d.verdict, d.code) == (verdict, code), d.reasons
    assert d.target == "site-a"


@pytest.mark.parametrize(("text", "n"), [("90s", 90), ("5m", 300), ("1h", 3600), ("2d", 172800)])
def test_durations(text: str, n: int) -> None:
    assert seconds(text) == n


@pytest.mark.parametrize(
    "raw", [{"down_after": "5s"}, {"down_after": "1w"}, {"max_lag": "10"}, {"max_per_day": 0}]
)
def test_bad_policies_are_refused_with_the_field(raw: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"enabled": True, **raw}, AutoFailover)
