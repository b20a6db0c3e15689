"""The benchmarks' hands on the lab: its NATS (as a lab role), the `rbd` CLI of a site, librbd for
fast set-up, and polling with a deadline.

The CLI runs exactly as an operator's script would: a fresh `rbd` process per command with
CEPH_CONF naming the site's ceph.conf. Every CLI call and every bus request has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client as NATS

from bus.client import request
from bus.connect import PermissionLog, connect
from lab import model
from schemas.errors import DeadlineExceeded, Unavailable

T = TypeVar("T")
A, B = "site-a", "site-b"
CLI_TIMEOUT = 120.0
REQ_TIMEOUT = 30.0


class CliFailed(RuntimeError):
    def __init__(self, argv: list[str], code: int, err: str) -> None:
        super().__init__(f"{' '.join(argv)} exited {code}: {err.strip()[-400:]}")
        self.code = code
        self.err = err


def rid(prefix: str = "bench") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


@dataclass
class Lab:
    info: model.LabInfo
    nc: NATS
    role: str
    perms: PermissionLog

    def conf(self, site: str) -> str:
        return self.info.site(site).conf

    async def req(self, subject: str, body: dict[str, Any], reply: type[T] | None = None,
                  timeout: float = REQ_TIMEOUT) -> Any:
        return await request(self.nc, subject, body, reply=reply, timeout=timeout, permissions=self.perms)

    async def agent(self, site: str, endpoint: str, body: dict[str, Any], reply: type[T] | None = None,
                    timeout: float = REQ_TIMEOUT) -> Any:
        return await self.req(f"cephdr.agent.{site}.{endpoint}", body, reply, timeout)

    async def ctl(self, endpoint: str, body: dict[str, Any], reply: type[T] | None = None,
                  timeout: float = REQ_TIMEOUT) -> Any:
        return await self.req(f"cephdr.ctl.{endpoint}", body, reply, timeout)

    async def rbd(self, site: str, *args: str, timeout: float = CLI_TIMEOUT) -> str:
        """One `rbd` process with CEPH_CONF of `site`; its stdout. Raises CliFailed on non-zero."""
        return await self.cli(site, "rbd", *args, timeout=timeout)

    async def ceph(self, site: str, *args: str, timeout: float = CLI_TIMEOUT) -> str:
        return await self.cli(site, "ceph", *args, timeout=timeout)

    async def cli(self, site: str, *argv: str, timeout: float = CLI_TIMEOUT,
                  stdin: bytes | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "CEPH_CONF": self.conf(site)},
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise DeadlineExceeded(f"{' '.join(argv)}: no answer in {timeout:g}s", where=argv[0]) from None
        if proc.returncode != 0:
            raise CliFailed(list(argv), proc.returncode or -1, err.decode(errors="replace"))
        return out.decode()

    async def pool_exists(self, site: str, pool: str) -> bool:
        return pool in json.loads(await self.ceph(site, "osd", "pool", "ls", "--format", "json"))

    async def create_pool(self, site: str, pool: str, mirror_mode: str | None = None) -> None:
        if not await self.pool_exists(site, pool):
            await self.ceph(site, "osd", "pool", "create", pool, "8", "8")
            await self.rbd(site, "pool", "init", pool)
        if mirror_mode:
            await self.rbd(site, "mirror", "pool", "enable", pool, mirror_mode)

    async def delete_pool(self, site: str, pool: str) -> None:
        if await self.pool_exists(site, pool):
            await self.ceph(site, "osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it")

    async def peer_pool(self, pool: str) -> None:
        """Two-way peering of `pool` between the lab's sites (bootstrap create on A, import on B)."""
        info = await self.rbd_json(B, "mirror", "pool", "info", pool)
        if any(p.get("site_name") == A for p in info.get("peers", [])):
            return
        token = await self.rbd(A, "mirror", "pool", "peer", "bootstrap", "create", "--site-name", A, pool)
        await self.cli(B, "rbd", "mirror", "pool", "peer", "bootstrap", "import", "--site-name", B,
                       "--direction", "rx-tx", pool, "-", stdin=token.encode())

    async def rbd_json(self, site: str, *args: str, timeout: float = CLI_TIMEOUT) -> Any:
        return json.loads(await self.rbd(site, *args, "--format", "json", timeout=timeout) or "null")

    async def close(self) -> None:
        await self.nc.close()


async def open_lab(lab_dir: str | Path, role: str = "operator") -> Lab:
    try:
        info = model.load(lab_dir)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"no lab at {lab_dir}: {exc} (make bench brings one up)",
                          where=str(lab_dir)) from None
    perms = PermissionLog()
    nc = await connect(info.nats_url, name=f"cephdr-bench-{role}", credentials=info.creds(role),
                       permissions=perms, connect_timeout=5, forever=False)
    return Lab(info=info, nc=nc, role=role, perms=perms)


async def timed(fn: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """Wall seconds of one awaited call, and its result."""
    t = time.perf_counter()
    out = await fn()
    return time.perf_counter() - t, out


async def poll(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str,
               interval: float = 1.0) -> T:
    """Call `probe` until it returns something truthy; DeadlineExceeded naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            got = await probe()
            if got:
                return got
            last = got
        except Exception as exc:  # a transient refusal while Ceph settles counts as "not yet"
            last = exc
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"[:600],
                                   where=what)
        await asyncio.sleep(interval)
