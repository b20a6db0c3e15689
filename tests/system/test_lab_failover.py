"""Issue-2 proofs: planned demote/promote, and forced promote + demote + resync, of a snapshot-mode image.

Timings and transient errors are those measured in ceph-lab/FINDINGS.md (step 5, appendix A2/B): a promote
right after the remote demote fails with EBUSY/EROFS for a few seconds (retry), a demote must wait until the
secondary is caught up, and a resync after split-brain takes 40-80 s.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers.data import MIB, ImageModel, write_image
from helpers.oracle import CliError, image_sha256, rbd, unique_name
from helpers.wait import wait_for

from lab.model import SiteInfo

pytestmark = pytest.mark.system

POOL = "rbd"
SIZE = 16 * MIB


def status(site: SiteInfo, spec: str) -> dict[str, Any]:
    st: dict[str, Any] = rbd(site, "mirror", "image", "status", spec, json=True)
    return st


def in_state(site: SiteInfo, spec: str, state: str, desc_part: str = "") -> dict[str, Any] | None:
    st = status(site, spec)
    return st if st.get("state") == state and desc_part in st.get("description", "") else None


def caught_up(site: SiteInfo, spec: str) -> dict[str, Any] | None:
    """Snapshot mode: the secondary replays, is idle and has the primary's latest snapshot."""
    st = in_state(site, spec, "up+replaying")
    if st is None or ", " not in st["description"]:
        return None
    d = json.loads(st["description"].split(", ", 1)[1])
    ok = (d.get("replay_state") == "idle"
          and d.get("local_snapshot_timestamp") == d.get("remote_snapshot_timestamp"))
    return d if ok else None


def primary(site: SiteInfo, spec: str) -> bool:
    return bool(rbd(site, "info", spec, json=True)["mirroring"]["primary"])


def promote(site: SiteInfo, spec: str, *extra: str) -> bool:
    rbd(site, "mirror", "image", "promote", *extra, spec)
    return True


def mirrored_image(site_a: SiteInfo, site_b: SiteInfo, clusters: dict[str, Any],
                   prefix: str) -> tuple[str, ImageModel]:
    """A snapshot-mode image primary on site-a, replicated and caught up on site-b."""
    name = unique_name(prefix)
    spec = f"{POOL}/{name}"
    model = ImageModel(SIZE)
    rbd(site_a, "create", "--size", str(SIZE // MIB) + "M", spec)
    model.apply(0, write_image(clusters["site-a"], POOL, name, 0, SIZE))
    rbd(site_a, "mirror", "image", "enable", spec, "snapshot")
    wait_for(lambda: image_sha256(site_b, spec) == model.sha256(), 120, 1, f"{spec} first sync to site-b")
    wait_for(lambda: caught_up(site_b, spec), 120, 2, f"{spec} caught up on site-b")
    return spec, model


def test_planned_demote_promote(site_a: SiteInfo, site_b: SiteInfo, clusters: dict[str, Any]) -> None:
    spec, model = mirrored_image(site_a, site_b, clusters, "planned")
    rbd(site_a, "mirror", "image", "demote", spec)
    # EBUSY / EROFS until the demotion snapshot has reached site-b
    wait_for(lambda: promote(site_b, spec), 60, 1, f"promote {spec} on site-b", ignore=(CliError,))

    assert primary(site_b, spec) is True
    assert primary(site_a, spec) is False
    wait_for(lambda: in_state(site_b, spec, "up+stopped", "local image is primary"), 90, 2,
             f"{spec} up+stopped primary on site-b")
    wait_for(lambda: in_state(site_a, spec, "up+replaying"), 120, 2, f"{spec} up+replaying on site-a")

    # replication now runs b -> a
    name = spec.split("/", 1)[1]
    model.apply(4 * MIB, write_image(clusters["site-b"], POOL, name, 4 * MIB, 4 * MIB))
    rbd(site_b, "mirror", "image", "snapshot", spec)
    wait_for(lambda: image_sha256(site_a, spec) == model.sha256(), 120, 1, f"{spec} b's write on site-a")


def test_forced_promote_demote_resync(site_a: SiteInfo, site_b: SiteInfo, clusters: dict[str, Any]) -> None:
    spec, model = mirrored_image(site_a, site_b, clusters, "forced")
    # site-b takes over without site-a's consent: both sites are primary now
    wait_for(lambda: promote(site_b, spec, "--force"), 60, 1, f"force promote {spec} on site-b",
             ignore=(CliError,))
    assert primary(site_b, spec) is True
    assert primary(site_a, spec) is True
    name = spec.split("/", 1)[1]
    model.apply(0, write_image(clusters["site-b"], POOL, name, 0, 4 * MIB))  # only site-b has this
    # a resync copies the primary's latest mirror snapshot, not its live head
    rbd(site_b, "mirror", "image", "snapshot", spec)

    # the loser steps down: split-brain until it is resynced from site-b
    rbd(site_a, "mirror", "image", "demote", spec)
    wait_for(lambda: in_state(site_a, spec, "up+error", "split-brain"), 120, 2,
             f"{spec} split-brain on site-a")
    rbd(site_a, "mirror", "image", "resync", spec)

    wait_for(lambda: in_state(site_a, spec, "up+replaying"), 180, 2, f"{spec} up+replaying on site-a")
    wait_for(lambda: image_sha256(site_a, spec) == model.sha256(), 180, 2,
             f"{spec} resynced content on site-a")
    assert primary(site_a, spec) is False
    assert primary(site_b, spec) is True
    wait_for(lambda: in_state(site_b, spec, "up+stopped", "local image is primary"), 90, 2,
             f"{spec} up+stopped primary on site-b")
