"""The leader lease's decisions (controller/lease.py) on a hand-driven clock: when to take, renew
or count the lease as lost, given when each KV call was sent and when it answered."""

from __future__ import annotations

import math

import pytest

from controller.lease import Acquire, Lease, Lost, Renew, Wait

TTL, RENEW = 15.0, 5.0  # margin min(2, 15/5) = 2: a lease sent at t is valid until t + 13
T0 = 1000.0  # monotonic clocks start anywhere


def leader(sent: float = T0, answered: float | None = None, rev: int = 7) -> Lease:
    lease = Lease(TTL, RENEW)
    assert lease.acquired(sent, sent if answered is None else answered, rev)
    return lease


def test_a_new_lease_tries_to_acquire_at_once_and_is_not_held() -> None:
    lease = Lease(TTL, RENEW)
    assert lease.decide(T0) == Acquire()
    assert not lease.held(T0)
    assert lease.revision is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (T0, Wait(5.0)),  # just acquired: wait for the renew time
        (T0 + 4.5, Wait(0.5)),
        (T0 + 5.0, Renew(7, deadline=8.0)),  # the renew must answer before T0 + 13
        (T0 + 12.9, Renew(7, deadline=pytest.approx(0.1))),
        (T0 + 13.0, Lost("not renewed within 13s")),  # exactly at the end: lost, not held
        (T0 + 500.0, Lost("not renewed within 13s")),  # a process suspended far past its lease
    ],
    ids=["fresh", "before-renew", "renew-due", "renew-late", "end-exactly", "suspended"],
)
def test_a_leader_renews_on_time_and_loses_the_lease_at_its_end(now: float, expected: object) -> None:
    lease = leader()
    assert lease.decide(now) == expected
    assert lease.held(now) == (now < T0 + 13.0)


@pytest.mark.parametrize(
    ("sent", "answered", "held"),
    [
        (T0, T0 + 0.01, True),
        (T0, T0 + 12.99, True),  # a slow create still leaves a little lease
        (T0, T0 + 13.0, False),  # answered exactly when it would end: worthless
        (T0, T0 + 60.0, False),
    ],
)
def test_the_lease_counts_from_when_the_create_was_sent(sent: float, answered: float, held: bool) -> None:
    lease = Lease(TTL, RENEW)
    assert lease.acquired(sent, answered, 3) is held
    assert lease.held(answered) is held
    if held:
        assert lease.valid_until == sent + 13.0 and lease.revision == 3
    else:
        assert lease.revision is None
        assert lease.decide(answered) == Wait(1.0)  # a standby again, looking again shortly


def test_a_successful_renew_extends_from_its_send_time() -> None:
    lease = leader()
    assert lease.renewed(T0 + 5.0, T0 + 5.5, 8)
    assert lease.revision == 8
    assert lease.valid_until == T0 + 18.0
    assert lease.decide(T0 + 6.0) == Wait(4.0)
    assert lease.decide(T0 + 10.0) == Renew(8, deadline=8.0)


def test_a_renew_answering_after_the_lease_ended_does_not_revive_it() -> None:
    lease = leader()
    # sent in time, but the answer came after the end by our clock: we stopped acting then
    assert not lease.renewed(T0 + 12.0, T0 + 13.5, 8)
    assert not lease.held(T0 + 13.5)
    assert lease.revision is None
    assert isinstance(lease.decide(T0 + 13.5), Wait)


def test_a_renew_sent_before_the_current_one_never_moves_the_end_back() -> None:
    lease = leader()
    assert lease.renewed(T0 + 5.0, T0 + 5.1, 8)
    assert lease.renewed(T0 + 1.0, T0 + 5.2, 9)  # a stale send time (clock misuse by a caller)
    assert lease.valid_until == T0 + 18.0 and lease.revision == 9


def test_failed_renews_retry_until_the_lease_ends_then_it_is_lost() -> None:
    lease = leader()
    t = T0 + 5.0
    seen = []
    while True:
        d = lease.decide(t)
        seen.append(type(d).__name__)
        if isinstance(d, Lost):
            break
        if isinstance(d, Renew):
            lease.failed(t + 0.2)  # NATS unreachable; the call errored after 0.2 s
            t += 0.2
        else:
            assert isinstance(d, Wait) and d.seconds > 0
            t += d.seconds
    assert t == pytest.approx(T0 + 13.0)
    assert seen.count("Renew") == 7  # at 5, 6.2, 7.4, ... 12.2: one `poll` after each failure
    assert not lease.held(t)


def test_a_failed_renew_never_schedules_its_retry_past_the_end() -> None:
    lease = leader()
    lease.failed(T0 + 12.5)
    assert lease.renew_at == T0 + 13.0
    assert lease.decide(T0 + 13.0) == Lost("not renewed within 13s")


def test_a_standby_looks_again_every_poll_while_the_lease_is_taken() -> None:
    lease = Lease(TTL, RENEW)
    lease.taken(T0)
    assert lease.decide(T0) == Wait(1.0)
    assert lease.decide(T0 + 1.0) == Acquire()
    lease.failed(T0 + 1.0)  # the look itself failed
    assert lease.decide(T0 + 1.5) == Wait(0.5)


def test_dropping_the_lease_is_immediate_and_the_holder_may_compete_again() -> None:
    lease = leader()
    lease.dropped(T0 + 2.0)
    assert not lease.held(T0 + 2.0)
    assert lease.valid_until == -math.inf
    assert lease.decide(T0 + 3.0) == Acquire()


@pytest.mark.parametrize(
    ("ttl", "renew", "margin"),
    [(10.0, 5.0, None), (10.0, 6.0, None), (10.0, 0.0, None), (10.0, 4.0, 6.0), (10.0, 4.0, -1.0)],
)
def test_timings_that_could_not_keep_a_lease_are_refused(
    ttl: float, renew: float, margin: float | None
) -> None:
    with pytest.raises(ValueError):
        Lease(ttl, renew, margin=margin)


def test_the_margin_is_a_fifth_of_short_leases_and_two_seconds_of_long_ones() -> None:
    assert Lease(8.0, 2.0).margin == pytest.approx(1.6)
    assert Lease(60.0, 10.0).margin == 2.0
    assert Lease(8.0, 2.0).poll == 1.0 and Lease(3.0, 0.5).poll == 0.5
