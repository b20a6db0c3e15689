"""What each step action does, against the agents and the store (adapter: I/O only, decisions in
`controller.checks` and `controller.ops`).

    @action("rbd.demote")
    async def demote(env: Env, step: Step) -> Outcome: ...

Every action is idempotent (agent commands are: demote of a non-primary image, import of a known
peer, add of an existing schedule change nothing), so the runner may re-run the step a crashed
controller left `running`. Request ids are `<op>-<step>-<attempt>[-k]`: unique per attempt, since
an agent remembers a refused request id and would answer a retry with the old refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from msgspec.structs import replace

from controller import checks
from controller.agents import Agents
from controller.sites import Sites
from controller.store import Store
from schemas.common import Done
from schemas.ctl import OpRecord, StepRecord
from schemas.errors import Conflict, DeadlineExceeded, NotFound, Unavailable
from schemas.fencing import FenceMember, FenceRecord, FsFenceMember
from schemas.fs import FsDirs, FsPeers, SealedFsBootstrap
from schemas.group import GroupRecord, Owed
from schemas.ids import SiteName
from schemas.rbd import BulkResult, PoolMirrorInfo, SealedBootstrap
from schemas.status import SiteStatus


@dataclass
class Outcome:
    message: str
    changed: bool = True
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Env:
    agents: Agents
    store: Store
    sites: Sites
    poll_s: float = 2.0
    long_timeout: float = 900.0


@dataclass
class Step:
    """The step being run, with what an action needs to name its requests."""

    op: OpRecord
    index: int
    record: StepRecord
    _n: int = 0

    @property
    def args(self) -> dict[str, Any]:
        return self.record.args

    @property
    def site(self) -> SiteName:
        if self.record.site is None:
            raise ValueError(f"step {self.record.name} has no site")
        return self.record.site

    def rid(self) -> str:
        self._n += 1
        return f"{self.op.op_id}-{self.index}-{self.record.attempts}-{self._n}"


Action = Callable[[Env, Step], Awaitable[Outcome]]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return register


async def _group(env: Env, step: Step) -> tuple[GroupRecord, int]:
    got = await env.store.group(step.op.group)
    if got is None:
        raise NotFound(f"group {step.op.group} no longer exists", where=step.record.name)
    return got


async def _poll(
    env: Env, step: Step, probe: Callable[[], Awaitable[list[str]]], timeout_s: float | None = None
) -> list[str]:
    """Run `probe` until it reports no problem or `timeout_s` (default: the step's) passes."""
    timeout_s = float(step.args.get("timeout_s", 300)) if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            problems = await probe()
        except Unavailable as err:  # an agent restarting or a scan failing: keep waiting
            problems = [str(err)]
        if not problems:
            return []
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(
                f"{step.record.name}: still not there after {timeout_s:g}s: "
                + "; ".join(problems[:5])
                + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""),
                where=step.record.name,
                details={"problems": problems[:50]},
            )
        await asyncio.sleep(env.poll_s)


# -- checks and waits -------------------------------------------------------------------------------


@action("check.sites")
async def check_sites(env: Env, step: Step) -> Outcome:
    dead = [f"{s}: {env.sites.why_not_alive(s)}" for s in step.args["sites"] if not env.sites.alive(s)]
    if dead:
        raise Unavailable("agent(s) not alive: " + "; ".join(dead), where=step.record.name)
    return Outcome("agents alive: " + ", ".join(step.args["sites"]), changed=False)


@action("check.failover")
async def check_failover(env: Env, step: Step) -> Outcome:
    a = step.args
    src, dst = await asyncio.gather(env.agents.status(a["source"]), env.agents.status(a["target"]))
    problems = checks.check_failover(src, dst, a["rbd"], a["fs"])
    if problems:
        raise Conflict(
            "planned failover refused: " + "; ".join(problems),
            where=step.record.name,
            details={"problems": problems},
        )
    return Outcome(f"{a['source']} primary and {a['target']} replaying for every member", changed=False)


@action("check.unplanned")
async def check_unplanned(env: Env, step: Step) -> Outcome:
    a = step.args
    problems = checks.check_unplanned(await env.agents.status(a["target"]), a["rbd"], a["fs"])
    if problems:
        raise Conflict(
            "forced failover refused: " + "; ".join(problems),
            where=step.record.name,
            details={"problems": problems},
        )
    return Outcome(f"{a['target']} holds every member", changed=False)


