"""A process started beside a NATS cluster still electing its JetStream leaders waits for it
instead of exiting; other failures are not retried. The call is a stand-in that fails on cue (the
real case: tests/system/faults/test_nats_cluster.py restarts a whole cluster under the stack)."""

from __future__ import annotations

import pytest
from nats.errors import TimeoutError as NatsTimeout

from bus import jetstream
from schemas.errors import Conflict


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jetstream, "STARTUP_PAUSE", 0.0)


async def test_a_timeout_at_start_is_waited_out() -> None:
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise NatsTimeout()
        return "ready"

    assert await jetstream.when_ready(call, "the events stream") == "ready"
    assert len(calls) == 3


async def test_other_failures_are_raised_at_once() -> None:
    calls: list[int] = []

    async def call() -> None:
        calls.append(1)
        raise Conflict("stream CEPHDR_AUDIT exists with other subjects")

    with pytest.raises(Conflict):
        await jetstream.when_ready(call, "the audit stream")
    assert len(calls) == 1


async def test_past_the_budget_the_last_failure_is_raised() -> None:
    async def call() -> None:
        raise NatsTimeout()

    with pytest.raises(NatsTimeout):
        await jetstream.when_ready(call, "the state KV", budget=0.0)
