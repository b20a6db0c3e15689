"""The controller's KV adapter on a real nats-server: listing is exact, however full the bucket."""

from __future__ import annotations

import asyncio
import uuid

from nats.aio.client import Client as NATS
from nats.js.api import KeyValueConfig

from controller.store import Store
from schemas.group import GroupRecord, GroupSpec, RbdMember
from schemas.ids import GroupName, SiteName


def record(name: str) -> GroupRecord:
    spec = GroupSpec(
        name=GroupName(name),
        sites=[SiteName("site-a"), SiteName("site-b")],
        primary=SiteName("site-a"),
        rbd=[RbdMember(pool="rbd", images=[f"{name}-img"])],
    )
    return GroupRecord(spec=spec, primary=SiteName("site-a"))


async def test_groups_are_all_listed_among_hundreds_of_other_keys_and_deleted_ones_are_not(nc: NATS) -> None:
    js = nc.jetstream(timeout=10)
    kv = await js.create_key_value(KeyValueConfig(bucket=f"t_{uuid.uuid4().hex[:10]}", history=5))
    store = Store(kv)
    try:
        names = [f"g{i:02d}" for i in range(12)]
        for n in names:
            await store.put_group(record(n), None)
        # what a busy controller's bucket holds besides groups: operation records, heartbeats
        await asyncio.gather(*(kv.put(f"op.op-{i:04d}", b"{}") for i in range(600)))
        for i in range(3):  # rewritten groups: history per key
            got = await store.group(names[i])
            assert got is not None
            await store.put_group(got[0], got[1])
        await store.delete_group(names[5])
        listed = sorted(g.spec.name for g in await store.groups())
        assert listed == [n for n in names if n != names[5]]
        assert len(await store._keys("op.")) == 600
    finally:
        await js.delete_key_value(kv._name)
