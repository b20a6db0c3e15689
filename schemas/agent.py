"""Requests about the agent itself: its status on demand."""

from __future__ import annotations

from schemas.common import Request


class GetStatus(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The site's full mirroring status (as kept in KV). `fresh` scans now instead of returning
    the last scan (costs a scan: a few round trips per pool)."""

    fresh: bool = False
