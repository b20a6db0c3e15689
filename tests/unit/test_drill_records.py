"""The drill's record format and what a survivor's copy says was lost (lab/drill_data.py)."""

from __future__ import annotations

import pytest

from lab.drill_data import BLOCK, Acked, decode, encode, loss

RUN = b"run-0001"
OTHER_RUN = b"run-0002"
T0 = 1_700_000_000.0


def image(records: list[int | None], image_no: int = 0, run: bytes = RUN) -> bytes:
    """An image's first blocks: record k at position k when listed, zeros (never written) for None."""
    return b"".join(
        encode(run, image_no, k, T0 + k) if k is not None else bytes(BLOCK) for k in records
    )


def test_a_record_decodes_to_what_was_encoded() -> None:
    rec = decode(encode(RUN, 3, 41, T0 + 0.25), RUN, 3, 41)
    assert rec is not None
    assert (rec.image, rec.k, rec.t) == (3, 41, T0 + 0.25)


@pytest.mark.parametrize(
    "block, image_no, k",
    [
        (bytes(BLOCK), 0, 0),  # never written
        (encode(OTHER_RUN, 0, 0, T0), 0, 0),  # another drill's leftovers
        (encode(RUN, 1, 0, T0), 0, 0),  # another image's record
        (encode(RUN, 0, 5, T0), 0, 6),  # a record at the wrong place
        (encode(RUN, 0, 0, T0)[:2048] + bytes(2048), 0, 0),  # torn: half written
        (encode(RUN, 0, 0, T0)[:-1], 0, 0),  # short read
    ],
)
def test_anything_but_the_expected_record_is_not_a_record(block: bytes, image_no: int, k: int) -> None:
    assert decode(block, RUN, image_no, k) is None


def test_a_flipped_bit_breaks_the_checksum() -> None:
    block = bytearray(encode(RUN, 0, 7, T0))
    block[100] ^= 1
    assert decode(bytes(block), RUN, 0, 7) is None


def test_a_survivor_with_every_acknowledged_record_lost_nothing() -> None:
    lost = loss(image([0, 1, 2, 3, None, None]), RUN, 0, Acked(last_k=3, last_t=T0 + 3), T0)
    assert (lost.acked, lost.present, lost.missing, lost.missing_bytes, lost.missing_s) == (4, 4, 0, 0, 0.0)
    assert lost.consistent_upto == 3 and lost.holes == 0 and lost.unacked_present == 0


def test_a_survivor_behind_lost_the_tail_in_records_bytes_and_seconds() -> None:
    lost = loss(image([0, 1, 2, None, None, None, None]), RUN, 0, Acked(last_k=5, last_t=T0 + 5), T0)
    assert (lost.acked, lost.present, lost.missing) == (6, 3, 3)
    assert lost.missing_bytes == 3 * BLOCK
    assert lost.missing_s == pytest.approx(3.0)  # record 5 was issued 3 s after record 2
    assert lost.consistent_upto == 2 and lost.newest_present_t == T0 + 2


def test_a_survivor_with_nothing_lost_everything_since_the_writer_started() -> None:
    lost = loss(image([None, None, None]), RUN, 0, Acked(last_k=1, last_t=T0 + 1), T0 - 4)
    assert (lost.present, lost.missing, lost.consistent_upto) == (0, 2, -1)
    assert lost.missing_s == pytest.approx(5.0)


def test_a_write_in_flight_at_the_fault_that_reached_the_survivor_is_counted_apart() -> None:
    lost = loss(image([0, 1, 2, None]), RUN, 0, Acked(last_k=1, last_t=T0 + 1), T0)
    assert lost.missing == 0 and lost.unacked_present == 1 and lost.consistent_upto == 2


def test_a_copy_that_is_not_a_point_in_time_shows_holes() -> None:
    lost = loss(image([0, None, 2, 3]), RUN, 0, Acked(last_k=3, last_t=T0 + 3), T0)
    assert (lost.present, lost.missing, lost.holes, lost.consistent_upto) == (3, 1, 2, 0)
    # the survivor is consistent only up to record 0
    assert lost.missing_s == pytest.approx(3.0)


def test_an_image_that_acknowledged_nothing_lost_nothing() -> None:
    lost = loss(image([None, None]), RUN, 0, Acked(), T0)
    assert (lost.acked, lost.missing, lost.missing_s) == (0, 0, 0.0)


def test_records_of_another_image_do_not_count() -> None:
    lost = loss(image([0, 1], image_no=1), RUN, 0, Acked(last_k=1, last_t=T0 + 1), T0)
    assert lost.present == 0 and lost.missing == 2
