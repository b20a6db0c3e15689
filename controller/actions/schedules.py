"""Snapshot schedules follow the primary: add on one site, remove from the other."""

from __future__ import annotations

import contextlib

from controller.actions.base import (
    Env,
    Outcome,
    Step,
    action,
    agent_command,
)
from schemas.errors import Conflict, NotFound


@action("schedule.rbd.add")
async def schedule_rbd_add(env: Env, step: Step) -> Outcome:
    a, changed = step.args, 0
    for m in a["members"]:
        levels = [{"image": i} for i in m["images"]] or [{}]
        for lv in levels:
            if a.get("start_time"):
                lv["start_time"] = a["start_time"]
            changed += (
                await agent_command(
                    env, step, "rbd.schedule.add", pool=m["pool"], interval=a["interval"], **lv
                )
            ).changed
    return Outcome(f"{changed} rbd schedule(s) added on {step.site}", bool(changed))


@action("schedule.rbd.remove")
async def schedule_rbd_remove(env: Env, step: Step) -> Outcome:
    changed = 0
    for m in step.args["members"]:
        for lv in [{"image": i} for i in m["images"]] or [{}]:
            # NotFound: the image is not (yet) on this site, so no schedule of it either
            with contextlib.suppress(NotFound):
                changed += (
                    await agent_command(env, step, "rbd.schedule.remove", pool=m["pool"], **lv)
                ).changed
    return Outcome(f"{changed} rbd schedule level(s) removed on {step.site}", bool(changed))


@action("schedule.fs.add")
async def schedule_fs_add(env: Env, step: Step) -> Outcome:
    a, changed = step.args, 0
    for m in a["members"]:
        for d in m["dirs"]:
            at = {"fs": m["fs"], "path": d}
            changed += (
                await agent_command(env, step, "fs.schedule.add", schedule=a["schedule"], **at)
            ).changed
            if a.get("retention"):
                with contextlib.suppress(Conflict):  # an operator's own retention on the dir: keep it
                    changed += (
                        await agent_command(env, step, "fs.retention.add", spec=a["retention"], **at)
                    ).changed
    return Outcome(f"{changed} fs schedule change(s) on {step.site}", bool(changed))


@action("schedule.fs.remove")
async def schedule_fs_remove(env: Env, step: Step) -> Outcome:
    changed = 0
    for m in step.args["members"]:
        for d in m["dirs"]:
            changed += (await agent_command(env, step, "fs.schedule.remove", fs=m["fs"], path=d)).changed
    return Outcome(f"{changed} fs schedule(s) removed on {step.site}", bool(changed))
