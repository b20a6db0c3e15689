"""Issue-2 proofs: RBD images written on site-a arrive on site-b with the same checksum.

Snapshot mode and journal mode; data written through librbd (random, known), compared with `rbd export`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers.data import MIB, ImageModel, write_image
from helpers.oracle import image_sha256, rbd, unique_name
from helpers.wait import wait_for

from lab.model import SiteInfo

pytestmark = pytest.mark.system

POOL = "rbd"
SIZE = 32 * MIB


def replaying(site: SiteInfo, spec: str) -> dict[str, Any] | None:
    st: dict[str, Any] = rbd(site, "mirror", "image", "status", spec, json=True)
    return st if st.get("state") == "up+replaying" else None


def test_snapshot_mode_image_arrives_with_same_checksum(
    site_a: SiteInfo, site_b: SiteInfo, clusters: dict[str, Any]
) -> None:
    name = unique_name("snap")
    spec = f"{POOL}/{name}"
    model = ImageModel(SIZE)
    rbd(site_a, "create", "--size", "32M", spec)
    model.apply(0, write_image(clusters["site-a"], POOL, name, 0, SIZE))
    rbd(site_a, "mirror", "image", "enable", spec, "snapshot")  # takes the first mirror snapshot

    wait_for(lambda: image_sha256(site_b, spec) == model.sha256(), 120, 1, f"{spec} content on site-b")

    # an incremental change travels with the next mirror snapshot
    model.apply(8 * MIB, write_image(clusters["site-a"], POOL, name, 8 * MIB, 4 * MIB))
    assert image_sha256(site_a, spec) == model.sha256()
    rbd(site_a, "mirror", "image", "snapshot", spec)
    wait_for(lambda: image_sha256(site_b, spec) == model.sha256(), 120, 1, f"{spec} increment on site-b")

    info_b = rbd(site_b, "info", spec, json=True)
    assert info_b["mirroring"]["mode"] == "snapshot"
    assert info_b["mirroring"]["primary"] is False
    assert rbd(site_a, "info", spec, json=True)["mirroring"]["primary"] is True
    st = wait_for(lambda: replaying(site_b, spec), 90, 2, f"{spec} up+replaying on site-b")
    assert st["description"].startswith("replaying")


def test_journal_mode_image_arrives_with_same_checksum(
    site_a: SiteInfo, site_b: SiteInfo, clusters: dict[str, Any]
) -> None:
    name = unique_name("jrnl")
    spec = f"{POOL}/{name}"
    model = ImageModel(SIZE)
    rbd(site_a, "create", "--size", "32M", "--image-feature", "layering,exclusive-lock,journaling", spec)
    # half before enabling (copied by the image sync), half after (replayed from the journal)
    model.apply(0, write_image(clusters["site-a"], POOL, name, 0, SIZE // 2))
    rbd(site_a, "mirror", "image", "enable", spec, "journal")
    model.apply(SIZE // 2, write_image(clusters["site-a"], POOL, name, SIZE // 2, SIZE // 2))
    assert image_sha256(site_a, spec) == model.sha256()

    wait_for(lambda: image_sha256(site_b, spec) == model.sha256(), 120, 1, f"{spec} content on site-b")

    info_b = rbd(site_b, "info", spec, json=True)
    assert info_b["mirroring"]["mode"] == "journal"
    assert info_b["mirroring"]["primary"] is False
    assert "journaling" in info_b["features"]
    st = wait_for(lambda: replaying(site_b, spec), 90, 2, f"{spec} up+replaying on site-b")
    desc = json.loads(st["description"].split(", ", 1)[1])
    assert "primary_position" in desc
