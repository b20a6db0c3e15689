"""Protection-group specs (schemas/group.py) as the controller receives them: JSON through
msgspec.json.decode, TOML through tomllib + msgspec.convert. Every refusal names its reason."""

from __future__ import annotations

import json
import textwrap
import tomllib
from typing import Any

import msgspec
import pytest

import schemas.group
from schemas.fs import check_schedule
from schemas.group import GroupSpec, Schedule, fs_interval_of, member_names

BASE: dict[str, Any] = {
    "name": "web",
    "sites": ["site-a", "site-b"],
    "primary": "site-a",
    "rbd": [{"pool": "rbd", "images": ["vm-1", "vm-2"]}],
    "fs": [{"fs": "cephfs", "dirs": ["/shared"]}],
}


def decode(**changes: Any) -> GroupSpec:
    return msgspec.json.decode(json.dumps({**BASE, **changes}).encode(), type=GroupSpec)


def refused(match: str, **changes: Any) -> None:
    with pytest.raises(msgspec.ValidationError, match=match):
        decode(**changes)


def test_a_valid_spec_decodes_with_its_defaults() -> None:
    s = decode()
    assert (s.name, s.sites, s.primary, s.two_way) == ("web", ["site-a", "site-b"], "site-a", True)
    assert s.rbd[0].mode == "snapshot" and not s.rbd[0].whole_pool
    assert s.schedule == Schedule()
    assert s.schedule.interval == "15m"
    assert s.other("site-a") == "site-b" and s.other("site-b") == "site-a"
    assert member_names(s) == ["rbd/vm-1", "rbd/vm-2", "cephfs:/shared"]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"sites": ["site-a", "site-a"]}, "two different sites"),
        ({"sites": ["site-a"]}, "length"),
        ({"sites": ["site-a", "site-b", "site-c"]}, "length"),
        ({"primary": "site-c"}, "primary site-c is not one of the sites"),
        ({"rbd": [], "fs": []}, "at least one"),
        (
            {"rbd": [{"pool": "rbd", "mode": "journal"}, {"pool": "rbd", "images": ["b"]}]},
            "pool rbd: a whole-pool member must be the pool's only",
        ),
        (
            {
                "rbd": [
                    {"pool": "rbd", "images": ["a", "b"]},
                    {"pool": "rbd", "images": ["b"], "mode": "journal"},
                ]
            },
            "image\\(s\\) in two \\[\\[rbd\\]\\] members: rbd/b",
        ),
        ({"fs": [{"fs": "cephfs", "dirs": ["/a"]}, {"fs": "cephfs", "dirs": ["/b"]}]}, "one \\[\\[fs\\]\\]"),
        ({"rbd": [{"pool": "rbd"}]}, "snapshot mode needs the images listed"),
        ({"rbd": [{"pool": "rbd", "images": [], "mode": "snapshot"}]}, "snapshot mode needs the images"),
        ({"rbd": [{"pool": "rbd", "images": ["a", "b", "a"]}]}, "listed twice: a"),
        ({"fs": [{"fs": "cephfs", "dirs": ["/"]}]}, "not the root"),
        ({"fs": [{"fs": "cephfs", "dirs": ["/d", "/d"]}]}, "directory listed twice"),
        ({"fs": [{"fs": "cephfs", "dirs": []}]}, "length"),
        ({"fs": [{"fs": "cephfs", "dirs": ["relative"]}]}, "matching regex"),
        ({"rbd": [{"pool": "rbd", "images": ["a/b"]}]}, "matching regex"),
        ({"name": "Web Group"}, "matching regex"),
        ({"surprise": 1}, "unknown field"),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, dict) else None,
)
def test_invalid_specs_are_refused(changes: dict[str, Any], match: str) -> None:
    refused(match, **changes)


def test_a_whole_pool_in_journal_mode_is_allowed() -> None:
    s = decode(rbd=[{"pool": "rbd", "mode": "journal"}])
    assert s.rbd[0].whole_pool
    assert member_names(s) == ["rbd/*", "cephfs:/shared"]


def test_a_pool_may_have_a_snapshot_member_and_a_journal_member() -> None:
    s = decode(rbd=[{"pool": "rbd", "images": ["a"]}, {"pool": "rbd", "images": ["b"], "mode": "journal"}])
    assert [(m.pool, m.images, m.mode) for m in s.rbd] == [
        ("rbd", ["a"], "snapshot"),
        ("rbd", ["b"], "journal"),
    ]
    assert member_names(s) == ["rbd/a", "rbd/b", "cephfs:/shared"]


def test_the_same_image_name_in_two_pools_is_two_images() -> None:
    s = decode(rbd=[{"pool": "p1", "images": ["a"]}, {"pool": "p2", "images": ["a"]}])
    assert member_names(s)[:2] == ["p1/a", "p2/a"]