@action("wait.caught_up")
async def wait_caught_up(env: Env, step: Step) -> Outcome:
    async def probe() -> list[str]:
        return checks.not_caught_up(await env.agents.status(step.site), step.args["rbd"])

    await _poll(env, step, probe)
    return Outcome(f"{step.site} replays every image and is caught up", changed=False)


@action("wait.replaying")
async def wait_replaying(env: Env, step: Step) -> Outcome:
    async def probe() -> list[str]:
        return checks.not_caught_up(await env.agents.status(step.site), step.args["rbd"])

    try:
        await _poll(env, step, probe)
    except DeadlineExceeded as err:
        if step.args.get("advisory"):  # the failover itself is done; status keeps reporting it
            return Outcome(
                f"not yet replaying everywhere (status will show it): {err.message}", changed=False
            )
        raise
    return Outcome(f"{step.site} replays every image and is caught up", changed=False)


@action("wait.fs_synced")
async def wait_fs_synced(env: Env, step: Step) -> Outcome:
    a = step.args

    async def probe() -> list[str]:
        return checks.fs_not_synced(await env.agents.status(step.site), a["fs"], a["path"], a.get("name"))

    await _poll(env, step, probe)
    return Outcome(f"{a['fs']}:{a['path']} synced ({a.get('name') or 'latest'})", changed=False)


@action("wait.fenced")
async def wait_fenced(env: Env, step: Step) -> Outcome:
    a, group = step.args, step.op.group

    async def probe() -> list[str]:
        hb = env.sites.heartbeat(step.site)
        if hb is None or hb.epochs.get(group, -1) < a["epoch"]:
            seen = hb.epochs.get(group) if hb else None
            return [f"{step.site} has applied epoch {seen}, not {a['epoch']} yet"]
        primary = checks.primary_members(await env.agents.status(step.site), a["rbd"])
        return [f"{m}: still primary on {step.site}" for m in primary]

    await _poll(env, step, probe)
    return Outcome(f"{step.site} fenced itself at epoch {a['epoch']}", changed=False)


@action("verify.roles")
async def verify_roles(env: Env, step: Step) -> Outcome:
    a = step.args
    primary = await env.agents.status(a["primary"])
    other: SiteStatus | None = None
    try:
        other = await env.agents.status(a["other"])
    except Unavailable:
        if not a.get("other_optional"):
            raise
    problems = checks.wrong_roles(primary, other, a["rbd"])
    if problems:
        raise Conflict("roles after promotion are wrong: " + "; ".join(problems), where=step.record.name)
    return Outcome(
        f"{a['primary']} primary for every image" + ("" if other else f" ({a['other']} unreachable)"),
        changed=False,
    )


# -- rbd --------------------------------------------------------------------------------------------


def _bulk_outcome(res: BulkResult, verb: str, site: str) -> Outcome:
    failed = [r for r in res.results if not r.ok]
    if failed:
        detail = "; ".join(f"{r.image}: {r.error.message if r.error else 'failed'}" for r in failed[:5])
        raise Unavailable(
            f"{verb} on {site}: {res.failed} of {res.total} failed: {detail}",
            details={"failed": [r.image for r in failed]},
        )
    changed = sum(r.changed for r in res.results)
    return Outcome(
        f"{verb} {res.pool} on {site}: {changed} changed, {res.total - changed} already done",
        changed=bool(changed),
        result={"changed": changed, "total": res.total},
    )


@action("rbd.demote")
async def rbd_demote(env: Env, step: Step) -> Outcome:
    a = step.args
    body = {"request_id": step.rid(), "pool": a["pool"], "images": a["images"], "wait_s": 30.0}
    res = await env.agents.run_long(
        step.site, "rbd.images.demote", body, BulkResult, timeout=env.long_timeout
    )
    return _bulk_outcome(res, "demote", step.site)


@action("rbd.promote")
async def rbd_promote(env: Env, step: Step) -> Outcome:
    a = step.args
    body: dict[str, Any] = {
        "request_id": step.rid(),
        "pool": a["pool"],
        "images": a["images"],
        "wait_s": a.get("wait_s", 30.0),
    }
    if a.get("force"):
        body |= {"force": True, "confirm": a["pool"]}
    res = await env.agents.run_long(
        step.site, "rbd.images.promote", body, BulkResult, timeout=env.long_timeout
    )
    return _bulk_outcome(res, "force-promote" if a.get("force") else "promote", step.site)


