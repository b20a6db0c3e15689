"""CephFS / daemon-health test fixtures (kept apart from conftest.py, which the RBD tests own).

Test modules bind these names at module level so pytest sees the fixtures:
    fs_agents = fs_fixtures.fs_agents
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers.agent_ctx import Agent

import agent.service.daemons
import agent.service.fs_mirror
import agent.service.fs_schedule  # noqa: F401  (registers the endpoints)
from agent.ceph.cephfs_io import FsMount
from lab.model import LabInfo


@pytest.fixture(scope="session")
def fs_name(lab: LabInfo) -> str:
    return lab.site("site-a").fs_name


@pytest.fixture(scope="session")
async def fs_agents(lab: LabInfo, agents: dict[str, Agent]) -> AsyncIterator[dict[str, Agent]]:
    """The session agents, each given its site's admin socket paths (the future `ctx.asok`)."""
    for s in lab.sites:
        agents[s.name].ctx.asok = {  # type: ignore[attr-defined]
            "rbd-mirror": s.rbd_mirror_asok,
            "cephfs-mirror": s.cephfs_mirror_asok,
        }
    yield agents


def unique_dir(prefix: str = "t") -> str:
    return f"/{prefix}-{uuid.uuid4().hex[:8]}"


class FsIO:
    """Test-side file I/O through libcephfs, in the site agent's executor (never the event loop)."""

    def __init__(self, agent: Agent, fs: str) -> None:
        self.mount = FsMount(agent.ctx.cluster, fs)

    async def write_files(self, path: str, n: int, size: int = 64 * 1024) -> None:
        def run(fs: Any) -> None:
            _mkdirs(fs, path)
            for i in range(n):
                fd = fs.open(f"{path}/f{i}".encode(), "w", 0o644)
                try:
                    fs.write(fd, hashlib.sha256(f"{path}/{i}".encode()).digest() * (size // 32), 0)
                finally:
                    fs.close(fd)

        await self.mount.call(run, what="test write", deadline=60)

    async def tree_sha256(self, path: str) -> dict[str, str]:
        """name -> sha256 of every regular file directly in `path` (works on `.snap/NAME`)."""

        def run(fs: Any) -> dict[str, str]:
            out: dict[str, str] = {}
            d = fs.opendir(path.encode())
            try:
                names = []
                while (e := fs.readdir(d)) is not None:
                    if e.is_file():
                        names.append(e.d_name.decode())
            finally:
                fs.closedir(d)
            for n in names:
                fd = fs.open(f"{path}/{n}".encode(), "r", 0)
                try:
                    h = hashlib.sha256()
                    off = 0
                    while chunk := fs.read(fd, off, 1 << 20):
                        h.update(chunk)
                        off += len(chunk)
                    out[n] = h.hexdigest()
                finally:
                    fs.close(fd)
            return out

        return await self.mount.call(run, what="test hash", deadline=60)

    def close(self) -> None:
        self.mount.close(wait=10.0)  # unmounted before pytest exits (see FsMount.close)


def _mkdirs(fs: Any, path: str) -> None:
    cur = ""
    for part in path.strip("/").split("/"):
        cur += "/" + part
        try:
            fs.mkdir(cur.encode(), 0o755)
        except Exception as exc:  # cephfs.ObjectExists
            if getattr(exc, "errno", None) != 17:
                raise
