"""The drill's hands on the lab: its pool and images, the writer process, and putting the lab back.

Ceph is reached here through the lab's `ceph`/`rbd` CLIs (lab.site.Site, every call with a
timeout), as the tests do: the drill plays the application and the operator, not the product.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lab import drill_data
from lab.drill_data import Acked
from lab.site import Site

log = logging.getLogger(__name__)

MIB = 1024 * 1024
CLI_TIMEOUT = 60.0


def create_pool(site: Site, pool: str) -> None:
    site.ceph("osd", "pool", "create", pool, "8", "8", timeout=CLI_TIMEOUT)
    site.rbd("pool", "init", pool, timeout=CLI_TIMEOUT)


def create_images(site: Site, pool: str, names: list[str], size_mib: int, mode: str) -> None:
    # journal mode: the controller turns journaling on; the test suite's images look the same
    features = ["--image-feature", "layering,exclusive-lock"] if mode == "journal" else []
    for name in names:
        site.rbd("create", "--size", f"{size_mib}M", *features, f"{pool}/{name}", timeout=CLI_TIMEOUT)


def scheduled_images(site: Site, pool: str) -> set[str]:
    """Images rbd_support has queued for mirror snapshots (it notices new ones within a minute)."""
    out = json.loads(site.rbd("mirror", "snapshot", "schedule", "status", "--pool", pool,
                              "--format", "json", timeout=CLI_TIMEOUT) or "[]")
    return {e["image"].split("/")[-1] for e in out if e.get("image")}


def remove_schedules(site: Site, pool: str) -> int:
    """Every mirror-snapshot schedule in the pool, image and pool level; how many were removed.

    Before the pool is deleted: rbd_support stops scheduling in every pool when a pool it has
    schedules for disappears (README, "Ceph behaviour worth knowing")."""
    out = json.loads(site.rbd("mirror", "snapshot", "schedule", "ls", "--pool", pool, "--recursive",
                              "--format", "json", timeout=CLI_TIMEOUT) or "[]")
    for e in out:
        where = ["--image", e["image"].split("/")[-1]] if e.get("image") else []
        # without an interval, every schedule at that level goes
        site.rbd("mirror", "snapshot", "schedule", "rm", "--pool", pool, *where, timeout=CLI_TIMEOUT)
    return len(out)


def pool_exists(site: Site, pool: str) -> bool:
    return pool in json.loads(site.ceph("osd", "pool", "ls", "--format", "json", timeout=CLI_TIMEOUT))


def delete_pool(site: Site, pool: str) -> None:
    if pool_exists(site, pool):
        site.ceph("osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it", timeout=CLI_TIMEOUT)


@dataclass
class Writer:
    """The writer process (lab/drill_writer.py) and what it acknowledged, per image index."""

    proc: asyncio.subprocess.Process
    acks: dict[int, Acked] = field(default_factory=dict)
    stops: dict[int, str] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    started_at: float = 0.0

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev["ev"] == "ack":
                self.acks[ev["i"]] = Acked(last_k=ev["k"], last_t=ev["t"])
            elif ev["ev"] == "stop":
                self.stops[ev["i"]] = ev["error"]
            elif ev["ev"] == "ready":
                self.ready.set()
            elif ev["ev"] == "done":
                self.done.set()
        # killed or crashed: nothing more will come
        self.done.set()
        self.ready.set()

    def kill(self) -> None:
        """kill -9: the application dies with its site."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)

    async def finish(self, timeout: float) -> None:
        """Ask it to stop (stdin closes), kill it if it has not within `timeout`; all acks read."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.kill()
            await asyncio.wait_for(self.proc.wait(), 10)
        if self.reader is not None:
            await asyncio.wait_for(self.reader, 10)


async def start_writer(
    conf: str, keyring: str, pool: str, images: list[str], run_id: bytes, *,
    max_records: int, log_file: Path, period: float, timeout: float,
) -> Writer:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lab.drill_writer", "--conf", conf, "--keyring", keyring,
            "--pool", pool, "--images", ",".join(images), "--run-id", run_id.hex(),
            "--period", str(period), "--max-records", str(max_records),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    w = Writer(proc=proc)
    w.reader = asyncio.create_task(w._read())
    await asyncio.wait_for(w.ready.wait(), timeout)
    if proc.returncode is not None or w.done.is_set():
        raise RuntimeError(f"the drill writer exited at start (exit {proc.returncode}); see {log_file}")
    return w


def acked_total(w: Writer) -> int:
    return sum(a.last_k + 1 for a in w.acks.values())


def record_area(size_mib: int) -> int:
    """Records fit below the last MiB; the survivor's write probe goes in the last block."""
    return (size_mib - 1) * MIB // drill_data.BLOCK
