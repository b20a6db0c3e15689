"""A planned CephFS failover through the agents, over NATS: directories mirrored a -> b get a final
snapshot (`fs.snapshot.create`), the mirroring is reversed to b -> a, and the old primary a is
prepared (`fs.dir.prepare`, forge and fresh) so that b's next snapshot arrives on a intact.

Pacific mirrors a file system pair in ONE direction, so reversing one directory reverses the
lab's whole `cephfs` peering, which every test shares. The module fixture `reversed_fs` reverses
it once for both methods and puts it back to a -> b in a finally block (and first repairs a
reversal an interrupted earlier run left behind).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import fs_fixtures
import pytest
from fs_fixtures import FsIO, unique_dir
from helpers.bus_agent import BusAgent
from helpers.wait import async_wait_for

from schemas.errors import ConfirmationRequired, Conflict, NotFound
from schemas.fs import FsSnapshotInfo

pytestmark = pytest.mark.system
log = logging.getLogger(__name__)

# the fixtures live in fs_fixtures.py (conftest.py is shared with the RBD tests)
fs_agents = fs_fixtures.fs_agents
fs_name = fs_fixtures.fs_name

PREFIX = "prep"  # every directory of this module is /prep-<hex>
SYNC_TIMEOUT = 120.0


def _rid() -> str:
    return f"test-{os.urandom(8).hex()}"


async def _peer_to(agent: BusAgent, fs: str, site: str) -> str | None:
    peers = await agent.req("fs.peer.list", fs=fs)
    return next((p.uuid for p in peers.peers if p.site_name == site), None)


async def _peer(src: BusAgent, dst: BusAgent, fs: str) -> None:
    """Mirror `fs` src -> dst: sealed bootstrap created on the receiving site, imported on the sender."""
    sealed = await dst.req(
        "fs.peer.bootstrap.create",
        request_id=_rid(),
        fs=fs,
        recipient_public_key=src.identity.public_key,
        recipient_site=src.site,
    )
    await src.req(
        "fs.peer.bootstrap.import",
        request_id=_rid(),
        fs=fs,
        sealed=sealed.sealed,
        sender_public_key=dst.identity.public_key,
    )


async def _unpeer(src: BusAgent, fs: str, dst_site: str) -> None:
    uuid = await _peer_to(src, fs, dst_site)
    if uuid:
        await src.req("fs.peer.remove", request_id=_rid(), fs=fs, peer=uuid, confirm=uuid)


async def _restore_a_to_b(a: BusAgent, b: BusAgent, fs: str) -> None:
    """Back to the lab's direction, from whatever state a reversal reached (idempotent)."""
    listed = await b.req("fs.dir.list", fs=fs)
    for d in listed.dirs:
        if d.path.startswith(f"/{PREFIX}-"):
            await b.req("fs.dir.remove", request_id=_rid(), fs=fs, path=d.path)
    await _unpeer(b, fs, "site-a")
    if not await _peer_to(a, fs, "site-b"):
        await _peer(a, b, fs)
    assert await _peer_to(a, fs, "site-b") and not await _peer_to(b, fs, "site-a")


async def _unlisted(agent: BusAgent, fs: str, dirs: list[str]) -> bool:
    return not {x.path for x in (await agent.req("fs.dir.list", fs=fs)).dirs} & set(dirs)


def _names(snaps: list[FsSnapshotInfo]) -> list[str]:
    return [s.name for s in snaps]


async def _snaps(agent: BusAgent, fs: str, path: str) -> list[FsSnapshotInfo]:
    return list((await agent.req("fs.snapshot.list", fs=fs, path=path)).snapshots)


async def _has_snap(agent: BusAgent, fs: str, path: str, name: str) -> FsSnapshotInfo | None:
    return next((s for s in await _snaps(agent, fs, path) if s.name == name), None)


