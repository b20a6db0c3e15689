"""Subject names and JetStream assets: the bus layout in one place (design.md §2)."""

from __future__ import annotations

PREFIX = "cephdr"

EVENTS_STREAM = "CEPHDR_EVENTS"
AUDIT_STREAM = "CEPHDR_AUDIT"
STATE_BUCKET = "cephdr_state"
LEASE_BUCKET = "cephdr_leases"


def agent_prefix(site: str, prefix: str = PREFIX) -> str:
    return f"{prefix}.agent.{site}"


def event_subject(site: str, suffix: str, prefix: str = PREFIX) -> str:
    return f"{prefix}.evt.{site}.{suffix}"


def heartbeat_subject(site: str, prefix: str = PREFIX) -> str:
    return event_subject(site, "heartbeat", prefix)


def event_stream_subjects(prefix: str = PREFIX) -> list[str]:
    """Everything under `<prefix>.evt.>` except heartbeats, which are live-only (and in KV):
    keeping them out of the stream keeps it small and its contents all meaningful."""
    return [
        f"{prefix}.evt.*.rbd.>",
        f"{prefix}.evt.*.fs.>",
        f"{prefix}.evt.*.daemon",
        f"{prefix}.evt.*.schedule",
        f"{prefix}.evt.*.op",
        f"{prefix}.evt.*.fence",
        f"{prefix}.ctl.evt.>",
    ]


# KV keys in STATE_BUCKET
def site_status_key(site: str) -> str:
    return f"site.{site}.status"


def site_heartbeat_key(site: str) -> str:
    return f"site.{site}.heartbeat"


FENCE_KEY_PREFIX = "fence."


def fence_key(group: str) -> str:
    return f"{FENCE_KEY_PREFIX}{group}"
