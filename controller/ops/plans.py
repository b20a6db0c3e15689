"""Which steps each operation runs, in which order, and why (pure).

A plan is fixed when the operation starts and stored with it, so a resumed operation runs the
steps that were decided, not a re-planning against a world that has moved on. Every step names an
action the runner knows (`controller.actions`) and carries plain-data arguments.

Ordering rules that protect data (FINDINGS A2, B.1-B.2):
- Never demote before the secondary reports caught up (journal mode ends in split-brain).
- The epoch names the new primary *before* anything is promoted there: an agent restarting
  mid-failover fences against the current epoch, so it must never see an epoch that contradicts a
  promotion already done.
- Never promote the old primary back before it replays and is caught up (plain promote is accepted
  and silently drops the other site's writes): failback waits for `replaying` + caught up.
- CephFS mirrors one way per file-system pair: reversing needs the old primary's directory
  prepared (`forge` after a planned failover, where it equals the final snapshot; `fresh`, which
  keeps the old data aside, after an unplanned one).
"""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from schemas.ctl import StepRecord
from schemas.group import GroupRecord, GroupSpec
from schemas.ids import SiteName

# deadlines (seconds) of the waiting steps; generous: the lab measured 25-60 s for each
CAUGHT_UP_TIMEOUT = 300.0
FS_SYNC_TIMEOUT = 300.0
REPLAYING_TIMEOUT = 900.0  # a resync re-copies the image
FENCED_TIMEOUT = 180.0
PROMOTE_WAIT_S = 90.0  # per image: librbd refuses (EBUSY) until the demotion has been replayed
FORCE_PROMOTE_WAIT_S = 30.0


def step(
    title: str, action: str, site: SiteName | None = None, /, *, pnr: bool = False, **args: Any
) -> StepRecord:
    return StepRecord(
        name=title, action=action, site=site, args=args, state="pending", point_of_no_return=pnr
    )


def rbd_members(spec: GroupSpec) -> list[dict[str, Any]]:
    return [{"pool": m.pool, "images": list(m.images), "mode": m.mode} for m in spec.rbd]


def fs_members(spec: GroupSpec) -> list[dict[str, Any]]:
    return [{"fs": m.fs, "dirs": list(m.dirs)} for m in spec.fs]


def final_snapshot_name(op_id: str) -> str:
    return f"cephdr-final-{op_id}"


def _schedules_move(
    spec: GroupSpec, old: SiteName, new: SiteName, *, old_reachable: bool, fs_old_done: bool = False
) -> list[StepRecord]:
    out = []
    sch = spec.schedule
    # journal-mode images replicate continuously: mirror snapshot schedules are for snapshot mode
    snap = [m for m in rbd_members(spec) if m["mode"] == "snapshot"]
    if snap:
        out.append(
            step(
                f"rbd schedules on {new}",
                "schedule.rbd.add",
                new,
                members=snap,
                interval=sch.interval,
                start_time=sch.start_time,
            )
        )
        if old_reachable:
            out.append(step(f"rbd schedules off {old}", "schedule.rbd.remove", old, members=snap))
    if spec.fs:
        out.append(
            step(
                f"fs schedules on {new}",
                "schedule.fs.add",
                new,
                members=fs_members(spec),
                schedule=sch.fs_schedule,
                retention=sch.fs_retention,
            )
        )
        if old_reachable and not fs_old_done:
            out.append(step(f"fs schedules off {old}", "schedule.fs.remove", old, members=fs_members(spec)))
    return out


def _fs_reverse(
    spec: GroupSpec, old: SiteName, new: SiteName, *, method: str, snapshot: str | None
) -> list[StepRecord]:
    """Make `new` the sending side of every fs member (one direction per file-system pair)."""
    out: list[StepRecord] = []
    for m in spec.fs:
        out.append(step(f"fs {m.fs}: drop {old}'s peer {new}", "fs.peer.remove", old, fs=m.fs, peer_site=new))
        if not spec.two_way:
            continue
        out.append(step(f"fs {m.fs}: mirroring on {new}", "fs.mirror.enable", new, fs=m.fs))
        out.append(
            step(f"fs {m.fs}: peer {new} -> {old}", "fs.peer.connect", None, fs=m.fs, source=new, target=old)
        )
        for d in m.dirs:
            out.append(
                step(
                    f"fs {m.fs}:{d}: prepare {old} ({method})",
                    "fs.dir.prepare",
                    old,
                    fs=m.fs,
                    path=d,
                    method=method,
                    snapshot=snapshot,
                    source=new,
                )
            )
            out.append(step(f"fs {m.fs}:{d}: mirror from {new}", "fs.dir.add", new, fs=m.fs, path=d))
    return out


