"""Self-fencing reads its records from a real nats-server KV without relying on a watcher.

The Fencer's Ceph side is not reached here (`resync` only reads KV and marks a pass due); the
cluster is None. The proof that fencing acts on Ceph is the lab's failback tests."""

from __future__ import annotations

import uuid

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig

from agent.runtime.fence import Fencer
from bus.codec import encode
from schemas.fencing import FenceRecord
from schemas.ids import GroupName, SiteName


def rec(group: str, epoch: int, primary: str) -> bytes:
    return encode(FenceRecord(group=GroupName(group), epoch=epoch, primary=SiteName(primary)))


async def test_resync_reads_every_current_record_and_forgets_deleted_ones(nc: NATS) -> None:
    js = nc.jetstream(timeout=10)
    kv = await js.create_key_value(KeyValueConfig(bucket=f"t_{uuid.uuid4().hex[:10]}", history=5))
    try:
        for i in range(40):
            await kv.put(f"fence.g{i:02d}", rec(f"g{i:02d}", 1, "site-a"))
        await kv.put("fence.g03", rec("g03", 2, "site-b"))  # a failover: the newest value counts
        await kv.delete("fence.g07")
        await kv.put("group.g01", b"{}")  # not a fence record
        fencer = Fencer(SiteName("site-a"), None, lambda e: None)  # type: ignore[arg-type]
        await fencer.resync(kv)
        assert sorted(fencer.records) == [f"g{i:02d}" for i in range(40) if i != 7]
        assert (fencer.records["g03"].epoch, fencer.records["g03"].primary) == (2, "site-b")
        assert fencer._dirty.is_set()  # a pass is due even if no watch message ever arrives

        await kv.delete("fence.g03")
        fencer._dirty.clear()
        await fencer.resync(kv)
        assert "g03" not in fencer.records and fencer._dirty.is_set()
    finally:
        await js.delete_key_value(kv._name)
