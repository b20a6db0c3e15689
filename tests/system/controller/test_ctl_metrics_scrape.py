"""The lab controller's Prometheus endpoint, scraped over real HTTP while it drives real Ceph: a
group applied through the controller shows its image on both sites (primary on one, replaying on
the other, with an RPO lag), the controller reports itself leader, and the real `promtool check
metrics` accepts the scraped text; a frozen agent shows its site down (and back), and a planned
failover is counted and flips the primary in the series."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import oracle
from helpers.ctl import Ctl, describe, rid
from helpers.wait import async_wait_for
from prometheus_client.parser import text_string_to_metric_families

from lab import agents as lab_agents
from lab.model import LabInfo
from schemas.ctl import GroupApplied

pytestmark = pytest.mark.system

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=20) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(r.read().decode())


def parse(text: str) -> Series:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def get(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


@pytest.fixture(scope="module")
async def mirrored(lab: LabInfo, ctl: Ctl) -> AsyncIterator[dict[str, str]]:
    """A fresh pool on both sites with one image on site-a, put in a group through the controller."""
    sa, sb = lab.site("site-a"), lab.site("site-b")
    pool, image = oracle.unique_name("met"), oracle.unique_name("img")
    group = oracle.unique_name("met").lower()[:30]
    for s in (sa, sb):
        oracle.ceph(s, "osd", "pool", "create", pool, "8", "8")
        oracle.rbd(s, "pool", "init", pool)
    oracle.rbd(sa, "create", "--size", "8M", f"{pool}/{image}")
    spec = {"name": group, "sites": ["site-a", "site-b"], "primary": "site-a",
            "schedule": {"interval": "5m"}, "rbd": [{"pool": pool, "images": [image], "mode": "snapshot"}]}
    applied: GroupApplied = await ctl.req("group.apply", request_id=rid(), spec=spec)
    assert applied.op_id is not None
    op = await ctl.wait_op(applied.op_id)
    assert op.state == "succeeded", describe(op)
    yield {"pool": pool, "image": image, "group": group}
    with contextlib.suppress(Exception):
        await ctl.req("group.delete", request_id=rid(), group=group, confirm=group)
    for s in (sa, sb):
        with contextlib.suppress(oracle.CliError):
            oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", pool, "--image", image)


async def test_scrape_shows_the_mirrored_image_and_the_leader(lab: LabInfo, mirrored: dict[str, str]) -> None:
    assert lab.controller is not None and lab.controller.metrics_url, "the lab controller has no /metrics"
    url = lab.controller.metrics_url
    img = {"group": mirrored["group"], "pool": mirrored["pool"], "image": mirrored["image"]}

    async def replaying() -> Series | None:
        m = parse(await asyncio.to_thread(scrape, url))
        ok = (
            get(m, "cephdr_rbd_image_primary", site="site-a", **img) == 1
            and get(m, "cephdr_rbd_image_primary", site="site-b", **img) == 0
            and get(m, "cephdr_rbd_image_state", site="site-b", state="replaying", **img) == 1
            and get(m, "cephdr_rbd_image_rpo_lag_seconds", site="site-b", **img) is not None
        )
        return m if ok else None

    m = await async_wait_for(replaying, timeout=300, interval=3, what="image replaying on site-b (/metrics)")
    holder = [dict(k[1])["holder"] for k in m if k[0] == "cephdr_controller_leader"]
    assert holder and len(holder) == 1
    assert get(m, "cephdr_controller_leader", holder=holder[0]) == 1
    assert get(m, "cephdr_controller_state_store_up") == 1
    assert get(m, "cephdr_site_up", site="site-a") == 1 and get(m, "cephdr_site_up", site="site-b") == 1
    assert get(m, "cephdr_group_primary", group=img["group"], site="site-a") == 1
    assert get(m, "cephdr_group_rbd_interval_seconds", group=img["group"]) == 300
    assert get(m, "cephdr_rbd_image_split_brain", site="site-b", **img) == 0
    # the reconcile that applied the group was counted (the lab may have run others before)
    done = get(m, "cephdr_operations_total", kind="reconcile", state="succeeded", trigger="operator")
    assert done is not None and done >= 1
    assert any(k[0] == "cephdr_mirror_daemon_up" and dict(k[1])["site"] == "site-b" for k in m)


async def test_promtool_accepts_the_scraped_text(lab: LabInfo, mirrored: dict[str, str]) -> None:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    assert lab.controller is not None
    text = await asyncio.to_thread(scrape, lab.controller.metrics_url)
    assert f'image="{mirrored["image"]}"' in text
    cp = await asyncio.to_thread(subprocess.run, [tool, "check", "metrics"], input=text, capture_output=True,
                                 text=True, timeout=60, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr


async def test_a_silent_agent_shows_its_site_down_and_back(lab: LabInfo, mirrored: dict[str, str]) -> None:
    """site-b's agent frozen (SIGSTOP): its heartbeats stop, the controller's view and so /metrics
    say site-b is down, with the group's site_down alert; resumed, it is up again."""
    assert lab.controller is not None
    url, group = lab.controller.metrics_url, mirrored["group"]
    pid = lab_agents.running_pid(Path(lab.dir), "site-b")
    assert pid is not None

    async def site_b(up: int) -> bool:
        m = parse(await asyncio.to_thread(scrape, url))
        alert = get(m, "cephdr_group_alerts", group=group, kind="site_down", severity="critical")
        return get(m, "cephdr_site_up", site="site-b") == up and (alert is None) == bool(up)

    os.kill(pid, signal.SIGSTOP)
    try:
        await async_wait_for(lambda: site_b(0), timeout=90, interval=2, what="site-b down in /metrics")
    finally:
        os.kill(pid, signal.SIGCONT)
    await async_wait_for(lambda: site_b(1), timeout=90, interval=2, what="site-b up again in /metrics")


async def test_a_planned_failover_is_counted_and_flips_the_primary(
    lab: LabInfo, ctl: Ctl, mirrored: dict[str, str]
) -> None:
    assert lab.controller is not None
    url, group = lab.controller.metrics_url, mirrored["group"]
    img = {"group": group, "pool": mirrored["pool"], "image": mirrored["image"]}
    done = {"kind": "planned_failover", "state": "succeeded", "trigger": "operator"}
    before = parse(await asyncio.to_thread(scrape, url))
    count0 = get(before, "cephdr_operations_total", **done)
    hist0 = get(before, "cephdr_operation_duration_seconds_count", kind="planned_failover", state="succeeded")
    assert count0 is not None

    accepted = await ctl.req("failover", request_id=rid(), group=group, to="site-b")
    op = await ctl.wait_op(accepted.op_id)
    assert op.state == "succeeded" and op.kind == "planned_failover", describe(op)

    async def flipped() -> Series | None:
        m = parse(await asyncio.to_thread(scrape, url))
        ok = (
            get(m, "cephdr_group_primary", group=group, site="site-b") == 1
            and get(m, "cephdr_rbd_image_primary", site="site-b", **img) == 1
            and get(m, "cephdr_rbd_image_primary", site="site-a", **img) == 0
        )
        return m if ok else None

    m = await async_wait_for(flipped, timeout=120, interval=2, what="site-b primary in /metrics")
    assert get(m, "cephdr_operations_total", **done) == count0 + 1
    assert get(m, "cephdr_operation_duration_seconds_count", kind="planned_failover", state="succeeded") == (
        hist0 or 0
    ) + 1