@action("rbd.resync")
async def rbd_resync(env: Env, step: Step) -> Outcome:
    todo = checks.needs_resync(await env.agents.status(step.site), step.args["rbd"])
    for pool, image in todo:
        await env.agents.call(
            step.site,
            "rbd.image.resync",
            {"request_id": step.rid(), "pool": pool, "image": image, "confirm": f"{pool}/{image}"},
            Done,
        )
    names = [f"{p}/{i}" for p, i in todo]
    return Outcome(
        f"resync flagged on {step.site}: {', '.join(names) or 'none needed'}",
        changed=bool(todo),
        result={"resynced": names},
    )


@action("rbd.pool.enable")
async def rbd_pool_enable(env: Env, step: Step) -> Outcome:
    a = step.args
    d = await env.agents.call(
        step.site,
        "rbd.pool.enable",
        {"request_id": step.rid(), "pool": a["pool"], "mode": a["mode"], "site_name": step.site},
        Done,
    )
    return Outcome(d.message, d.changed)


@action("rbd.image.enable")
async def rbd_image_enable(env: Env, step: Step) -> Outcome:
    a = step.args
    d = await env.agents.call(
        step.site,
        "rbd.image.enable",
        {"request_id": step.rid(), "pool": a["pool"], "image": a["image"], "mode": a["mode"]},
        Done,
    )
    return Outcome(d.message, d.changed)


async def _rbd_peers(env: Env, site: str, pool: str) -> set[str]:
    info = await env.agents.call(site, "rbd.pool.info", {"pool": pool}, PoolMirrorInfo)
    return {p.site_name for p in info.peers}


@action("rbd.peer.connect")
async def rbd_peer_connect(env: Env, step: Step) -> Outcome:
    a = step.args
    src, dst, pool = a["source"], a["target"], a["pool"]
    have_src, have_dst = await asyncio.gather(_rbd_peers(env, src, pool), _rbd_peers(env, dst, pool))
    if (dst in have_src and src in have_dst) or (a["direction"] == "rx-only" and src in have_dst):
        return Outcome(f"{pool}: {src} and {dst} already peered", changed=False)
    sealed = await env.agents.call(
        src,
        "rbd.peer.bootstrap.create",
        {
            "request_id": step.rid(),
            "pool": pool,
            "recipient_site": dst,
            "recipient_public_key": env.sites.public_key(dst),
            "site_name": src,
        },
        SealedBootstrap,
    )
    # the sender's key as the controller knows it (heartbeats), not as the reply claims: the
    # recipient's Box open then proves the blob came from that agent
    d = await env.agents.call(
        dst,
        "rbd.peer.bootstrap.import",
        {
            "request_id": step.rid(),
            "pool": pool,
            "sealed": sealed.sealed,
            "sender_public_key": env.sites.public_key(src),
            "direction": a["direction"],
            "site_name": dst,
        },
        Done,
    )
    return Outcome(d.message, d.changed)


# -- fencing ----------------------------------------------------------------------------------------


@action("fence.epoch")
async def fence_epoch(env: Env, step: Step) -> Outcome:
    """Write the group's epoch naming `primary`, then record it in the group. Idempotent: the same
    epoch and primary again changes nothing; a newer epoch written by someone else is a conflict."""
    a = step.args
    epoch, primary = int(a["epoch"]), SiteName(a["primary"])
    rec, rev = await _group(env, step)
    current = await env.store.fence(rec.name)
    if current is not None and (
        current.epoch > epoch or (current.epoch == epoch and current.primary != primary)
    ):
        raise Conflict(
            f"group {rec.name} is at epoch {current.epoch} (primary {current.primary}) already",
            where=step.record.name,
        )
    members = await _fence_members(env, rec, primary)
    fs_members = [FsFenceMember(fs=m.fs, dirs=list(m.dirs)) for m in rec.spec.fs]
    fence = FenceRecord(
        group=rec.spec.name,
        epoch=epoch,
        primary=primary,
        rbd=members,
        fs=fs_members,
        updated_at=time.time(),
        reason=f"{step.op.kind} {step.op.op_id}",
    )
    changed = current is None or (current.epoch, current.primary, current.rbd, current.fs) != (
        epoch,
        primary,
        members,
        fs_members,
    )
    if changed:
        await env.store.put_fence(fence)
    owed = rec.owed
    if a.get("owed_by"):
        owed = Owed(
            site=a["owed_by"],
            since_epoch=epoch,
            reason=f"failed away from by {step.op.op_id}: must fence, resync, then fail back",
        )
    elif a.get("clear_owed"):
        owed = None
    new = replace(rec, primary=primary, epoch=epoch, owed=owed)
    moved = new != rec
    if moved:
        await env.store.put_group(replace(new, updated_at=time.time()), rev)
    return Outcome(f"epoch {epoch}: {primary} primary", changed=changed or moved, result={"epoch": epoch})