def planned_failover(rec: GroupRecord, target: SiteName, *, op_id: str) -> list[StepRecord]:
    spec, src, dst = rec.spec, rec.primary, target
    rbd, fs = rbd_members(spec), fs_members(spec)
    final = final_snapshot_name(op_id)
    s: list[StepRecord] = [
        step("agents alive", "check.sites", None, sites=[src, dst]),
        step(
            f"{src} primary, {dst} replaying", "check.failover", None, source=src, target=dst, rbd=rbd, fs=fs
        ),
    ]
    if rbd:
        s.append(step(f"{dst} caught up", "wait.caught_up", dst, rbd=rbd, timeout_s=CAUGHT_UP_TIMEOUT))
        s += [
            step(
                f"demote {m['pool']} ({m['mode']}) on {src}",
                "rbd.demote",
                src,
                pnr=True,
                pool=m["pool"],
                images=m["images"],
            )
            for m in rbd
        ]
    if spec.fs:
        # no scheduled snapshot may land after the final one: the old primary's directory must
        # equal the final snapshot for `forge`, and the new primary replays up to it
        s.append(
            step(f"fs schedules off {src}", "schedule.fs.remove", src, pnr=True, members=fs_members(spec))
        )
    for m in spec.fs:
        for d in m.dirs:
            s.append(
                step(
                    f"final snapshot {m.fs}:{d} on {src}",
                    "fs.snapshot",
                    src,
                    pnr=True,
                    fs=m.fs,
                    path=d,
                    name=final,
                )
            )
            s.append(
                step(
                    f"{m.fs}:{d} synced to {dst}",
                    "wait.fs_synced",
                    src,
                    fs=m.fs,
                    path=d,
                    name=final,
                    timeout_s=FS_SYNC_TIMEOUT,
                )
            )
            s.append(step(f"stop mirroring {m.fs}:{d} from {src}", "fs.dir.remove", src, fs=m.fs, path=d))
    s.append(
        step(
            f"epoch {rec.epoch + 1}: {dst} primary",
            "fence.epoch",
            None,
            pnr=True,
            epoch=rec.epoch + 1,
            primary=dst,
            clear_owed=True,
        )
    )
    s += [
        step(
            f"promote {m['pool']} ({m['mode']}) on {dst}",
            "rbd.promote",
            dst,
            pool=m["pool"],
            images=m["images"],
            force=False,
            wait_s=PROMOTE_WAIT_S,
        )
        for m in rbd
    ]
    if rbd:
        s.append(step("verify roles", "verify.roles", None, primary=dst, other=src, rbd=rbd))
    s += _schedules_move(spec, src, dst, old_reachable=True, fs_old_done=True)
    s += _fs_reverse(spec, src, dst, method="forge", snapshot=final)
    if rbd and spec.two_way:
        s.append(
            step(
                f"{src} replaying from {dst}",
                "wait.replaying",
                src,
                rbd=rbd,
                timeout_s=CAUGHT_UP_TIMEOUT,
                advisory=True,
            )
        )
    return s


def unplanned_failover(rec: GroupRecord, target: SiteName) -> list[StepRecord]:
    spec, old, dst = rec.spec, rec.primary, target
    rbd = rbd_members(spec)
    s: list[StepRecord] = [
        step("target agent alive", "check.sites", None, sites=[dst]),
        step(f"{dst} holds every member", "check.unplanned", None, target=dst, rbd=rbd, fs=fs_members(spec)),
        # fencing first: whatever happens next, the returning old primary demotes itself
        step(
            f"epoch {rec.epoch + 1}: {dst} primary",
            "fence.epoch",
            None,
            pnr=True,
            epoch=rec.epoch + 1,
            primary=dst,
            owed_by=old,
        ),
    ]
    s += [
        step(
            f"force-promote {m['pool']} ({m['mode']}) on {dst}",
            "rbd.promote",
            dst,
            pool=m["pool"],
            images=m["images"],
            force=True,
            wait_s=FORCE_PROMOTE_WAIT_S,
        )
        for m in rbd
    ]
    if rbd:
        s.append(
            step("verify roles", "verify.roles", None, primary=dst, other=old, rbd=rbd, other_optional=True)
        )
    s += _schedules_move(spec, old, dst, old_reachable=False)
    return s


