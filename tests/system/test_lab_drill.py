"""`cephdr drill` on the lab, for real: a planned and an unplanned drill of a two-image group.

Each drill makes its own pool, images and group through the lab's controller, writes records,
fails over (the unplanned one kills site-a's daemons and agent with -9), reads the survivor back,
fails back and removes what it made. What is checked is what the report claims and that the lab
is as it was: no timing is asserted, the figures are measurements.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from lab import runner
from lab.drill import DrillOptions, run_drill
from lab.drill_report import DrillReport
from lab.model import LabInfo
from lab.site import Site

pytestmark = pytest.mark.system


def pools(site: Site) -> set[str]:
    return set(json.loads(site.ceph("osd", "pool", "ls", "--format", "json", timeout=60)))


async def drill(lab: LabInfo, name: str, kind: str) -> DrillReport:
    opts = DrillOptions(group=name, kind=kind, images=2, write_for=10)  # type: ignore[arg-type]
    return await run_drill(Path(lab.dir), opts, lambda m: print(f"drill: {m}"))


def assert_lab_as_it_was(lab: LabInfo, report: DrillReport, pools_before: dict[str, set[str]]) -> None:
    assert report.lab_healthy
    assert runner.problems(Path(lab.dir)) == []
    for site in runner.existing_sites(Path(lab.dir), lab):
        assert report.pool not in pools(site)
        assert pools(site) == pools_before[site.name]


async def group_gone(lab: LabInfo, name: str) -> bool:
    from helpers.lab_bus import lab_nats

    nc = await lab_nats(lab, "operator")
    try:
        reply = await nc.request("cephdr.ctl.group.list", b"{}", timeout=10)
        return name not in {g["spec"]["name"] for g in json.loads(reply.data)["groups"]}
    finally:
        await nc.close()


def pools_now(lab: LabInfo) -> dict[str, set[str]]:
    return {s.name: pools(s) for s in runner.existing_sites(Path(lab.dir), lab)}


async def test_a_planned_drill_loses_nothing_and_leaves_the_lab_as_it_was(lab: LabInfo) -> None:
    before = pools_now(lab)
    report = await drill(lab, "drill-planned", "planned")
    print(msgspec.json.encode(report).decode())
    assert report.kind == "planned" and report.images == 2 and len(report.per_image) == 2
    assert report.rto_s > 0 and report.failback_s > 0
    assert all(i.acked > 0 for i in report.per_image), "the writer wrote to every image"
    assert report.records_acked == sum(i.acked for i in report.per_image)
    assert set(report.op_ids) == {"failover", "failback"}
    assert await group_gone(lab, "drill-planned")
    assert_lab_as_it_was(lab, report, before)
    lost = [i for i in report.per_image if i.missing_records]
    if lost:
        # seen on Pacific 16.2.15: the write in flight while the demote takes the exclusive lock is
        # acknowledged after the demotion snapshot; site-a keeps it, site-b never gets it. Any
        # other loss fails here.
        assert all(i.missing_records == 1 and i.holes == 0 for i in lost), lost
        assert all(any(f"{i.image}: the demoted site-a holds" in n for n in report.notes) for i in lost)
        pytest.xfail("planned failover under a live writer: one acknowledged write per image lost")
    assert report.rpo.records == 0 and report.rpo.total_bytes == 0


async def test_an_unplanned_drill_measures_the_loss_of_a_point_in_time_copy(lab: LabInfo) -> None:
    before = pools_now(lab)
    report = await drill(lab, "drill-unplanned", "unplanned")
    print(msgspec.json.encode(report).decode())
    assert report.kind == "unplanned" and len(report.per_image) == 2
    assert report.rto_s > 0 and report.failback_s > 0
    names = [p.name for p in report.phases]
    assert "fault -> controller sees site-a down" in names
    for i in report.per_image:
        assert i.acked > 0
        assert 0 <= i.missing_records <= i.acked
        assert i.missing_bytes == i.missing_records * 4096
        # the survivor holds records 0..j and nothing after: a crash-consistent copy
        assert i.holes == 0, i
        assert i.consistent_upto + 1 >= i.acked - i.missing_records
    assert report.rpo.records == max(i.missing_records for i in report.per_image)
    assert await group_gone(lab, "drill-unplanned")
    assert_lab_as_it_was(lab, report, before)
