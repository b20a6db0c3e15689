"""P4's simulated fleet (bench/simgen.py): the messages decode as the controller decodes them and
say what real agents would say about a healthy pair."""

from __future__ import annotations

import msgspec
import pytest

from agent.status.diff import diff
from bench import simgen
from controller.view import group_status
from schemas.status import Heartbeat, ImageState, Role, SiteStatus

NOW = 1_795_000_000.0


class TestFleetLayout:
    def test_sites_pair_up_and_images_split_into_groups_of_at_most_1000(self) -> None:
        f = simgen.Fleet(4, 2500)
        assert f.pairs == 2
        assert [len(names) for _, names in f.pools()] == [1000, 1000, 500]
        assert len({p for p, _ in f.pools()}) == 3

    @pytest.mark.parametrize("sites,images", [(3, 10), (0, 10), (2, 0)])
    def test_rejects_an_odd_or_empty_fleet(self, sites: int, images: int) -> None:
        with pytest.raises(ValueError):
            simgen.Fleet(sites, images)

    def test_one_group_per_pair_and_pool_covering_every_image(self) -> None:
        f = simgen.Fleet(4, 1500)
        gs = simgen.groups(f, NOW)
        assert len(gs) == 4
        assert {tuple(g.spec.sites) for g in gs} == {("site-000", "site-001"), ("site-002", "site-003")}
        assert sum(len(m.images) for g in gs for m in g.spec.rbd) == 2 * 1500


@pytest.fixture(scope="module")
def enc() -> simgen.Encoded:
    return simgen.encode_fleet(simgen.Fleet(2, 50), NOW)


class TestMessages:
    def test_statuses_decode_strictly_with_the_agents_roles(self, enc: simgen.Encoded) -> None:
        a = msgspec.json.decode(enc.statuses["site-000"], type=SiteStatus)
        b = msgspec.json.decode(enc.statuses["site-001"], type=SiteStatus)
        assert (a.site, b.site) == ("site-000", "site-001")
        assert len(a.images) == len(b.images) == 50
        assert {(i.role, i.state) for i in a.images} == {(Role.PRIMARY, ImageState.STOPPED)}
        assert {(i.role, i.state) for i in b.images} == {(Role.NON_PRIMARY, ImageState.REPLAYING)}
        assert all(i.healthy and i.caught_up for i in b.images)
        assert all(i.rpo_lag_s is not None and 0 < i.rpo_lag_s < 60 for i in b.images)

    def test_heartbeats_decode_and_count_the_site(self, enc: simgen.Encoded) -> None:
        hb = msgspec.json.decode(enc.heartbeats["site-001"], type=Heartbeat)
        assert hb.site == "site-001" and hb.peer_reachable == {"site-000": True}
        assert hb.counts.images_total == 50

    def test_the_controllers_view_of_a_simulated_pair_is_healthy(self, enc: simgen.Encoded) -> None:
        from schemas.ctl import SiteInfo
        from schemas.ids import SiteName

        f = simgen.Fleet(2, 50)
        st = {s: msgspec.json.decode(b, type=SiteStatus) for s, b in enc.statuses.items()}
        infos = {s: SiteInfo(site=SiteName(s), alive=True) for s in st}
        (g,) = simgen.groups(f, NOW)
        view = group_status(g, st, infos, None)
        assert view.health == "ok", view.alerts
        assert len(view.members) == 50

    def test_an_unchanged_rescan_is_no_event(self) -> None:
        f = simgen.Fleet(2, 20)
        a = simgen.site_status("site-000", simgen.image_list(f, primary=False, peer_site="p", now=NOW), NOW)
        b = simgen.site_status("site-000", simgen.image_list(f, primary=False, peer_site="p", now=NOW + 5),
                               NOW + 5)
        assert diff(a, b) == []
        assert len(diff(None, a)) == 20
