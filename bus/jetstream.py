"""Creating the JetStream assets cephdr needs, idempotently."""

from __future__ import annotations

import logging

from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import BadRequestError, NotFoundError
from nats.js.kv import KeyValue

from bus import subjects

log = logging.getLogger(__name__)

EVENTS_MAX_AGE_S = 7 * 24 * 3600


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


async def state_kv(js: JetStreamContext) -> KeyValue:
    try:
        return await js.key_value(subjects.STATE_BUCKET)
    except Exception:
        return await js.create_key_value(
            KeyValueConfig(bucket=subjects.STATE_BUCKET, history=5, description="cephdr state")
        )
