"""Creating the JetStream assets cephdr needs, idempotently; and waiting for JetStream to answer
at start (`when_ready`), since a process started with (or just after) a clustered NATS meets a
JetStream still electing its leaders: a timeout there is not a reason to exit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import (
    BadRequestError,
    NoStreamResponseError,
    NotFoundError,
    ServiceUnavailableError,
)
from nats.js.kv import KeyValue

from bus import subjects
from schemas.errors import Conflict, Unavailable

log = logging.getLogger(__name__)

EVENTS_MAX_AGE_S = 7 * 24 * 3600
T = TypeVar("T")

# what JetStream answers while it elects a leader (or before it is up): worth trying again
TRANSIENT = (NatsTimeout, asyncio.TimeoutError, NoRespondersError, NoStreamResponseError,
             ServiceUnavailableError)
STARTUP_BUDGET = 120.0
STARTUP_PAUSE = 2.0


async def when_ready(call: Callable[[], Awaitable[T]], what: str, budget: float = STARTUP_BUDGET) -> T:
    """`call()` at start, tried again every STARTUP_PAUSE s after a transient failure while `budget`
    lasts; anything else (a permission denial, a conflicting stream) is raised at once."""
    end = time.monotonic() + budget
    while True:
        try:
            return await call()
        except TRANSIENT as exc:
            if time.monotonic() + STARTUP_PAUSE >= end:
                raise
            log.warning("JetStream not ready for %s (%s); trying again in %gs", what,
                        str(exc) or type(exc).__name__, STARTUP_PAUSE)
            await asyncio.sleep(STARTUP_PAUSE)


async def ensure_events_stream(js: JetStreamContext, prefix: str = subjects.PREFIX) -> None:
    cfg = StreamConfig(
        name=subjects.EVENTS_STREAM,
        subjects=subjects.event_stream_subjects(prefix),
        retention=RetentionPolicy.LIMITS,
        max_age=EVENTS_MAX_AGE_S,
        max_bytes=1024**3,
        discard=DiscardPolicy.OLD,
        storage=StorageType.FILE,
        duplicate_window=120,
    )
    try:
        await js.stream_info(subjects.EVENTS_STREAM)
    except NotFoundError:
        try:
            await js.add_stream(cfg)
            log.info("created stream %s", subjects.EVENTS_STREAM)
        except BadRequestError:
            # another process created it between our look and our add
            await js.stream_info(subjects.EVENTS_STREAM)


AUDIT_MAX_AGE_S = 365 * 24 * 3600


async def ensure_audit_stream(js: JetStreamContext, prefix: str = subjects.PREFIX) -> None:
    """`CEPHDR_AUDIT` on `<prefix>.audit.>`. No message can be deleted and the stream cannot be
    purged through the API (deny_delete, deny_purge): records leave only by age or size. The
    controller creates it; agents only publish their own audit subject (bus/permissions.py)."""
    cfg = StreamConfig(
        name=subjects.AUDIT_STREAM,
        subjects=[f"{prefix}.audit.>"],
        retention=RetentionPolicy.LIMITS,
        max_age=AUDIT_MAX_AGE_S,
        max_bytes=512 * 1024**2,  # the lab server allows 2 GB of file store in all
        max_msg_size=256 * 1024,
        discard=DiscardPolicy.OLD,
        storage=StorageType.FILE,
        duplicate_window=120,
        deny_delete=True,
        deny_purge=True,
    )
    try:
        info = await js.stream_info(subjects.AUDIT_STREAM)
    except NotFoundError:
        try:
            await js.add_stream(cfg)
            log.info("created stream %s", subjects.AUDIT_STREAM)
            return
        except BadRequestError:
            info = await js.stream_info(subjects.AUDIT_STREAM)
    # made by someone else first (agents may create the shared streams): say so if it is weaker
    have = info.config
    if not (have.deny_delete and have.deny_purge) or list(have.subjects or []) != cfg.subjects:
        log.error(
            "stream %s exists with deny_delete=%s deny_purge=%s subjects=%s: audit records can be removed "
            "or missed; delete it while nothing runs (an admin can) and start a controller to recreate it",
            subjects.AUDIT_STREAM, have.deny_delete, have.deny_purge, have.subjects,
        )


async def state_kv(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(subjects.STATE_BUCKET)
    except Exception:
        return await js.create_key_value(
            KeyValueConfig(bucket=subjects.STATE_BUCKET, history=5, description="cephdr state")
        )


async def lease_kv(js: JetStreamContext, ttl: float) -> tuple[KeyValue, float]:
    """The leader-lease bucket and its TTL as the server applies it. Its max age is the lease time:
    the NATS server's clock expires a lease, not a controller's. A bucket made earlier with another
    TTL keeps it (controllers with different configs must still agree on one expiry); the caller
    gets the TTL in force and must reason with that one."""
    try:
        kv = await js.key_value(subjects.LEASE_BUCKET)
    except NotFoundError:  # BucketNotFoundError is one
        try:
            kv = await js.create_key_value(
                KeyValueConfig(
                    bucket=subjects.LEASE_BUCKET,
                    history=1,
                    ttl=ttl,
                    description="cephdr controller leader lease",
                )
            )
            log.info("created KV %s (lease time %gs)", subjects.LEASE_BUCKET, ttl)
        except BadRequestError:
            # another controller created it between our look and our add
            kv = await js.key_value(subjects.LEASE_BUCKET)
    status = await kv.status()
    if not status.ttl:
        raise Conflict(
            f"KV {subjects.LEASE_BUCKET} has no max age, so a dead leader's lease would never expire; "
            "delete the bucket and start a controller again",
            where=subjects.LEASE_BUCKET,
        )
    return kv, status.ttl


async def kv_keys(kv: KeyValue, prefix: str) -> list[str]:
    """Keys of `kv` under `prefix` (ending in a dot), from the server's own subject index.

    Not `KeyValue.keys()` nor a watcher's initial values: both depend on nats-py seeing the last
    initial message, and a message that reaches the watcher before its consumer info returns can
    be dropped under load (the callback times out waiting for its setup). The stream's subject
    list is exact; deleted keys are still in it, and their `get` answers not-found."""
    pre = kv._pre  # "$KV.<bucket>."; nats-py has no public accessor for it
    try:
        info = await kv._js.stream_info(kv._stream, subjects_filter=f"{pre}{prefix}>")
    except Exception as exc:
        raise Unavailable(f"state store unavailable listing {prefix}*: {exc}") from None
    return sorted(subj[len(pre) :] for subj in (info.state.subjects or {}))
