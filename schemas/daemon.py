"""Request and reply of `daemon.status`: health of this site's rbd-mirror and cephfs-mirror daemons."""

from __future__ import annotations

import msgspec

from schemas.common import Reply, Request
from schemas.status import DaemonStatus, DirStatus


class GetDaemonStatus(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The mirror daemons of this site (service map + admin sockets) and, when `dirs`, the
    per-directory peer status the local cephfs-mirror reports."""

    dirs: bool = True


class DaemonHealth(Reply, frozen=True, kw_only=True):
    """One entry per daemon: `up`, `health` and, when not healthy, the reasons in `details`.

    A daemon whose admin socket is missing or dead is reported down with the reason."""

    site: str
    checked_at: float
    daemons: list[DaemonStatus] = msgspec.field(default_factory=list)
    dirs: list[DirStatus] = msgspec.field(default_factory=list)
