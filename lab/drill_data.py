"""The drill's known data: one 4 KiB record per write, and what a survivor's copy says was lost.

Record k of an image lives at offset k * 4096 and holds (run id, image index, k, the wall-clock time
the write was issued) and a SHA-256 of all that. The run id makes a block left by another drill,
or by anything else, fail to decode, as does a zero (never written) or torn block. The writer
issues record k only after record k-1 was acknowledged, so a crash-consistent copy of an image
holds records 0..j for some j and nothing after; anything else is reported as a hole.

Pure: no I/O, so `tests/unit/test_drill_records.py` can check every case.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

BLOCK = 4096
MAGIC = b"CDRDRILL"
RUN_ID_LEN = 8
# magic, run id, image index, record number, issue time (wall clock, seconds)
HEADER = struct.Struct("<8s8sIQd")
DIGEST_LEN = 32
# the body is padded so the digest sits at the end of the block: a torn write breaks it
BODY_LEN = BLOCK - DIGEST_LEN


@dataclass(frozen=True)
class Record:
    image: int
    k: int
    t: float


def encode(run_id: bytes, image: int, k: int, t: float) -> bytes:
    if len(run_id) != RUN_ID_LEN:
        raise ValueError(f"run id must be {RUN_ID_LEN} bytes")
    body = HEADER.pack(MAGIC, run_id, image, k, t).ljust(BODY_LEN, b"\0")
    return body + hashlib.sha256(body).digest()


def decode(block: bytes, run_id: bytes, image: int, k: int) -> Record | None:
    """The record if `block` is record k of this run's image `image`; None otherwise (never
    written, torn, from another run, image or position)."""
    if len(block) != BLOCK:
        return None
    body, digest = block[:BODY_LEN], block[BODY_LEN:]
    if hashlib.sha256(body).digest() != digest:
        return None
    magic, rid, img, kk, t = HEADER.unpack_from(body)
    if magic != MAGIC or rid != run_id or img != image or kk != k:
        return None
    return Record(image=img, k=kk, t=t)


@dataclass(frozen=True)
class Acked:
    """What the writer knows about one image: the last record the primary acknowledged."""

    last_k: int = -1  # -1: none acknowledged
    last_t: float | None = None  # its issue time


@dataclass(frozen=True)
class Loss:
    """One image's copy on the survivor against what the primary acknowledged."""

    acked: int  # records acknowledged on the primary
    present: int  # of those, records the survivor holds
    missing: int  # acknowledged but not on the survivor
    missing_bytes: int
    missing_s: float  # issue time of the last acknowledged record - that of the newest one kept
    consistent_upto: int  # the survivor holds records 0..consistent_upto (-1: none)
    newest_present_t: float | None
    holes: int  # records kept after a missing one: not a point-in-time copy
    unacked_present: int  # records the survivor holds that the primary never acknowledged


def loss(blocks: bytes, run_id: bytes, image: int, acked: Acked, writer_start: float) -> Loss:
    """Compare the survivor's first blocks of an image (`blocks`, from offset 0, any whole number
    of records, usually a few more than were acknowledged) with the primary's acknowledgements.

    With nothing of the run on the survivor, the time lost runs from the writer's start."""
    n = len(blocks) // BLOCK
    valid = [decode(blocks[k * BLOCK : (k + 1) * BLOCK], run_id, image, k) for k in range(n)]
    prefix = 0
    while prefix < n and valid[prefix] is not None:
        prefix += 1
    acked_n = acked.last_k + 1
    present = sum(1 for r in valid[:acked_n] if r is not None)
    missing = acked_n - present
    last_kept = valid[prefix - 1] if prefix else None
    newest_t = last_kept.t if last_kept is not None else None
    if missing == 0 or acked.last_t is None:
        missing_s = 0.0
    else:
        missing_s = max(0.0, acked.last_t - (newest_t if newest_t is not None else writer_start))
    return Loss(
        acked=acked_n,
        present=present,
        missing=missing,
        missing_bytes=missing * BLOCK,
        missing_s=missing_s,
        consistent_upto=prefix - 1,
        newest_present_t=newest_t,
        holes=sum(1 for r in valid[prefix:] if r is not None),
        unacked_present=sum(1 for r in valid[acked_n:] if r is not None),
    )
