"""Port-block allocation logic (pure: claims and bindability are injected)."""

from __future__ import annotations

import itertools

from lab import ports


def test_site_layout_mon_and_bind_range_inside_the_block() -> None:
    a, b = ports.site_ports(20000, 0), ports.site_ports(20000, 1)
    assert (a.mon_v2, a.mon_v1, a.bind_min, a.bind_max) == (20000, 20001, 20010, 20099)
    assert (b.mon_v2, b.mon_v1, b.bind_min, b.bind_max) == (20100, 20101, 20110, 20199)
    assert a.mon_host == "[v2:127.0.0.1:20000,v1:127.0.0.1:20001]"
    block = ports.block_ports(20000, 2)
    assert len(block) == len(set(block))
    assert min(block) >= 20000 and max(block) < 20000 + ports.BLOCK_SIZE


def test_blocks_stay_below_the_ephemeral_range_and_do_not_overlap() -> None:
    bases = list(ports.candidate_bases())
    assert bases[0] == ports.FIRST_BASE
    assert all(b + ports.BLOCK_SIZE <= ports.EPHEMERAL_START for b in bases)
    assert all(b2 - b1 == ports.BLOCK_SIZE for b1, b2 in itertools.pairwise(bases))


def test_choose_base_skips_claimed_and_busy_blocks() -> None:
    claimed = {20000}
    busy = {20200}
    base = ports.choose_base(lambda b: b in claimed, lambda b: b not in busy)
    assert base == 20400


def test_choose_base_fails_when_nothing_is_free() -> None:
    try:
        ports.choose_base(lambda b: True, lambda b: True, iter([20000, 20200]))
    except RuntimeError as e:
        assert "no free port block" in str(e)
    else:
        raise AssertionError("expected RuntimeError")


def test_a_claim_is_live_only_while_its_lab_records_that_base() -> None:
    recorded = {"/tmp/lab1": 20000, "/tmp/lab2": 20400}
    assert ports.claim_is_live("/tmp/lab1\n", 20000, recorded.get)
    assert not ports.claim_is_live("/tmp/lab2\n", 20000, recorded.get)  # that lab moved on
    assert not ports.claim_is_live("/tmp/gone\n", 20000, recorded.get)  # removed without down
    assert not ports.claim_is_live("", 20000, recorded.get)
