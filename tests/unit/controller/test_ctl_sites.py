"""Sites as the controller knows them from heartbeats (controller/sites.py), on an injected clock."""

from __future__ import annotations

import pytest
from ctl_unit_build import KEY_1, KEY_2, A, B, heartbeat
from msgspec.structs import replace

from controller.sites import Sites
from schemas.errors import Unavailable
from schemas.ids import SiteName
from schemas.status import Heartbeat


class Clock:
    def __init__(self, t: float = 5000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sites(clock: Clock) -> Sites:
    return Sites(timeout_s=15.0, clock=clock)


def test_a_site_never_heard_of_is_not_alive(sites: Sites) -> None:
    assert sites.heartbeat(A) is None
    assert sites.age(A) is None
    assert not sites.heard(A) and not sites.alive(A)
    assert sites.why_not_alive(A) == "no heartbeat ever received from its agent"
    assert sites.names() == []
    info = sites.info(A)
    assert (info.site, info.alive, info.public_key) == (A, False, "")


def test_a_site_is_alive_while_heartbeats_arrive_within_the_timeout(sites: Sites, clock: Clock) -> None:
    sites.observe(heartbeat(A))
    assert sites.alive(A) and sites.heard(A)
    clock.t += 15.0  # the boundary is still heard
    assert sites.alive(A)
    assert sites.age(A) == 15.0
    clock.t += 0.5
    assert not sites.heard(A) and not sites.alive(A)
    assert sites.why_not_alive(A) == "no heartbeat for 16s (timeout 15s)"
    sites.observe(heartbeat(A, seq=1))
    assert sites.alive(A)
    assert sites.age(A) == 0.0


def test_a_site_whose_cluster_is_unreachable_is_heard_but_not_alive(sites: Sites) -> None:
    sites.observe(heartbeat(A, reachable=False))
    assert sites.heard(A) and not sites.alive(A)
    assert "cluster unreachable" in sites.why_not_alive(A)
    assert sites.info(A).cluster_reachable is False


def test_sites_are_tracked_separately(sites: Sites, clock: Clock) -> None:
    sites.observe(heartbeat(A))
    clock.t += 10
    sites.observe(heartbeat(B))
    clock.t += 10
    assert not sites.alive(A) and sites.alive(B)
    assert sites.names() == [A, B]


def test_observe_is_news_only_for_a_first_heartbeat_or_a_new_key_or_version(
    sites: Sites, clock: Clock
) -> None:
    assert sites.observe(heartbeat(A, seq=0)) is True
    clock.t += 2
    assert sites.observe(heartbeat(A, seq=1)) is False  # same key, same version
    clock.t += 2
    assert sites.observe(heartbeat(A, seq=0, key=KEY_2)) is True  # the agent made a new key
    assert sites.public_key(A) == KEY_2
    clock.t += 2
    assert sites.observe(heartbeat(A, seq=1, key=KEY_2, version="1.1")) is True
    clock.t += 2
    assert sites.observe(heartbeat(A, seq=2, key=KEY_2, version="1.1")) is False
    assert sites.observe(heartbeat(B)) is True  # another site's first


def test_a_heartbeat_from_kv_counts_from_when_it_was_sent(sites: Sites, clock: Clock) -> None:
    sites.observe(heartbeat(A), wall_age_s=10.0)
    assert sites.age(A) == 10.0
    assert sites.alive(A)
    clock.t += 5.0
    assert sites.alive(A)
    clock.t += 0.5
    assert not sites.alive(A)


def test_an_old_heartbeat_from_kv_is_not_alive(sites: Sites) -> None:
    sites.observe(heartbeat(A), wall_age_s=120.0)
    assert sites.heartbeat(A) is not None  # its key is still known
    assert not sites.alive(A)
    assert sites.why_not_alive(A) == "no heartbeat for 120s (timeout 15s)"


def test_an_older_heartbeat_never_replaces_a_newer_one(sites: Sites, clock: Clock) -> None:
    sites.observe(heartbeat(A, key=KEY_2, version="2.0"))
    # the KV copy read a moment later is older than the live one just received
    assert sites.observe(heartbeat(A, key=KEY_1, version="1.0"), wall_age_s=30.0) is False
    hb = sites.heartbeat(A)
    assert hb is not None and (hb.public_key, hb.version) == (KEY_2, "2.0")
    assert sites.age(A) == 0.0


def test_public_key_is_the_latest_heartbeats(sites: Sites) -> None:
    sites.observe(heartbeat(A, key=KEY_1))
    assert sites.public_key(A) == KEY_1


def test_public_key_of_an_unknown_site_is_unavailable(sites: Sites) -> None:
    sites.observe(heartbeat(A))
    with pytest.raises(Unavailable) as e:
        sites.public_key(B)
    assert e.value.where == B
    assert "public key is unknown" in e.value.message
    assert e.value.retryable


def test_info_reports_the_heartbeat(sites: Sites, clock: Clock) -> None:
    sites.observe(heartbeat(A, key=KEY_2, version="1.4"))
    clock.t += 3.0
    info = sites.info(A)
    assert (info.alive, info.version, info.public_key, info.age_s) == (True, "1.4", KEY_2, 3.0)


def _hb(
    site: str, *, seq: int, reachable: bool = True, peer: dict[str, bool | None] | None = None
) -> Heartbeat:
    return replace(heartbeat(SiteName(site), reachable=reachable, seq=seq), peer_reachable=peer or {})


def test_a_silent_site_is_lost_for_as_long_as_it_is_silent_past_the_timeout(
    sites: Sites, clock: Clock
) -> None:
    sites.observe(_hb(A, seq=1))
    assert sites.lost_for(A) is None
    clock.t += 14
    assert sites.lost_for(A) is None  # within the heartbeat timeout: not lost
    clock.t += 26
    lost = sites.lost_for(A)
    assert lost is not None and lost[0] == 40 and "no heartbeat" in lost[1]
    sites.observe(_hb(A, seq=2))
    assert sites.lost_for(A) is None


def test_a_site_whose_agent_reports_its_cluster_down_is_lost_since_the_first_such_report(
    sites: Sites, clock: Clock
) -> None:
    sites.observe(_hb(A, seq=1, reachable=False))
    clock.t += 5
    sites.observe(_hb(A, seq=2, reachable=False))
    clock.t += 5
    lost = sites.lost_for(A)
    assert lost is not None and lost[0] == 10 and "cluster unreachable" in lost[1]
    sites.observe(_hb(A, seq=3, reachable=True))
    assert sites.lost_for(A) is None
    sites.observe(_hb(A, seq=4, reachable=False))  # flapping: the count starts again
    clock.t += 3
    assert sites.lost_for(A) == (3, "its agent has reported its Ceph cluster unreachable for 3s")


def test_the_witness_counts_from_its_first_unreachable_report_and_resets_on_any_other(
    sites: Sites, clock: Clock
) -> None:
    assert sites.witness(B, A) == (None, 0.0)  # never heard
    sites.observe(_hb(B, seq=1, peer={A: None}))
    assert sites.witness(B, A) == (None, 0.0)  # no probe yet
    sites.observe(_hb(B, seq=2, peer={A: False}))
    clock.t += 10
    sites.observe(_hb(B, seq=3, peer={A: False}))
    clock.t += 5
    assert sites.witness(B, A) == (False, 15.0)
    sites.observe(_hb(B, seq=4, peer={A: True}))
    assert sites.witness(B, A) == (True, 0.0)
    sites.observe(_hb(B, seq=5, peer={A: False}))
    clock.t += 2
    assert sites.witness(B, A) == (False, 2.0)
    clock.t += 20  # the witness itself falls silent: it says nothing any more
    assert sites.witness(B, A) == (None, 0.0)


def test_a_returning_site_is_alive_for_as_long_as_heartbeats_have_come_without_a_gap(
    sites: Sites, clock: Clock
) -> None:
    sites.observe(_hb(A, seq=1))
    clock.t += 10
    sites.observe(_hb(A, seq=2))
    assert sites.alive_for(A) == 10
    clock.t += 100  # silent: not alive, and the next heartbeat starts the count again
    assert sites.alive_for(A) is None
    sites.observe(_hb(A, seq=3))
    clock.t += 4
    sites.observe(_hb(A, seq=4))
    assert sites.alive_for(A) == 4
    sites.observe(_hb(A, seq=5, reachable=False))
    assert sites.alive_for(A) is None