async def _write(io: FsIO, path: str, names: list[str], size: int = 48 * 1024) -> None:
    """Random content (a rerun never rewrites the same bytes), through libcephfs, in the executor."""

    def run(fs: Any) -> None:
        for n in names:
            fd = fs.open(f"{path}/{n}".encode(), "w", 0o644)
            try:
                fs.write(fd, os.urandom(size), 0)
            finally:
                fs.close(fd)

    await io.mount.call(run, what="test write", deadline=60)


@dataclass
class Reversed:
    a: BusAgent
    b: BusAgent
    fs: str
    io_a: FsIO
    io_b: FsIO
    forge_dir: str
    fresh_dir: str
    final: dict[str, FsSnapshotInfo]  # dir -> the final snapshot as the NEW primary (b) has it
    want: dict[str, dict[str, str]]  # dir -> file -> sha256 of the final snapshot on a


@pytest.fixture(scope="module")
async def reversed_fs(fs_agents: dict[str, BusAgent], fs_name: str) -> AsyncIterator[Reversed]:
    a, b, fs = fs_agents["site-a"], fs_agents["site-b"], fs_name
    io_a, io_b = FsIO(a, fs), FsIO(b, fs)  # type: ignore[arg-type]  (a BusAgent has .ctx.cluster too)
    dirs = [unique_dir(f"{PREFIX}-forge"), unique_dir(f"{PREFIX}-fresh")]
    try:
        if await _peer_to(b, fs, "site-a"):  # an earlier run stopped while reversed
            await _restore_a_to_b(a, b, fs)
        assert await _peer_to(a, fs, "site-b"), "the lab should mirror cephfs site-a -> site-b"
        want: dict[str, dict[str, str]] = {}
        final: dict[str, FsSnapshotInfo] = {}
        for d in dirs:  # a is primary: files, s1, more files, the final snapshot
            await io_a.write_files(d, 3)
            assert (await a.req("fs.dir.add", request_id=_rid(), fs=fs, path=d)).changed
            s1 = await a.req("fs.snapshot.create", request_id=_rid(), fs=fs, path=d, name="s1")
            assert s1.changed and s1.id and s1.created and s1.metadata == {}
            await _write(io_a, d, ["g0", "g1"])
            f = await a.req("fs.snapshot.create", request_id=_rid(), fs=fs, path=d, name="final")
            assert f.changed and f.id > s1.id
            again = await a.req("fs.snapshot.create", request_id=_rid(), fs=fs, path=d, name="final")
            assert (again.changed, again.id, again.created) == (False, f.id, f.created)
            want[d] = await io_a.tree_sha256(f"{d}/.snap/final")
            assert len(want[d]) == 5
        t0 = time.monotonic()
        for d in dirs:
            final[d] = await async_wait_for(
                lambda d=d: _has_snap(b, fs, d, "final"),
                timeout=SYNC_TIMEOUT,
                interval=0.5,
                what=f"{d}@final on site-b",
            )
            assert final[d].metadata.get("primary_snap_id"), final[d]
            assert await io_b.tree_sha256(f"{d}/.snap/final") == want[d]
            assert _names(await _snaps(a, fs, d)) == ["s1", "final"]

        log.info("the final snapshots reached site-b within %.1fs", time.monotonic() - t0)

        # reverse: a stops mirroring the dirs and drops its peer; b mirrors to a
        t0 = time.monotonic()
        for d in dirs:
            assert (await a.req("fs.dir.remove", request_id=_rid(), fs=fs, path=d)).changed
        await _unpeer(a, fs, "site-b")
        await b.req("fs.mirror.enable", request_id=_rid(), fs=fs)
        await _peer(b, a, fs)
        assert await _peer_to(b, fs, "site-a") and not await _peer_to(a, fs, "site-b")
        log.info("cephfs peering reversed to site-b -> site-a in %.1fs", time.monotonic() - t0)

        t0 = time.monotonic()
        await async_wait_for(
            lambda: _unlisted(a, fs, dirs), timeout=60, interval=0.5, what="the dirs gone from a's list"
        )
        log.info("the mgr of site-a unlisted the removed dirs %.1fs later", time.monotonic() - t0)
        yield Reversed(a, b, fs, io_a, io_b, dirs[0], dirs[1], final, want)
    finally:
        try:
            t0 = time.monotonic()
            for d in dirs:  # a test that failed half-way may have left them mirrored from a
                await a.req("fs.dir.remove", request_id=_rid(), fs=fs, path=d)
            await _restore_a_to_b(a, b, fs)
            log.info("cephfs peering back to site-a -> site-b in %.1fs", time.monotonic() - t0)
        finally:
            io_a.close()
            io_b.close()


