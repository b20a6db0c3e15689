"""What the drills share: staging faults on the lab's processes (kill -9 and restart of its
nats-server on the same port, SIGSTOP/SIGCONT), reading the events stream back, and a mirrored
RBD group the controller manages."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from helpers import oracle
from helpers.ctl import Ctl, describe, group_healthy, rid
from helpers.wait import async_wait_for, wait_for
from nats.aio.client import Client as NATS

from bus import subjects
from controller.store import LEASE_KEY
from lab import nats as lab_nats
from lab import procs, runner
from lab.cmd import LabError
from lab.model import LabInfo
from schemas.ctl import FleetStatus, GroupApplied, OpRecord
from schemas.lease import LeaseRecord

# ---------------------------------------------------------------------- nats-server


def nats_paths(lab: LabInfo) -> lab_nats.NatsPaths:
    return lab_nats.NatsPaths(Path(lab.dir) / "nats")


def kill_nats(lab: LabInfo) -> int:
    """kill -9 the lab's nats-server; returns the client port it served (to come back on)."""
    paths = nats_paths(lab)
    pid = lab_nats.running_pid(paths)
    assert pid is not None, "the lab's nats-server is not running"
    url = lab_nats.client_url(paths, pid)
    assert url, "no client url for the lab's nats-server"
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not procs.alive(pid), timeout=10, interval=0.05, what="nats-server gone")
    return int(url.rsplit(":", 1)[1])


def start_nats_on(lab: LabInfo, port: int) -> int:
    """The lab's nats-server again, with its own config and store, on `port` (flags override the
    config's random port, so clients reconnect to the address they know)."""
    paths = nats_paths(lab)
    with open(paths.dir / "nats.out", "ab") as out:
        proc = subprocess.Popen(
            [lab_nats.server_binary(), "-c", str(paths.conf), "-a", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            close_fds=True,
        )
    wait_for(lambda: proc.poll() is None and lab_nats.client_url(paths, proc.pid), timeout=20, interval=0.05,
             what="nats-server back")
    return proc.pid


async def stream_messages(nc: NATS, subject: str, after: int) -> list[tuple[int, str, bytes]]:
    """(seq, subject, data) of the events stream's messages on `subject` with seq > `after`."""
    js = nc.jetstream(timeout=10)
    out: list[tuple[int, str, bytes]] = []
    seq = after + 1
    last = (await js.stream_info(subjects.EVENTS_STREAM)).state.last_seq
    while seq <= last:
        try:
            msg = await js.get_msg(subjects.EVENTS_STREAM, seq=seq, subject=subject, next=True)
        except Exception:  # nothing more on that subject
            break
        assert msg.seq is not None
        out.append((msg.seq, msg.subject or "", bytes(msg.data or b"")))
        seq = msg.seq + 1
    return out


async def last_seq(nc: NATS) -> int:
    return int((await nc.jetstream(timeout=10).stream_info(subjects.EVENTS_STREAM)).state.last_seq)


def duplicates(payloads: list[bytes]) -> int:
    """Messages stored more than once (byte-identical: every event carries its own time)."""
    return sum(n - 1 for n in Counter(payloads).values())


# ---------------------------------------------------------------------- the lab


def lab_up_again(lab_dir: Path, attempts: int = 3) -> None:
    """`lab up` after a staged site death. Retried: its peering step can reach a restarted mgr
    before the mirroring module has loaded (lab/drill_lab.py does the same)."""
    for i in range(attempts):
        try:
            runner.up(lab_dir, peered=True)
            return
        except LabError:
            if i == attempts - 1:
                raise
            time.sleep(5)  # not a check: give the mgr module time to load before the next try


# ---------------------------------------------------------------------- signals


def stop(pid: int) -> None:
    os.kill(pid, signal.SIGSTOP)


def cont(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


def now() -> float:
    return time.monotonic()


# ---------------------------------------------------------------------- a group


@dataclass
class Group:
    name: str
    pool: str
    images: list[str]


def make_group(lab: LabInfo, prefix: str, n_images: int = 1) -> Group:
    """A fresh pool on both sites with `n_images` images (with data) on site-a."""
    from helpers import data

    sa, sb = lab.site("site-a"), lab.site("site-b")
    g = Group(
        name=oracle.unique_name(prefix).lower()[:30],
        pool=oracle.unique_name(prefix + "p"),
        images=[oracle.unique_name(f"{prefix}{i}") for i in range(n_images)],
    )
    for s in (sa, sb):
        oracle.ceph(s, "osd", "pool", "create", g.pool, "8", "8")
        oracle.rbd(s, "pool", "init", g.pool)
    for img in g.images:
        oracle.rbd(sa, "create", "--size", "8M", f"{g.pool}/{img}")
        data.write_at_site(sa.conf, sa.keyring, g.pool, img, 0)
    return g


def spec(g: Group, **over: Any) -> dict[str, Any]:
    return {
        "name": g.name,
        "sites": ["site-a", "site-b"],
        "primary": "site-a",
        "schedule": {"interval": "1m"},
        "rbd": [{"pool": g.pool, "images": g.images, "mode": "snapshot"}],
        **over,
    }


async def apply(ctl: Ctl, g: Group, **over: Any) -> None:
    applied: GroupApplied = await ctl.req("group.apply", request_id=rid(), spec=spec(g, **over))
    assert applied.op_id
    op = await ctl.wait_op(applied.op_id)
    assert op.state == "succeeded", describe(op)


async def wait_healthy(ctl: Ctl, g: Group, primary: str, timeout: float = 400) -> FleetStatus:
    return await async_wait_for(lambda: group_healthy(ctl, g.name, primary), timeout=timeout, interval=3,
                                what=f"{g.name} healthy on {primary}")


def primaries(lab: LabInfo, g: Group) -> dict[str, list[str]]:
    """image -> the sites where the `rbd` CLI says it is primary (split-brain: two)."""
    out: dict[str, list[str]] = {img: [] for img in g.images}
    for s in lab.sites:
        for img in g.images:
            info = oracle.rbd(s, "info", f"{g.pool}/{img}", json=True)
            if info.get("mirroring", {}).get("primary"):
                out[img].append(s.name)
    return out


def cleanup(lab: LabInfo, g: Group) -> None:
    for s in lab.sites:
        with contextlib.suppress(oracle.CliError):
            oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", g.pool)
        for img in g.images:
            with contextlib.suppress(oracle.CliError):
                oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", g.pool, "--image", img)


async def delete(ctl: Ctl, g: Group) -> None:
    with contextlib.suppress(Exception):
        await ctl.req("group.delete", request_id=rid(), group=g.name, confirm=g.name)


async def lease_holder(nc: NATS) -> LeaseRecord | None:
    kv = await nc.jetstream(timeout=5).key_value(subjects.LEASE_BUCKET)
    try:
        entry = await kv.get(LEASE_KEY)
    except Exception:  # no holder right now
        return None
    return msgspec.json.decode(entry.value, type=LeaseRecord) if entry.value else None


def pid_of(holder: str) -> int:
    return int(holder.split(":")[1])  # "<hostname>:<pid>:<random>"


def applied_twice(op: OpRecord) -> int:
    """Steps the op record shows as run more than once."""
    return sum(1 for s in op.steps if s.attempts > 1)
