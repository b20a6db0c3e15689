"""Parse rbd-mirror's free-text image status description.

Seen in 16.2.15 (FINDINGS B.3, reference §1.3): `replaying, {json}` (journal or snapshot keys),
`local image is primary`, `split-brain detected` (journal), `split-brain` (snapshot),
`split-brain detected: <why>` (newer), `status not found`, `stopped`, `starting replay`,
`stopping replay`, `bootstrapping, IMAGE_SYNC/COPY_IMAGE` (journal first sync, maybe with a
`NN%`), `syncing`, `remote image is non-primary`, `disconnected`, `resync requested`,
`remote image no longer exists`, `error ...`. Anything else parses as `other`; nothing raises.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import msgspec

from agent.status._raw import as_dict, as_float, as_int, as_str, duration, timestamp
from schemas.status import JournalPosition, MirrorMode, ReplayProgress


class DescriptionKind(enum.StrEnum):
    """What a description says, beyond the state number."""

    EMPTY = "empty"
    REPLAYING = "replaying"
    LOCAL_PRIMARY = "local_primary"
    SPLIT_BRAIN = "split_brain"
    NOT_FOUND = "status_not_found"
    STOPPED = "stopped"
    STARTING_REPLAY = "starting_replay"
    STOPPING_REPLAY = "stopping_replay"
    BOOTSTRAPPING = "bootstrapping"
    SYNCING = "syncing"
    REMOTE_NON_PRIMARY = "remote_non_primary"
    DISCONNECTED = "disconnected"
    RESYNC_REQUESTED = "resync_requested"
    REMOTE_GONE = "remote_gone"
    ERROR = "error"
    OTHER = "other"


class ParsedDescription(NamedTuple):
    progress: ReplayProgress | None
    split_brain: bool
    kind: DescriptionKind


_EXACT: dict[str, DescriptionKind] = {
    "local image is primary": DescriptionKind.LOCAL_PRIMARY,
    "status not found": DescriptionKind.NOT_FOUND,
    "stopped": DescriptionKind.STOPPED,
    "starting replay": DescriptionKind.STARTING_REPLAY,
    "stopping replay": DescriptionKind.STOPPING_REPLAY,
    "syncing": DescriptionKind.SYNCING,
    "remote image is non-primary": DescriptionKind.REMOTE_NON_PRIMARY,
    "disconnected": DescriptionKind.DISCONNECTED,
    "resync requested": DescriptionKind.RESYNC_REQUESTED,
    "remote image no longer exists": DescriptionKind.REMOTE_GONE,
    "remote image does not exist": DescriptionKind.REMOTE_GONE,
}
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")
_JOURNAL_KEYS = ("primary_position", "non_primary_position", "entries_behind_primary")
_SNAPSHOT_KEYS = ("replay_state", "local_snapshot_timestamp", "remote_snapshot_timestamp")


def parse_description(text: object, *, mode_hint: MirrorMode | None = None) -> ParsedDescription:
    """Classify a description and extract its replay progress. Never raises."""
    if not isinstance(text, str):
        return ParsedDescription(None, False, DescriptionKind.EMPTY)
    s = text.strip()
    low = s.lower()
    if not s:
        return ParsedDescription(None, False, DescriptionKind.EMPTY)
    if low.startswith("split-brain"):
        return ParsedDescription(None, True, DescriptionKind.SPLIT_BRAIN)
    if low.startswith("replaying"):
        return ParsedDescription(_replaying(s), False, DescriptionKind.REPLAYING)
    if low.startswith("bootstrapping"):
        return ParsedDescription(_bootstrap(s, mode_hint), False, DescriptionKind.BOOTSTRAPPING)
    kind = _EXACT.get(low)
    if kind is not None:
        return ParsedDescription(None, False, kind)
    if low.startswith("syncing"):
        return ParsedDescription(_bootstrap(s, mode_hint), False, DescriptionKind.SYNCING)
    if "error" in low or "failed" in low:
        return ParsedDescription(None, False, DescriptionKind.ERROR)
    return ParsedDescription(None, False, DescriptionKind.OTHER)


def _replaying(text: str) -> ReplayProgress | None:
    start = text.find("{")
    if start < 0:
        return None
    try:
        data = msgspec.json.decode(text[start:].encode("utf-8", "replace"))
    except (msgspec.DecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return progress_from_json(data)


def progress_from_json(data: Mapping[str, Any]) -> ReplayProgress | None:
    """Normalise the JSON object of a `replaying, {...}` description (journal or snapshot)."""
    if any(k in data for k in _JOURNAL_KEYS):
        return _journal(data)
    if any(k in data for k in _SNAPSHOT_KEYS):
        return _snapshot(data)
    return None


def _position(value: object) -> JournalPosition | None:
    d = as_dict(value)
    entry, obj, tag = as_int(d.get("entry_tid")), as_int(d.get("object_number")), as_int(d.get("tag_tid"))
    if entry is None or obj is None or tag is None:
        return None
    return JournalPosition(entry_tid=entry, object_number=obj, tag_tid=tag)


def _journal(data: Mapping[str, Any]) -> ReplayProgress:
    behind = as_int(data.get("entries_behind_primary"))
    primary = _position(data.get("primary_position"))
    local = _position(data.get("non_primary_position"))
    caught_up: bool | None
    if behind is not None and behind > 0:
        caught_up = False
    elif primary is not None and local is not None:
        # FINDINGS B.2/B.3: entries_behind can read 0 (or a small number) across a tag change;
        # only equal positions, tag_tid included, are safe to demote on.
        caught_up = behind == 0 and primary == local
    else:
        caught_up = False if (primary is None) != (local is None) else None
    return ReplayProgress(
        mode=MirrorMode.JOURNAL,
        caught_up=caught_up,
        bytes_per_second=as_float(data.get("bytes_per_second")),
        entries_behind_primary=behind,
        entries_per_second=as_float(data.get("entries_per_second")),
        primary_position=primary,
        non_primary_position=local,
        seconds_until_synced=duration(data.get("seconds_until_synced")),
    )


def _snapshot(data: Mapping[str, Any]) -> ReplayProgress:
    raw_state = as_str(data.get("replay_state"))
    replay_state: Literal["idle", "syncing"] | None = (
        "idle" if raw_state == "idle" else "syncing" if raw_state == "syncing" else None
    )
    local_ts = timestamp(data.get("local_snapshot_timestamp"))
    remote_ts = timestamp(data.get("remote_snapshot_timestamp"))
    caught_up: bool | None
    if replay_state == "syncing":
        caught_up = False
    elif replay_state == "idle" and local_ts is not None and remote_ts is not None:
        caught_up = local_ts >= remote_ts
    else:
        caught_up = None
    percent = as_float(data.get("syncing_percent"))
    return ReplayProgress(
        mode=MirrorMode.SNAPSHOT,
        caught_up=caught_up,
        bytes_per_second=as_float(data.get("bytes_per_second")),
        replay_state=replay_state,
        local_snapshot_timestamp=local_ts,
        remote_snapshot_timestamp=remote_ts,
        syncing_snapshot_timestamp=timestamp(data.get("syncing_snapshot_timestamp")),
        syncing_percent=percent if percent is not None and 0 <= percent <= 100 else None,
        seconds_until_synced=duration(data.get("seconds_until_synced")),
        bytes_per_snapshot=as_float(data.get("bytes_per_snapshot")),
        last_snapshot_bytes=as_int(data.get("last_snapshot_bytes")),
        last_snapshot_sync_seconds=duration(data.get("last_snapshot_sync_seconds")),
    )


def _bootstrap(text: str, mode_hint: MirrorMode | None) -> ReplayProgress | None:
    """`bootstrapping, IMAGE_COPY/COPY_OBJECT 45%`: an initial sync; never caught up."""
    m = _PERCENT.search(text)
    percent = float(m.group(1)) if m else None
    if percent is not None and percent > 100:
        percent = None
    return ReplayProgress(mode=mode_hint or MirrorMode.JOURNAL, caught_up=False, syncing_percent=percent)
