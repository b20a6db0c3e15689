"""What `cephdr drill` reports: a msgspec Struct printed as JSON (`--json`) or as a table.

It is CLI output, not a bus message, so it lives with the lab and not in schemas/. Pure.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from lab.drill_data import Loss

Kind = Literal["planned", "unplanned"]


class Phase(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    seconds: float
    note: str = ""


class ImageRpo(msgspec.Struct, frozen=True, kw_only=True):
    image: str
    acked: int  # records the primary acknowledged
    missing_records: int  # acknowledged on the primary, absent on the survivor
    missing_bytes: int
    missing_seconds: float
    consistent_upto: int  # the survivor holds records 0..this
    holes: int = 0  # records kept after a missing one (a survivor that is not a point-in-time copy)
    unacked_present: int = 0  # in flight at the fault, kept by the survivor, never acknowledged


class Rpo(msgspec.Struct, frozen=True, kw_only=True):
    """The worst image, and the sums over images."""

    records: int
    bytes: int
    seconds: float
    total_records: int
    total_bytes: int


class DrillReport(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    kind: Kind
    mode: Literal["snapshot", "journal"]
    interval: str  # the mirror-snapshot schedule (snapshot mode)
    images: int
    pool: str
    survivor: str
    started_at: float
    finished_at: float
    write_for_s: float  # how long the writer ran before the failover request or the fault
    records_acked: int  # over every image
    rto_s: float  # request (planned) or fault (unplanned) -> every image primary + writable on the survivor
    rpo: Rpo
    failback_s: float  # failback request -> op succeeded + every image primary on the original site
    phases: list[Phase] = msgspec.field(default_factory=list)
    per_image: list[ImageRpo] = msgspec.field(default_factory=list)
    op_ids: dict[str, str] = msgspec.field(default_factory=dict)  # failover, failback
    lab_healthy: bool = False
    notes: list[str] = msgspec.field(default_factory=list)


def image_rpo(name: str, lost: Loss) -> ImageRpo:
    return ImageRpo(
        image=name,
        acked=lost.acked,
        missing_records=lost.missing,
        missing_bytes=lost.missing_bytes,
        missing_seconds=round(lost.missing_s, 3),
        consistent_upto=lost.consistent_upto,
        holes=lost.holes,
        unacked_present=lost.unacked_present,
    )


def worst(images: list[ImageRpo]) -> Rpo:
    return Rpo(
        records=max((i.missing_records for i in images), default=0),
        bytes=max((i.missing_bytes for i in images), default=0),
        seconds=max((i.missing_seconds for i in images), default=0.0),
        total_records=sum(i.missing_records for i in images),
        total_bytes=sum(i.missing_bytes for i in images),
    )


def table(r: DrillReport) -> str:
    """The operator's view: phases with seconds, then RTO / RPO / failback, then images that lost data."""
    lines = [
        f"drill {r.group}: {r.kind} failover of {r.images} image(s), {r.mode} mode"
        + (f" (schedule {r.interval})" if r.mode == "snapshot" else "")
        + f", pool {r.pool}, survivor {r.survivor}",
        "",
        f"{'phase':<48} {'seconds':>9}",
    ]
    lines += [f"{p.name:<48} {p.seconds:>9.1f}" + (f"  {p.note}" if p.note else "") for p in r.phases]
    rpo = r.rpo
    lines += [
        "",
        f"{'RTO':<22} {r.rto_s:>9.1f} s",
        f"{'RPO (worst image)':<22} {rpo.records:>9} records  {rpo.bytes:>10} bytes  {rpo.seconds:>7.1f} s",
        f"{'RPO (all images)':<22} {rpo.total_records:>9} records  {rpo.total_bytes:>10} bytes",
        f"{'failback':<22} {r.failback_s:>9.1f} s",
        f"{'written':<22} {r.records_acked:>9} records acknowledged in {r.write_for_s:.0f} s",
    ]
    lost = [i for i in r.per_image if i.missing_records or i.holes or i.unacked_present]
    if lost:
        lines += ["", f"{'image':<20} {'acked':>7} {'missing':>8} {'bytes':>10} {'seconds':>8} {'holes':>6}"]
        lines += [
            f"{i.image:<20} {i.acked:>7} {i.missing_records:>8} {i.missing_bytes:>10} "
            f"{i.missing_seconds:>8.1f} {i.holes:>6}"
            + (f"  +{i.unacked_present} unacked" if i.unacked_present else "")
            for i in lost
        ]
    lines += ["", f"lab healthy afterwards: {'yes' if r.lab_healthy else 'NO'}"]
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