async def _after_on_a(r: Reversed, d: str, files: list[str]) -> tuple[FsSnapshotInfo, float]:
    """New files and a snapshot `after` on b (now primary); wait for it on a. -> (b's snapshot, seconds)."""
    await _write(r.io_b, d, files)
    after = await r.b.req("fs.snapshot.create", request_id=_rid(), fs=r.fs, path=d, name="after")
    assert after.changed and after.metadata == {}
    t0 = time.monotonic()
    got = await async_wait_for(
        lambda: _has_snap(r.a, r.fs, d, "after"), timeout=SYNC_TIMEOUT, interval=0.5, what=f"{d}@after on a"
    )
    took = time.monotonic() - t0
    assert got.metadata == {"primary_snap_id": str(after.id)}
    want = await r.io_b.tree_sha256(f"{d}/.snap/after")
    assert len(want) == 5 + len(files)
    assert await r.io_a.tree_sha256(f"{d}/.snap/after") == want
    assert await r.io_a.tree_sha256(d) == want  # the live directory too
    return got, took


async def test_forge(reversed_fs: Reversed) -> None:
    r = reversed_fs
    a, b, fs, d = r.a, r.b, r.fs, r.forge_dir
    psid = r.final[d].id
    assert psid is not None
    forge: dict[str, Any] = {"fs": fs, "path": d, "method": "forge", "snapshot": "final"}
    forge["primary_snap_id"] = psid

    with pytest.raises(ConfirmationRequired):
        await a.req("fs.dir.prepare", request_id=_rid(), **forge)
    with pytest.raises(Conflict, match="not the newest"):
        await a.req("fs.dir.prepare", request_id=_rid(), **{**forge, "snapshot": "s1"}, confirm=f"{fs}:{d}")
    with pytest.raises(NotFound):
        none = f"{d}-none"
        await a.req("fs.dir.prepare", request_id=_rid(), **{**forge, "path": none}, confirm=f"{fs}:{none}")
    assert _names(await _snaps(a, fs, d)) == ["s1", "final"]  # refused: nothing changed

    t0 = time.monotonic()
    done = await a.req("fs.dir.prepare", request_id=_rid(), **forge, confirm=f"{fs}:{d}")
    prepared_in = time.monotonic() - t0
    assert done.changed and "s1, final" in done.message, done
    snaps = await _snaps(a, fs, d)
    assert [(s.name, s.metadata) for s in snaps] == [("final", {"primary_snap_id": str(psid)})]
    assert await r.io_a.tree_sha256(f"{d}/.snap/final") == r.want[d]
    again = await a.req("fs.dir.prepare", request_id=_rid(), **forge, confirm=f"{fs}:{d}")
    assert again.changed is False
    # a is now b's mirror target and d holds mirrored snapshots: a local snapshot is refused
    with pytest.raises(Conflict, match="receives snapshots by mirroring"):
        await a.req("fs.snapshot.create", request_id=_rid(), fs=fs, path=d, name="local")

    t0 = time.monotonic()
    assert (await b.req("fs.dir.add", request_id=_rid(), fs=fs, path=d)).changed
    _, synced_in = await _after_on_a(r, d, ["n0", "n1", "n2"])
    assert _names(await _snaps(a, fs, d)) == ["final", "after"]
    log.info(
        "forge: prepare %.2fs; b's next snapshot on a %.1fs after it was taken (%.1fs after dir.add)",
        prepared_in,
        synced_in,
        time.monotonic() - t0,
    )


