"""The controller's state in KV `cephdr_state` (adapter): groups, operations, fencing records,
and the agents' heartbeats and status as they last wrote them. And the leader lease in KV
`cephdr_leases` (`LeaseStore`; what the calls mean: controller/lease.py).

    group.<name>   GroupRecord      written by the controller (compare-and-set on its revision)
    op.<op_id>     OpRecord         written after every step of an operation
    fence.<group>  FenceRecord      the epoch agents fence against
    auto.pause     Pause            automatic failover/failback held fleet-wide (absent: not held)
    site.<site>.heartbeat / .status written by each agent

Every call goes through the JetStream context's request timeout: a dead NATS is an error, not a hang.
A call that meets a transient failure (a timeout, no responders, "no response from stream": what a
replicated bucket answers while it elects a new leader) is tried again a few times, within
`RETRY_BUDGET` seconds, before it is reported `unavailable`. A write retried after a timeout may
have landed the first time: a compare-and-set that then finds the key already holding exactly our
value counts as done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from bus import subjects
from bus.codec import encode
from bus.jetstream import TRANSIENT, kv_keys
from schemas.ctl import OpRecord
from schemas.errors import Conflict, Unavailable
from schemas.fencing import FenceRecord
from schemas.group import GroupRecord
from schemas.lease import LeaseRecord
from schemas.policy import Pause
from schemas.status import Heartbeat, SiteStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

GROUP_PREFIX = "group."
OP_PREFIX = "op."
AUTO_PAUSE_KEY = "auto.pause"


# a replicated bucket's leader election took 2-6 s on the lab's 3-node cluster (tests/system/faults)
RETRY_BUDGET = 10.0
RETRY_PAUSES = (0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0)


async def with_retry(call: Callable[[], Awaitable[T]], what: str) -> T:
    """`call()`, again after each transient failure while RETRY_BUDGET lasts; the last failure is raised."""
    end = time.monotonic() + RETRY_BUDGET
    for pause in (*RETRY_PAUSES, None):
        try:
            return await call()
        except TRANSIENT as exc:
            if pause is None or time.monotonic() + pause >= end:
                raise
            log.warning("state store: %s failed (%s); trying again in %.2fs", what,
                        str(exc) or type(exc).__name__, pause)
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")


def group_key(name: str) -> str:
    return f"{GROUP_PREFIX}{name}"


def op_key(op_id: str) -> str:
    return f"{OP_PREFIX}{op_id}"


class _Bucket:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def _get(self, key: str, typ: type[T]) -> tuple[T, int] | None:
        try:
            entry = await with_retry(lambda: self.kv.get(key), f"reading {key}")
        except KeyNotFoundError:
            return None
        except Exception as exc:
            raise Unavailable(f"state store unavailable reading {key}: {exc}", where=key) from None
        if entry.value is None or entry.revision is None:
            return None
        try:
            return msgspec.json.decode(entry.value, type=typ), entry.revision
        except msgspec.DecodeError as exc:
            log.error("unreadable %s in KV: %s", key, exc)
            return None

    async def _keys(self, prefix: str) -> list[str]:
        # not KeyValue.keys(): see bus.jetstream.kv_keys
        return await kv_keys(self.kv, prefix)

    async def _put(self, key: str, value: bytes, revision: int | None, *, create: bool = False) -> int:
        tries = 0

        async def once() -> int:
            nonlocal tries
            tries += 1
            if create:
                return await self.kv.create(key, value)
            if revision is not None:
                return await self.kv.update(key, value, last=revision)
            return await self.kv.put(key, value)

        try:
            return await with_retry(once, f"writing {key}")
        except Exception as exc:
            cas_lost = isinstance(exc, KeyWrongLastSequenceError) or "wrong last sequence" in str(exc).lower()
            if not cas_lost:
                raise Unavailable(f"state store unavailable writing {key}: {exc}", where=key) from None
            if tries > 1:
                landed = await self._landed(key, value)
                if landed is not None:
                    return landed
            if isinstance(exc, KeyWrongLastSequenceError):
                raise Conflict(f"{key} was changed concurrently; read it again and retry",
                               where=key) from None
            raise Conflict(f"{key} already exists or changed concurrently", where=key) from None

    async def _landed(self, key: str, value: bytes) -> int | None:
        """The revision of `key` if it holds exactly `value` (an earlier try of ours landed)."""
        try:
            entry = await with_retry(lambda: self.kv.get(key), f"re-reading {key}")
        except Exception:
            return None
        return entry.revision if entry.value == value else None


class Store(_Bucket):
    # -- groups
    async def group(self, name: str) -> tuple[GroupRecord, int] | None:
        return await self._get(group_key(name), GroupRecord)

    async def put_group(self, rec: GroupRecord, revision: int | None) -> int:
        """Create (`revision` None: must not exist) or update at exactly `revision`."""
        return await self._put(group_key(rec.spec.name), encode(rec), revision, create=revision is None)

    async def delete_group(self, name: str) -> None:
        try:
            await self.kv.delete(group_key(name))
        except Exception as exc:
            raise Unavailable(f"state store unavailable deleting group {name}: {exc}") from None

    async def groups(self) -> list[GroupRecord]:
        out = []
        for key in await self._keys(GROUP_PREFIX):
            got = await self._get(key, GroupRecord)
            if got is not None:
                out.append(got[0])
        return out

    # -- operations
    async def op(self, op_id: str) -> OpRecord | None:
        got = await self._get(op_key(op_id), OpRecord)
        return got[0] if got else None

    async def put_op(self, op: OpRecord) -> None:
        await self._put(op_key(op.op_id), encode(op), None)

    async def ops(self) -> list[OpRecord]:
        out = []
        for key in await self._keys(OP_PREFIX):
            got = await self._get(key, OpRecord)
            if got is not None:
                out.append(got[0])
        return sorted(out, key=lambda o: o.created_at, reverse=True)

    # -- fencing
    async def fence(self, group: str) -> FenceRecord | None:
        got = await self._get(subjects.fence_key(group), FenceRecord)
        return got[0] if got else None

    async def put_fence(self, rec: FenceRecord) -> None:
        await self._put(subjects.fence_key(rec.group), encode(rec), None)

    async def delete_fence(self, group: str) -> None:
        try:
            await self.kv.delete(subjects.fence_key(group))
        except Exception as exc:
            raise Unavailable(f"state store unavailable deleting fence.{group}: {exc}") from None

    # -- the fleet-wide pause of automatic actions
    async def auto_pause(self) -> Pause | None:
        got = await self._get(AUTO_PAUSE_KEY, Pause)
        return got[0] if got else None

    async def put_auto_pause(self, pause: Pause | None) -> None:
        if pause is not None:
            await self._put(AUTO_PAUSE_KEY, encode(pause), None)
            return
        try:
            await self.kv.delete(AUTO_PAUSE_KEY)
        except Exception as exc:
            raise Unavailable(f"state store unavailable deleting {AUTO_PAUSE_KEY}: {exc}") from None

    # -- what agents wrote
    async def heartbeat(self, site: str) -> Heartbeat | None:
        got = await self._get(subjects.site_heartbeat_key(site), Heartbeat)
        return got[0] if got else None

    async def site_status(self, site: str) -> SiteStatus | None:
        got = await self._get(subjects.site_status_key(site), SiteStatus)
        return got[0] if got else None

    async def heartbeat_sites(self) -> list[str]:
        keys = await self._keys("site.")
        return sorted({k.split(".")[1] for k in keys if k.endswith(".heartbeat")})


LEASE_KEY = "controller"


class LeaseStore(_Bucket):
    """Key `controller` in the lease bucket. `Conflict` means another holder (or the server's
    expiry) got there first; `Unavailable` means the outcome is unknown."""

    async def lease(self) -> tuple[LeaseRecord, int] | None:
        return await self._get(LEASE_KEY, LeaseRecord)

    async def acquire(self, rec: LeaseRecord) -> int:
        return await self._put(LEASE_KEY, encode(rec), None, create=True)

    async def renew(self, rec: LeaseRecord, revision: int) -> int:
        return await self._put(LEASE_KEY, encode(rec), revision)

    async def release(self, revision: int) -> None:
        """Delete the key if it is still at `revision` (ours): a standby need not wait for it to
        expire. A lease someone else holds by now is left alone."""
        try:
            await self.kv.delete(LEASE_KEY, last=revision)
        except Exception as exc:
            if "wrong last sequence" in str(exc).lower():
                return
            raise Unavailable(f"cannot release the lease: {exc}", where=LEASE_KEY) from None
