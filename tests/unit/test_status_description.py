"""parse_description: every description variant seen in 16.2.15 (FINDINGS B.3, reference §1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.status.description import DescriptionKind as K
from agent.status.description import parse_description
from schemas.status import JournalPosition, MirrorMode

JOURNAL_CAUGHT_UP = (
    'replaying, {"bytes_per_second":0.0,"entries_behind_primary":0,"entries_per_second":0.0,'
    '"non_primary_position":{"entry_tid":6169,"object_number":5,"tag_tid":2},'
    '"primary_position":{"entry_tid":6169,"object_number":5,"tag_tid":2}}'
)
JOURNAL_TAG_BEHIND = (
    'replaying, {"bytes_per_second":0.0,"entries_behind_primary":3,"entries_per_second":0.0,'
    '"non_primary_position":{"entry_tid":2056,"object_number":0,"tag_tid":1},'
    '"primary_position":{"entry_tid":3,"object_number":3,"tag_tid":2}}'
)
JOURNAL_EMPTY_LOCAL = (
    'replaying, {"bytes_per_second":0.0,"entries_behind_primary":3,"entries_per_second":0.0,'
    '"non_primary_position":{},"primary_position":{"entry_tid":3,"object_number":3,"tag_tid":1}}'
)
# not seen, but the trap B.3 warns about: behind 0 while the tag differs
JOURNAL_ZERO_BEHIND_OTHER_TAG = (
    'replaying, {"entries_behind_primary":0,'
    '"non_primary_position":{"entry_tid":3,"object_number":3,"tag_tid":1},'
    '"primary_position":{"entry_tid":3,"object_number":3,"tag_tid":2}}'
)
SNAP_IDLE = (
    'replaying, {"bytes_per_second":1048576.0,"bytes_per_snapshot":20971520.0,"last_snapshot_bytes":20971520,'
    '"last_snapshot_sync_seconds":0,"local_snapshot_timestamp":1795242268,'
    '"remote_snapshot_timestamp":1795242268,"replay_state":"idle"}'
)
SNAP_SYNCING = (
    'replaying, {"bytes_per_second":0.0,"bytes_per_snapshot":299892736.0,"last_snapshot_bytes":297795584,'
    '"last_snapshot_sync_seconds":1,"local_snapshot_timestamp":1795242909,"remote_snapshot_timestamp":1795243088,'
    '"replay_state":"syncing","seconds_until_synced":644014746713980928,"syncing_percent":0,'
    '"syncing_snapshot_timestamp":1795243088}'
)


@pytest.mark.parametrize(
    ("text", "kind", "split_brain"),
    [
        ("local image is primary", K.LOCAL_PRIMARY, False),
        ("split-brain detected", K.SPLIT_BRAIN, True),
        ("split-brain", K.SPLIT_BRAIN, True),
        (
            "split-brain detected: failed to find matching non-primary snapshot in remote image",
            K.SPLIT_BRAIN,
            True,
        ),
        ("status not found", K.NOT_FOUND, False),
        ("stopped", K.STOPPED, False),
        ("starting replay", K.STARTING_REPLAY, False),
        ("stopping replay", K.STOPPING_REPLAY, False),
        ("bootstrapping, IMAGE_SYNC/COPY_IMAGE", K.BOOTSTRAPPING, False),
        ("syncing", K.SYNCING, False),
        ("remote image is non-primary", K.REMOTE_NON_PRIMARY, False),
        ("disconnected", K.DISCONNECTED, False),
        ("resync requested", K.RESYNC_REQUESTED, False),
        ("remote image no longer exists", K.REMOTE_GONE, False),
        ("error bootstrapping replay", K.ERROR, False),
        ("", K.EMPTY, False),
        ("  ", K.EMPTY, False),
        ("something new in reef", K.OTHER, False),
        (JOURNAL_CAUGHT_UP, K.REPLAYING, False),
        (SNAP_IDLE, K.REPLAYING, False),
        ("replaying", K.REPLAYING, False),
        ("replaying, {not json", K.REPLAYING, False),
        ("replaying, [1,2]", K.REPLAYING, False),
    ],
)
def test_kinds(text: str, kind: K, split_brain: bool) -> None:
    parsed = parse_description(text)
    assert parsed.kind is kind
    assert parsed.split_brain is split_brain
    progress, sb, k = parsed  # a plain 3-tuple too
    assert (sb, k) == (split_brain, kind)
    if kind is not K.REPLAYING and kind is not K.BOOTSTRAPPING:
        assert progress is None


@pytest.mark.parametrize("value", [None, 3, b"local image is primary", ["x"], {"a": 1}])
def test_non_string_is_empty(value: object) -> None:
    assert parse_description(value) == (None, False, K.EMPTY)


def test_journal_caught_up_compares_positions_with_tag() -> None:
    p = parse_description(JOURNAL_CAUGHT_UP).progress
    assert p is not None and p.mode is MirrorMode.JOURNAL
    assert p.caught_up is True
    assert p.entries_behind_primary == 0
    assert (
        p.primary_position
        == p.non_primary_position
        == JournalPosition(entry_tid=6169, object_number=5, tag_tid=2)
    )


@pytest.mark.parametrize("text", [JOURNAL_TAG_BEHIND, JOURNAL_EMPTY_LOCAL, JOURNAL_ZERO_BEHIND_OTHER_TAG])
def test_journal_not_caught_up(text: str) -> None:
    p = parse_description(text).progress
    assert p is not None and p.mode is MirrorMode.JOURNAL
    assert p.caught_up is False


def test_journal_empty_position_is_none() -> None:
    p = parse_description(JOURNAL_EMPTY_LOCAL).progress
    assert p is not None
    assert p.non_primary_position is None
    assert p.primary_position == JournalPosition(entry_tid=3, object_number=3, tag_tid=1)


def test_snapshot_idle() -> None:
    p = parse_description(SNAP_IDLE).progress
    assert p is not None and p.mode is MirrorMode.SNAPSHOT
    assert p.caught_up is True
    assert p.replay_state == "idle"
    assert p.local_snapshot_timestamp == p.remote_snapshot_timestamp == 1795242268.0
    assert p.last_snapshot_bytes == 20971520
    assert p.bytes_per_second == 1048576.0


def test_snapshot_syncing_absurd_eta_is_none() -> None:
    p = parse_description(SNAP_SYNCING).progress
    assert p is not None
    assert p.caught_up is False
    assert p.replay_state == "syncing"
    assert p.seconds_until_synced is None
    assert p.syncing_percent == 0
    assert p.syncing_snapshot_timestamp == 1795243088.0
    assert p.local_snapshot_timestamp == 1795242909.0


def test_snapshot_idle_but_remote_newer_is_not_caught_up() -> None:
    text = 'replaying, {"local_snapshot_timestamp":10,"remote_snapshot_timestamp":20,"replay_state":"idle"}'
    p = parse_description(text).progress
    assert p is not None and p.caught_up is False


def test_bootstrap_percent() -> None:
    p = parse_description("bootstrapping, IMAGE_COPY/COPY_OBJECT 45%").progress
    assert p is not None and p.syncing_percent == 45 and p.caught_up is False


def test_garbage_json_values() -> None:
    text = (
        'replaying, {"entries_behind_primary":"x","primary_position":{"entry_tid":null},'
        '"non_primary_position":[],"bytes_per_second":"NaN","seconds_until_synced":-1}'
    )
    p = parse_description(text).progress
    assert p is not None
    assert p.entries_behind_primary is None and p.primary_position is None and p.caught_up is None
    assert p.bytes_per_second is None and p.seconds_until_synced is None


@given(st.text())
def test_never_raises_on_text(text: str) -> None:
    parse_description(text)
    parse_description("replaying, " + text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=25), children, max_size=4)
    ),
    max_leaves=10,
)
keys = st.sampled_from(
    [
        "entries_behind_primary",
        "primary_position",
        "non_primary_position",
        "replay_state",
        "local_snapshot_timestamp",
        "remote_snapshot_timestamp",
        "seconds_until_synced",
        "syncing_percent",
        "bytes_per_second",
        "entry_tid",
        "tag_tid",
        "object_number",
    ]
)


@given(st.dictionaries(keys, json_values, max_size=6))
def test_never_raises_on_odd_json(data: dict[str, object]) -> None:
    import json

    try:
        body = json.dumps(data)
    except ValueError:
        return
    parse_description("replaying, " + body)