async def _fence_members(env: Env, rec: GroupRecord, primary: str) -> list[FenceMember]:
    out = []
    whole = [m for m in rec.spec.rbd if m.whole_pool]
    st = None
    if whole:  # the images a whole-pool member holds now, as the new primary sees them
        try:
            st = await env.agents.status(primary)
        except Unavailable:
            st = await env.store.site_status(primary)
    for m in rec.spec.rbd:
        if m.images:
            images = list(m.images)
        else:
            images = sorted(i.image for i in (st.images if st else []) if i.pool == m.pool)
        out.append(FenceMember(pool=m.pool, images=images))
    return out


# -- schedules --------------------------------------------------------------------------------------


@action("schedule.rbd.add")
async def schedule_rbd_add(env: Env, step: Step) -> Outcome:
    a, changed = step.args, 0
    for m in a["members"]:
        levels = [{"image": i} for i in m["images"]] or [{}]
        for lv in levels:
            body = {"request_id": step.rid(), "pool": m["pool"], "interval": a["interval"], **lv}
            if a.get("start_time"):
                body["start_time"] = a["start_time"]
            changed += (await env.agents.call(step.site, "rbd.schedule.add", body, Done)).changed
    return Outcome(f"{changed} rbd schedule(s) added on {step.site}", bool(changed))


@action("schedule.rbd.remove")
async def schedule_rbd_remove(env: Env, step: Step) -> Outcome:
    changed = 0
    for m in step.args["members"]:
        for lv in [{"image": i} for i in m["images"]] or [{}]:
            body = {"request_id": step.rid(), "pool": m["pool"], **lv}
            # NotFound: the image is not (yet) on this site, so no schedule of it either
            with contextlib.suppress(NotFound):
                changed += (await env.agents.call(step.site, "rbd.schedule.remove", body, Done)).changed
    return Outcome(f"{changed} rbd schedule level(s) removed on {step.site}", bool(changed))


@action("schedule.fs.add")
async def schedule_fs_add(env: Env, step: Step) -> Outcome:
    a, changed = step.args, 0
    for m in a["members"]:
        for d in m["dirs"]:
            body = {"request_id": step.rid(), "fs": m["fs"], "path": d, "schedule": a["schedule"]}
            changed += (await env.agents.call(step.site, "fs.schedule.add", body, Done)).changed
            if a.get("retention"):
                try:
                    body = {"request_id": step.rid(), "fs": m["fs"], "path": d, "spec": a["retention"]}
                    changed += (await env.agents.call(step.site, "fs.retention.add", body, Done)).changed
                except Conflict:  # an operator's own retention on the dir: keep it
                    pass
    return Outcome(f"{changed} fs schedule change(s) on {step.site}", bool(changed))


@action("schedule.fs.remove")
async def schedule_fs_remove(env: Env, step: Step) -> Outcome:
    changed = 0
    for m in step.args["members"]:
        for d in m["dirs"]:
            body = {"request_id": step.rid(), "fs": m["fs"], "path": d}
            changed += (await env.agents.call(step.site, "fs.schedule.remove", body, Done)).changed
    return Outcome(f"{changed} fs schedule(s) removed on {step.site}", bool(changed))


# -- cephfs -----------------------------------------------------------------------------------------


@action("fs.mirror.enable")
async def fs_mirror_enable(env: Env, step: Step) -> Outcome:
    d = await env.agents.call(
        step.site, "fs.mirror.enable", {"request_id": step.rid(), "fs": step.args["fs"]}, Done
    )
    return Outcome(d.message, d.changed)


@action("fs.dir.add")
async def fs_dir_add(env: Env, step: Step) -> Outcome:
    a = step.args
    d = await env.agents.call(
        step.site, "fs.dir.add", {"request_id": step.rid(), "fs": a["fs"], "path": a["path"]}, Done
    )
    return Outcome(d.message, d.changed)