async def _prepare_fresh(agent: BusAgent, fs: str, path: str) -> Any:
    return await agent.req(
        "fs.dir.prepare", request_id=_rid(), fs=fs, path=path, method="fresh", confirm=f"{fs}:{path}"
    )


async def test_fresh(reversed_fs: Reversed) -> None:
    r = reversed_fs
    a, b, fs, d = r.a, r.b, r.fs, r.fresh_dir
    fresh = {"fs": fs, "path": d, "method": "fresh", "confirm": f"{fs}:{d}"}
    suffix = os.urandom(4).hex()
    aside = f"{d}.cephdr-{suffix}"

    # while a mirrors a directory out (here: no peer, still listed), it cannot be prepared
    out = unique_dir(f"{PREFIX}-out")
    assert (await a.req("fs.dir.add", request_id=_rid(), fs=fs, path=out)).changed
    try:
        for p in (out, f"{out}/child"):
            with pytest.raises(Conflict, match=r"fs\.dir\.remove"):
                await _prepare_fresh(a, fs, p)
    finally:
        assert (await a.req("fs.dir.remove", request_id=_rid(), fs=fs, path=out)).changed
    # the mgr keeps a removed directory listed while it unmaps it (a few seconds)
    await async_wait_for(
        lambda: _unlisted(a, fs, [out]), timeout=60, interval=0.5, what=f"{out} gone from a's list"
    )
    gone = await _prepare_fresh(a, fs, out)
    assert gone.changed is False and "does not exist" in gone.message

    t0 = time.monotonic()
    done = await a.req("fs.dir.prepare", request_id=_rid(), **fresh, aside_suffix=suffix)
    prepared_in = time.monotonic() - t0
    assert done.changed and aside in done.message and "2 snapshots" in done.message, done
    with pytest.raises(NotFound):
        await a.req("fs.snapshot.list", fs=fs, path=d)
    assert _names(await _snaps(a, fs, aside)) == ["s1", "final"]  # kept, with the data
    assert await r.io_a.tree_sha256(f"{aside}/.snap/final") == r.want[d]
    again = await a.req("fs.dir.prepare", request_id=_rid(), **fresh, aside_suffix=suffix)
    assert again.changed is False

    t0 = time.monotonic()
    assert (await b.req("fs.dir.add", request_id=_rid(), fs=fs, path=d)).changed
    _, synced_in = await _after_on_a(r, d, ["m0", "m1"])
    # a had nothing: b replayed every snapshot it has, oldest first
    assert _names(await _snaps(a, fs, d)) == _names(await _snaps(b, fs, d)) == ["s1", "final", "after"]
    log.info(
        "fresh: prepare %.2fs; b's next snapshot on a %.1fs after it was taken (%.1fs after dir.add)",
        prepared_in,
        synced_in,
        time.monotonic() - t0,
    )


async def test_snapshot_requests_on_missing_things(fs_agents: dict[str, BusAgent], fs_name: str) -> None:
    a = fs_agents["site-a"]
    d = unique_dir(PREFIX)
    with pytest.raises(NotFound) as e:
        await a.req("fs.snapshot.list", fs=fs_name, path=d)
    assert e.value.where == "$.path"
    with pytest.raises(NotFound) as e:
        await a.req("fs.snapshot.create", request_id=_rid(), fs=fs_name, path=d, name="s")
    assert e.value.where == "$.path"
    with pytest.raises(NotFound) as e:
        await a.req("fs.snapshot.list", fs="nosuchfs", path=d)
    assert e.value.where == "$.fs"