def test_either_kind_of_member_alone_is_enough() -> None:
    assert decode(fs=[]).fs == []
    assert decode(rbd=[]).rbd == []


# -- schedules -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fs_interval", ["15m", "1y", "1m", "15", "0h", "1H"])
def test_a_bad_fs_interval_is_refused(fs_interval: str) -> None:
    refused("schedule .* is not valid", schedule={"fs_interval": fs_interval})


def test_lowercase_m_is_refused_as_fs_interval_but_is_rbds_minute() -> None:
    refused('lowercase "m" is refused', schedule={"fs_interval": "15m"})
    assert decode(schedule={"interval": "15m", "fs_interval": "15M"}).schedule.fs_schedule == "15M"


@pytest.mark.parametrize("retention", ["24x", "24h24h", "h", "0h", "24h 7d", ""])
def test_a_bad_fs_retention_is_refused(retention: str) -> None:
    refused("retention .* is not valid", schedule={"fs_retention": retention})


@pytest.mark.parametrize("retention", ["24h", "24h7d", "10n", "6m1y"])
def test_good_fs_retentions_are_kept(retention: str) -> None:
    assert decode(schedule={"fs_retention": retention}).schedule.fs_retention == retention


@pytest.mark.parametrize("interval", ["0m", "0", "15s", "1w", "m", "-5m"])
def test_a_bad_rbd_interval_is_refused(interval: str) -> None:
    refused("matching regex", schedule={"interval": interval})


@pytest.mark.parametrize(
    ("interval", "fs", "seconds"),
    [
        ("15m", "15M", 900),
        ("15", "15M", 900),  # a bare number is minutes in rbd's grammar
        ("1m", "1M", 60),
        ("2h", "2h", 7200),
        ("1d", "1d", 86400),
        ("015m", "15M", 900),
    ],
)
def test_interval_conversions(interval: str, fs: str, seconds: int) -> None:
    assert fs_interval_of(interval) == fs
    s = decode(schedule={"interval": interval}).schedule
    assert s.interval_s == seconds
    assert s.fs_schedule == fs  # derived when fs_interval is unset
    check_schedule(s.fs_schedule)  # and valid snap-schedule grammar


def test_an_explicit_fs_interval_wins_over_the_derived_one() -> None:
    s = decode(schedule={"interval": "15m", "fs_interval": "1h"}).schedule
    assert (s.fs_schedule, s.interval_s) == ("1h", 900)


# -- TOML ------------------------------------------------------------------------------------------


TOML = """
name = "db"
sites = ["site-b", "site-a"]
primary = "site-b"
two_way = false
description = "the database volumes"

[schedule]
interval = "1h"
start_time = "14:00"
fs_retention = "24h7d"

[[rbd]]
pool = "rbd"
images = ["db-1"]
mode = "journal"

[[rbd]]
pool = "jrn"
mode = "journal"

[[fs]]
fs = "cephfs"
dirs = ["/db/wal", "/db/conf"]
"""


def test_a_toml_group_file_converts_to_a_spec() -> None:
    s = msgspec.convert(tomllib.loads(TOML), GroupSpec)
    assert (s.name, s.primary, s.other(s.primary), s.two_way) == ("db", "site-b", "site-a", False)
    assert [(m.pool, m.images, m.mode, m.whole_pool) for m in s.rbd] == [
        ("rbd", ["db-1"], "journal", False),
        ("jrn", [], "journal", True),
    ]
    assert s.fs[0].dirs == ["/db/wal", "/db/conf"]
    assert (s.schedule.interval_s, s.schedule.fs_schedule, s.schedule.start_time) == (3600, "1h", "14:00")
    # and back through JSON unchanged (the controller stores it)
    assert msgspec.json.decode(msgspec.json.encode(s), type=GroupSpec) == s


def test_a_toml_group_file_is_validated_too() -> None:
    bad = TOML.replace('primary = "site-b"', 'primary = "site-c"')
    with pytest.raises(msgspec.ValidationError, match="primary site-c"):
        msgspec.convert(tomllib.loads(bad), GroupSpec)


def test_the_documented_example_is_a_valid_spec() -> None:
    """The TOML in schemas/group.py's docstring is what operators copy: it must decode."""
    doc = schemas.group.__doc__ or ""
    block = doc.split("\n\n", 1)[1].split("\n\nThe controller keeps")[0]
    s = msgspec.convert(tomllib.loads(textwrap.dedent(block)), GroupSpec)
    assert s.name == "web"
    assert s.schedule.fs_schedule == "15M"
    assert member_names(s) == ["rbd/vm-1", "rbd/vm-2", "cephfs:/shared"]