@action("fs.dir.remove")
async def fs_dir_remove(env: Env, step: Step) -> Outcome:
    a = step.args
    d = await env.agents.call(
        step.site, "fs.dir.remove", {"request_id": step.rid(), "fs": a["fs"], "path": a["path"]}, Done
    )
    return Outcome(d.message, d.changed)


async def _fs_peers(env: Env, site: str, fs: str) -> FsPeers:
    return await env.agents.call(site, "fs.peer.list", {"fs": fs}, FsPeers)


@action("fs.peer.remove")
async def fs_peer_remove(env: Env, step: Step) -> Outcome:
    a = step.args
    peers = await _fs_peers(env, step.site, a["fs"])
    gone = [p for p in peers.peers if p.site_name == a["peer_site"]]
    for p in gone:
        await env.agents.call(
            step.site,
            "fs.peer.remove",
            {"request_id": step.rid(), "fs": a["fs"], "peer": p.uuid, "confirm": p.uuid},
            Done,
        )
    return Outcome(f"{a['fs']} on {step.site}: {len(gone)} peer(s) {a['peer_site']} removed", bool(gone))


@action("fs.peer.connect")
async def fs_peer_connect(env: Env, step: Step) -> Outcome:
    """CephFS mirrors source -> target: the receiving target creates the token (and its user),
    sealed for the source agent, which imports it."""
    a = step.args
    src, dst, fs = a["source"], a["target"], a["fs"]
    peers = await _fs_peers(env, src, fs)
    if any(p.site_name == dst for p in peers.peers):
        return Outcome(f"{fs}: {src} already mirrors to {dst}", changed=False)
    sealed = await env.agents.call(
        dst,
        "fs.peer.bootstrap.create",
        {
            "request_id": step.rid(),
            "fs": fs,
            "recipient_public_key": env.sites.public_key(src),
            "recipient_site": src,
            "site_name": dst,
        },
        SealedFsBootstrap,
    )
    d = await env.agents.call(
        src,
        "fs.peer.bootstrap.import",
        {
            "request_id": step.rid(),
            "fs": fs,
            "sealed": sealed.sealed,
            "sender_public_key": env.sites.public_key(dst),
        },
        Done,
    )
    return Outcome(d.message, d.changed)


@action("fs.snapshot")
async def fs_snapshot(env: Env, step: Step) -> Outcome:
    a = step.args
    r = await env.agents.call(
        step.site,
        "fs.snapshot.create",
        {"request_id": step.rid(), "fs": a["fs"], "path": a["path"], "name": a["name"]},
        dict,
    )
    return Outcome(
        f"snapshot {a['name']} of {a['fs']}:{a['path']} on {step.site}",
        bool(r.get("changed", True)),
        result={"id": r.get("id")},
    )


@action("fs.dir.prepare")
async def fs_dir_prepare(env: Env, step: Step) -> Outcome:
    """Prepare the old primary's directory to receive from the new one (FINDINGS B.1)."""
    a = step.args

    async def still_mirrored_here() -> list[str]:
        # a removed directory stays in the mirror list for a few seconds; prepare refuses until then
        listed = await env.agents.call(step.site, "fs.dir.list", {"fs": a["fs"]}, FsDirs)
        return [f"{a['path']} still mirrored out of {step.site}" for d in listed.dirs if d.path == a["path"]]

    await _poll(env, step, still_mirrored_here, timeout_s=120)
    body: dict[str, Any] = {
        "request_id": step.rid(),
        "fs": a["fs"],
        "path": a["path"],
        "method": a["method"],
        "confirm": f"{a['fs']}:{a['path']}",
    }
    if a["method"] == "forge":
        listed = await env.agents.call(
            a["source"], "fs.snapshot.list", {"fs": a["fs"], "path": a["path"]}, dict
        )
        snap = next((s for s in listed.get("snapshots", []) if s.get("name") == a["snapshot"]), None)
        if snap is None or snap.get("id") is None:
            raise Conflict(
                f"{a['source']} has no snapshot {a['snapshot']} of {a['fs']}:{a['path']}",
                where=step.record.name,
            )
        body |= {"snapshot": a["snapshot"], "primary_snap_id": int(snap["id"])}
    else:
        body["aside_suffix"] = step.op.op_id[:64]
    d = await env.agents.call(step.site, "fs.dir.prepare", body, Done)
    return Outcome(d.message, d.changed)
