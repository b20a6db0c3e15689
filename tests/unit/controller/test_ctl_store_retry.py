"""The state store rides out a replicated bucket's leader election: transient failures are tried
again within a budget, a retried write that had landed counts as done, and a real compare-and-set
loss stays a conflict. The KeyValue here is a stand-in that fails on cue (the real election is
exercised by the nats-cluster fault drill, tests/system/faults/test_nats_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoStreamResponseError

from controller import store
from schemas.errors import Conflict, Unavailable


@dataclass
class Entry:
    value: bytes | None
    revision: int | None


@dataclass
class FlakyKV:
    """Fails the first `fail` writes/reads with `exc`; `land` makes a failing write land anyway (the
    reply was lost, not the write)."""
    fail: int = 0
    exc: type[Exception] = NoStreamResponseError
    land: bool = False
    data: dict[str, Entry] = field(default_factory=dict)
    rev: int = 0
    calls: int = 0

    def _store(self, key: str, value: bytes) -> int:
        self.rev += 1
        self.data[key] = Entry(value, self.rev)
        return self.rev

    def _maybe_fail(self, key: str | None = None, value: bytes | None = None) -> None:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            if self.land and key is not None and value is not None:
                self._store(key, value)
            raise self.exc()

    async def get(self, key: str) -> Entry:
        self._maybe_fail()
        if key not in self.data:
            raise KeyNotFoundError()
        return self.data[key]

    async def put(self, key: str, value: bytes) -> int:
        self._maybe_fail(key, value)
        return self._store(key, value)

    async def create(self, key: str, value: bytes) -> int:
        self._maybe_fail(key, value)
        if key in self.data:
            raise KeyWrongLastSequenceError()
        return self._store(key, value)

    async def update(self, key: str, value: bytes, last: int) -> int:
        self._maybe_fail(key, value)
        cur = self.data.get(key)
        if cur is None or cur.revision != last:
            raise KeyWrongLastSequenceError()
        return self._store(key, value)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(store, "RETRY_PAUSES", (0.0, 0.0, 0.0))
    yield


def bucket(kv: FlakyKV) -> Any:
    return store._Bucket(kv)  # type: ignore[arg-type]


async def test_a_write_during_an_election_is_tried_again() -> None:
    kv = FlakyKV(fail=2)
    assert await bucket(kv)._put("op.1", b"v", None) == 1
    assert kv.calls == 3 and kv.data["op.1"].value == b"v"


async def test_a_read_during_an_election_is_tried_again() -> None:
    kv = FlakyKV()
    kv._store("group.g", b'"x"')
    kv.fail = 2
    kv.exc = NatsTimeout
    assert await bucket(kv)._get("group.g", str) == ("x", 1)


async def test_past_the_retries_the_store_is_unavailable() -> None:
    kv = FlakyKV(fail=10)
    with pytest.raises(Unavailable, match=r"op\.1"):
        await bucket(kv)._put("op.1", b"v", None)
    assert kv.calls == 4  # the first try and one per pause


async def test_a_compare_and_set_whose_lost_reply_had_landed_counts_as_done() -> None:
    kv = FlakyKV()
    rev = kv._store("lease", b"old")
    kv.fail, kv.land = 1, True
    got = await bucket(kv)._put("lease", b"new", rev)
    assert got == kv.data["lease"].revision and kv.data["lease"].value == b"new"


async def test_a_create_whose_lost_reply_had_landed_counts_as_done() -> None:
    kv = FlakyKV(fail=1, land=True)
    assert await bucket(kv)._put("group.g", b"rec", None, create=True) == 1


async def test_a_real_compare_and_set_loss_is_a_conflict() -> None:
    kv = FlakyKV()
    kv._store("group.g", b"theirs")
    with pytest.raises(Conflict):
        await bucket(kv)._put("group.g", b"mine", 7)


async def test_after_a_retry_someone_elses_value_is_still_a_conflict() -> None:
    kv = FlakyKV()
    rev = kv._store("group.g", b"base")
    kv.fail = 1  # our first try is lost and did not land; meanwhile another writer moves the key

    real_update = kv.update

    async def update(key: str, value: bytes, last: int) -> int:
        if kv.fail == 0 and kv.data[key].value == b"base":
            kv._store(key, b"theirs")
        return await real_update(key, value, last)

    kv.update = update  # type: ignore[method-assign]
    with pytest.raises(Conflict):
        await bucket(kv)._put("group.g", b"mine", rev)
    assert kv.data["group.g"].value == b"theirs"
