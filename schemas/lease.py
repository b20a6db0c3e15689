"""The controller's leader lease: the record in KV `cephdr_leases` (key `controller`) and the
event published when leadership changes hands.

The record is informational: who holds the lease is decided by the KV (create / compare-and-set
update) and its expiry by the bucket's max age on the NATS server, never by these timestamps.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class LeaseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The value of the lease key while a controller holds it."""

    holder: str  # "<hostname>:<pid>:<random>": unique per process lifetime
    acquired_at: float  # wall clock of the holder, for people reading the KV
    renewed_at: float
    ttl: float  # the bucket's max age when the holder wrote this


LeaderChange = Literal["acquired", "lost", "released"]


class LeaderEvent(msgspec.Struct, frozen=True, kw_only=True, tag="cephdr.ctl.leader.v1", tag_field="type"):
    """A controller became the leader, lost the lease (it stopped acting), or released it on
    shutdown (a standby takes over at once): on `cephdr.ctl.evt.leader`."""

    at: float
    holder: str
    change: LeaderChange
    reason: str = ""