def failback(rec: GroupRecord, *, op_id: str) -> list[StepRecord]:
    """Back to the site an unplanned failover left (`rec.owed.site`); the group's primary now is
    the survivor. Ends with a planned failover, so it is RPO 0 from the survivor's point of view."""
    spec = rec.spec
    if rec.owed is None:
        raise ValueError(f"group {spec.name} owes no failback")
    old, cur = rec.owed.site, rec.primary
    rbd = rbd_members(spec)
    s: list[StepRecord] = [
        step("agents alive", "check.sites", None, sites=[old, cur]),
        step(
            f"{old} fenced at epoch {rec.epoch}",
            "wait.fenced",
            old,
            epoch=rec.epoch,
            rbd=rbd,
            timeout_s=FENCED_TIMEOUT,
        ),
    ]
    snap = [m for m in rbd if m["mode"] == "snapshot"]
    if snap:
        s.append(step(f"rbd schedules off {old}", "schedule.rbd.remove", old, members=snap))
    if spec.fs:
        s.append(step(f"fs schedules off {old}", "schedule.fs.remove", old, members=fs_members(spec)))
        for fm in spec.fs:
            for d in fm.dirs:
                s.append(
                    step(f"stop mirroring {fm.fs}:{d} from {old}", "fs.dir.remove", old, fs=fm.fs, path=d)
                )
    if rbd:
        s.append(step(f"resync {old}", "rbd.resync", old, pnr=True, rbd=rbd))
    s += _fs_reverse(spec, old, cur, method="fresh", snapshot=None)
    if rbd:
        s.append(
            step(
                f"{old} replaying and caught up", "wait.replaying", old, rbd=rbd, timeout_s=REPLAYING_TIMEOUT
            )
        )
    for fm in spec.fs if spec.two_way else []:
        for d in fm.dirs:
            s.append(
                step(
                    f"{fm.fs}:{d} synced to {old}",
                    "wait.fs_synced",
                    cur,
                    fs=fm.fs,
                    path=d,
                    name=None,
                    timeout_s=FS_SYNC_TIMEOUT,
                )
            )
    back = GroupRecord(spec=spec, primary=cur, epoch=rec.epoch)
    return s + planned_failover(back, old, op_id=op_id)


def reconcile(rec: GroupRecord) -> list[StepRecord]:
    """Make Ceph match the group: mirroring, peers, members, schedules on the primary only, and the
    fencing record. Every step is tolerant: one broken member does not stop the others.

    While a failed-away site still owes its failback (`rec.owed`), only the primary's side is
    reconciled: peering with a site that has not fenced and resynced would undo nothing but could
    confuse it; the failback operation re-establishes replication in the safe order."""
    spec, p, o = rec.spec, rec.primary, rec.secondary
    t = {"tolerant": True}
    both = rec.owed is None
    s: list[StepRecord] = [step("agents alive", "check.sites", None, sites=[p, o] if both else [p], **t)]
    pool_modes = {m.pool: "pool" if m.whole_pool else "image" for m in spec.rbd}
    for pool, mode in pool_modes.items():
        for site in (p, o) if both else (p,):
            s.append(
                step(f"rbd {pool}: mirroring on {site}", "rbd.pool.enable", site, pool=pool, mode=mode, **t)
            )
        if both:
            s.append(
                step(
                    f"rbd {pool}: peer {p} <-> {o}",
                    "rbd.peer.connect",
                    None,
                    pool=pool,
                    source=p,
                    target=o,
                    direction="rx-tx" if spec.two_way else "rx-only",
                    **t,
                )
            )
    for m in spec.rbd:
        for img in m.images:
            s.append(
                step(
                    f"rbd {m.pool}/{img}: mirrored ({m.mode})",
                    "rbd.image.enable",
                    p,
                    pool=m.pool,
                    image=img,
                    mode=m.mode,
                    **t,
                )
            )
    for fm in spec.fs if both else []:
        s.append(step(f"fs {fm.fs}: mirroring on {p}", "fs.mirror.enable", p, fs=fm.fs, **t))
        s.append(
            step(f"fs {fm.fs}: peer {p} -> {o}", "fs.peer.connect", None, fs=fm.fs, source=p, target=o, **t)
        )
        for d in fm.dirs:
            s.append(step(f"fs {fm.fs}:{d}: mirrored", "fs.dir.add", p, fs=fm.fs, path=d, **t))
    s.append(
        step(
            f"fencing record (epoch {max(rec.epoch, 1)})",
            "fence.epoch",
            None,
            epoch=max(rec.epoch, 1),
            primary=p,
            **t,
        )
    )
    for st in _schedules_move(spec, o, p, old_reachable=both):
        s.append(replace(st, args={**st.args, **t}))
    return s
