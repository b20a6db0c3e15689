"""CephFS mirroring and snap-schedule endpoints against the real two-site lab (issue 3, seed 000).

The lab peers cephfs site-a -> site-b at session start; these tests leave it that way.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import fs_fixtures
import msgspec
import pytest
from fs_fixtures import FsIO, unique_dir
from helpers.agent_ctx import Agent
from helpers.oracle import ceph
from helpers.wait import async_wait_for

from bus.codec import decode_request
from lab.model import LabInfo
from schemas.common import Done
from schemas.errors import ConfirmationRequired, Conflict, InvalidRequest, NotFound
from schemas.fs import AddFsSchedule

pytestmark = pytest.mark.system

# the fixtures live in fs_fixtures.py (conftest.py is shared with the RBD tests)
fs_agents = fs_fixtures.fs_agents
fs_name = fs_fixtures.fs_name


async def _peer_to(agent: Agent, fs: str, site: str) -> str | None:
    peers = await agent.req("fs.peer.list", fs=fs)
    return next((p.uuid for p in peers.peers if p.site_name == site), None)


def _peer_keys(lab: LabInfo) -> list[str]:
    """The cephx keys a CephFS bootstrap token can carry (client.mirror_remote of each site)."""
    keys = []
    for s in lab.sites:
        try:
            keys.append(str(ceph(s, "auth", "get-key", "client.mirror_remote")).strip())
        except Exception:  # not created on that site (yet)
            continue
    return [k for k in keys if k]


def _no_secret(obj: object, lab: LabInfo) -> None:
    text = msgspec.json.encode(obj).decode() if isinstance(obj, msgspec.Struct) else str(obj)
    keys = _peer_keys(lab)
    assert keys, "no client.mirror_remote key found to check against"
    for k in keys:
        assert k not in text, "a cephx key leaked into a reply or error"


async def test_seed000_workflow(
    fs_agents: dict[str, Agent], fs_name: str, rid: Callable[[], str], lab: LabInfo
) -> None:
    a, b = fs_agents["site-a"], fs_agents["site-b"]
    fs = fs_name

    # enable on both sites (a is already enabled by the lab's peering: idempotent)
    for ag in (a, b):
        r = await ag.req("fs.mirror.enable", request_id=rid(), fs=fs)
        assert isinstance(r, Done)
    again = await a.req("fs.mirror.enable", request_id=rid(), fs=fs)
    assert again.changed is False

    # one direction only: with a -> b in place, importing a's token on b is a clear conflict
    if not await _peer_to(a, fs, "site-b"):  # a previous run stopped half-way: peer as the lab does
        await _peer(b, a, fs, rid, lab)
    sealed_a = await a.req(
        "fs.peer.bootstrap.create", request_id=rid(), fs=fs, recipient_public_key=b.identity.public_key
    )
    _no_secret(sealed_a, lab)
    with pytest.raises(Conflict, match="one direction") as e:
        await b.req(
            "fs.peer.bootstrap.import",
            request_id=rid(),
            fs=fs,
            sealed=sealed_a.sealed,
            sender_public_key=a.identity.public_key,
        )
    assert "fs.peer.remove" in e.value.message
    _no_secret(e.value, lab)
    _no_secret(e.value.body(), lab)
    # the blob does carry the key: only the recipient can open it
    token = b.identity.open(sealed_a.sealed, a.identity.public_key)
    assert json.loads(base64.b64decode(token))["key"] in _peer_keys(lab)
    assert (await b.req("fs.peer.list", fs=fs)).peers == []

    # re-peer a -> b from scratch through the agents: remove (confirmed), sealed create on b, import on a
    old = await _peer_to(a, fs, "site-b")
    assert old
    with pytest.raises(ConfirmationRequired):
        await a.req("fs.peer.remove", request_id=rid(), fs=fs, peer=old)
    assert await _peer_to(a, fs, "site-b") == old  # unconfirmed: nothing changed
    assert (await a.req("fs.peer.remove", request_id=rid(), fs=fs, peer=old, confirm=old)).changed
    assert not (await a.req("fs.peer.remove", request_id=rid(), fs=fs, peer=old, confirm=old)).changed
    sealed_b = await _peer(b, a, fs, rid, lab)
    again = await a.req(
        "fs.peer.bootstrap.import",
        request_id=rid(),
        fs=fs,
        sealed=sealed_b.sealed,
        sender_public_key=b.identity.public_key,
    )
    assert again.changed is False
    peers = await a.req("fs.peer.list", fs=fs)
    _no_secret(peers, lab)
    assert [p.site_name for p in peers.peers] == ["site-b"] and peers.peers[0].mon_host
    # a blob sealed by someone else is refused before Ceph sees it
    with pytest.raises(InvalidRequest, match="authentication"):
        await a.req(
            "fs.peer.bootstrap.import",
            request_id=rid(),
            fs=fs,
            sealed=sealed_b.sealed,
            sender_public_key=a.identity.public_key,
        )

    # directory (need not exist yet), schedule + retention
    d = unique_dir("seed")
    assert (await a.req("fs.dir.add", request_id=rid(), fs=fs, path=d)).changed
    assert not (await a.req("fs.dir.add", request_id=rid(), fs=fs, path=d)).changed
    listed = await a.req("fs.dir.list", fs=fs)
    assert listed.enabled and d in [x.path for x in listed.dirs]
    with pytest.raises(Conflict, match="tracked path"):
        await a.req("fs.dir.add", request_id=rid(), fs=fs, path=f"{d}/child")

    assert (await a.req("fs.schedule.add", request_id=rid(), fs=fs, path=d, schedule="1h")).changed
    assert not (await a.req("fs.schedule.add", request_id=rid(), fs=fs, path=d, schedule="1h")).changed
    assert (await a.req("fs.retention.add", request_id=rid(), fs=fs, path=d, spec="h", count=24)).changed
    assert not (await a.req("fs.retention.add", request_id=rid(), fs=fs, path=d, spec="24h")).changed
    with pytest.raises(Conflict, match="remove it first"):
        await a.req("fs.retention.add", request_id=rid(), fs=fs, path=d, spec="12h")
    st = await a.req("fs.schedule.status", fs=fs, path=d)
    assert len(st.schedules) == 1
    s = st.schedules[0]
    assert (s.path, s.schedule, s.retention, s.active) == (d, "1h", {"h": 24}, True)
    assert s.start is not None and s.created is not None

    # data: files + a snapshot on a arrive on b, and cephfs-mirror reports the dir synced
    io_a, io_b = FsIO(a, fs), FsIO(b, fs)
    try:
        await io_a.write_files(d, 4)
        await io_a.mount.make_snapshot(d, "snap1")
        want = await io_a.tree_sha256(f"{d}/.snap/snap1")
        assert len(want) == 4
        got = await async_wait_for(
            lambda: _same(io_b, f"{d}/.snap/snap1", want), timeout=90, interval=1, what=f"snap1 of {d} on b"
        )
        assert got
        snaps_b = await io_b.mount.snapshots(d)
        assert [x.name for x in snaps_b] == ["snap1"] and snaps_b[0].metadata.get("primary_snap_id")

        async def synced() -> bool:
            h = await a.req("daemon.status")
            mine = [x for x in h.dirs if x.path == d]
            return (
                bool(mine)
                and mine[0].state.value == "idle"
                and mine[0].last_synced_snap is not None
                and mine[0].last_synced_snap.name == "snap1"
            )

        await async_wait_for(synced, timeout=60, interval=1, what=f"peer status of {d} idle at snap1")
    finally:
        io_a.close()
        io_b.close()

    # clean up through the endpoints (idempotent the second time)
    assert (await a.req("fs.retention.remove", request_id=rid(), fs=fs, path=d, spec="24h")).changed
    assert not (await a.req("fs.retention.remove", request_id=rid(), fs=fs, path=d, spec="24h")).changed
    assert (await a.req("fs.schedule.remove", request_id=rid(), fs=fs, path=d, schedule="1h")).changed
    assert not (await a.req("fs.schedule.remove", request_id=rid(), fs=fs, path=d)).changed
    assert (await a.req("fs.schedule.status", fs=fs, path=d)).schedules == []
    assert (await a.req("fs.dir.remove", request_id=rid(), fs=fs, path=d)).changed
    assert not (await a.req("fs.dir.remove", request_id=rid(), fs=fs, path=d)).changed


async def _peer(dst: Agent, src: Agent, fs: str, rid: Callable[[], str], lab: LabInfo) -> Any:
    """Sealed bootstrap create on the receiving site `dst`, import on the sending site `src`."""
    sealed = await dst.req(
        "fs.peer.bootstrap.create",
        request_id=rid(),
        fs=fs,
        recipient_public_key=src.identity.public_key,
        recipient_site=str(src.ctx.site),
    )
    _no_secret(sealed, lab)
    assert sealed.sender_site == dst.ctx.site and sealed.sender_public_key == dst.identity.public_key
    imported = await src.req(
        "fs.peer.bootstrap.import",
        request_id=rid(),
        fs=fs,
        sealed=sealed.sealed,
        sender_public_key=dst.identity.public_key,
    )
    assert imported.changed, imported
    return sealed


async def _same(io: FsIO, path: str, want: dict[str, str]) -> bool:
    try:
        return await io.tree_sha256(path) == want
    except NotFound:
        return False


async def test_enable_disable_on_unpeered_site(
    fs_agents: dict[str, Agent], fs_name: str, rid: Callable[[], str]
) -> None:
    b = fs_agents["site-b"]
    if (await b.req("fs.peer.list", fs=fs_name)).peers:
        pytest.skip("site-b has peers in this lab")
    await b.req("fs.mirror.enable", request_id=rid(), fs=fs_name)
    with pytest.raises(ConfirmationRequired):
        await b.req("fs.mirror.disable", request_id=rid(), fs=fs_name)
    assert (await b.req("fs.peer.list", fs=fs_name)).enabled  # unconfirmed: still on
    assert (await b.req("fs.mirror.disable", request_id=rid(), fs=fs_name, confirm=fs_name)).changed
    assert not (await b.req("fs.mirror.disable", request_id=rid(), fs=fs_name, confirm=fs_name)).changed
    listed = await b.req("fs.dir.list", fs=fs_name)
    assert listed.enabled is False and listed.dirs == []
    with pytest.raises(Conflict, match=r"fs\.mirror\.enable"):
        await b.req("fs.dir.add", request_id=rid(), fs=fs_name, path=unique_dir())
    assert (await b.req("fs.mirror.enable", request_id=rid(), fs=fs_name)).changed


async def test_bad_requests_change_nothing(
    fs_agents: dict[str, Agent], fs_name: str, rid: Callable[[], str]
) -> None:
    a = fs_agents["site-a"]
    before = await a.req("fs.dir.list", fs=fs_name)
    d = unique_dir("bad")
    with pytest.raises(NotFound, match="does not exist on this site") as e:
        await a.req("fs.dir.add", request_id=rid(), fs="nosuchfs", path=d)
    assert e.value.where == "$.fs"
    with pytest.raises(NotFound):
        await a.req("fs.schedule.add", request_id=rid(), fs="nosuchfs", path=d, schedule="1h")
    with pytest.raises(NotFound):
        await a.req("fs.mirror.enable", request_id=rid(), fs="nosuchfs")
    # the wrong minute letter never reaches Ceph: refused at decode
    body = msgspec.json.encode({"request_id": rid(), "fs": fs_name, "path": d, "schedule": "5m"})
    with pytest.raises(InvalidRequest, match='capital "M"'):
        decode_request(body, AddFsSchedule)
    with pytest.raises(NotFound, match="add a schedule first"):
        await a.req("fs.retention.add", request_id=rid(), fs=fs_name, path=d, spec="7d")
    peer = await _peer_to(a, fs_name, "site-b")
    assert peer
    with pytest.raises(ConfirmationRequired):
        await a.req("fs.peer.remove", request_id=rid(), fs=fs_name, peer=peer, confirm="site-b")
    assert await _peer_to(a, fs_name, "site-b") == peer
    assert (await a.req("fs.schedule.status", fs=fs_name, path=d)).schedules == []
    assert await a.req("fs.dir.list", fs=fs_name) == before


async def test_minute_schedule(fs_agents: dict[str, Agent], fs_name: str, rid: Callable[[], str]) -> None:
    """Pacific minutes are `M` (the lab sets allow_m_granularity)."""
    a = fs_agents["site-a"]
    d = unique_dir("min")
    assert (
        await a.req(
            "fs.schedule.add",
            request_id=rid(),
            fs=fs_name,
            path=d,
            schedule="15M",
            start="2026-01-01T00:00:00",
        )
    ).changed
    st = (await a.req("fs.schedule.status", fs=fs_name, path=d)).schedules
    assert [s.schedule for s in st] == ["15M"] and st[0].start == 1767225600.0
    assert (
        await a.req(
            "fs.schedule.remove",
            request_id=rid(),
            fs=fs_name,
            path=d,
            schedule="15M",
            start="2026-01-01T00:00:00",
        )
    ).changed
