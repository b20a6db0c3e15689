"""Checks before a failover and the steps that wait for Ceph to get somewhere (polling with a deadline)."""

from __future__ import annotations

import asyncio

from controller import checks
from controller.actions.base import (
    Env,
    Outcome,
    Step,
    action,
    poll_until,
)
from schemas.errors import Conflict, DeadlineExceeded, Unavailable
from schemas.status import SiteStatus


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

    await poll_until(env, step, probe)
    return Outcome(f"{step.site} replays every image and is caught up", changed=False)


@action("wait.replaying")
async def wait_replaying(env: Env, step: Step) -> Outcome:
    async def probe() -> list[str]:
        return checks.not_caught_up(await env.agents.status(step.site), step.args["rbd"])

    try:
        await poll_until(env, step, probe)
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

    await poll_until(env, step, probe)
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

    await poll_until(env, step, probe)
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
