"""What a command handler gets: the site's name, its Ceph connection, and the agent's services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from agent.ceph.cephfs_io import FsMount, FsMounts
from agent.ceph.cluster import CephCluster
from schemas.common import Accepted
from schemas.ids import SiteName
from schemas.ops import OpRecord
from schemas.status import SiteStatus

# A long operation reports progress through this: (done, total, message).
Progress = Callable[[int, int, str], Awaitable[None]]


class OpRunner(Protocol):
    """Runs long commands in the background (`Accepted` at once, progress on `cephdr.evt.<site>.op`)."""

    async def start(
        self, kind: str, target: str, work: Callable[[Progress], Awaitable[msgspec.Struct]]
    ) -> Accepted: ...

    def get(self, op_id: str) -> OpRecord: ...

    def list(self, limit: int = 50) -> list[OpRecord]: ...


class Sealer(Protocol):
    """The agent's X25519 identity: NaCl Box between this agent and another agent."""

    @property
    def public_key(self) -> str: ...  # base64

    def seal(self, plaintext: bytes, recipient_public_key: str) -> str: ...  # base64 blob

    def open(self, blob: str, sender_public_key: str) -> bytes: ...  # raises InvalidRequest if forged


class StatusSource(Protocol):
    """The scanner's latest result, or a fresh scan on demand."""

    async def current(self, *, fresh: bool) -> SiteStatus: ...


@dataclass
class AgentContext:
    site: SiteName
    cluster: CephCluster
    ops: OpRunner
    identity: Sealer
    # admin sockets of the local mirror daemons, by kind ("rbd-mirror", "cephfs-mirror")
    asok: dict[str, str] = field(default_factory=dict)
    status: StatusSource | None = None
    # libcephfs mounts by file system (the runtime passes its own and closes them; made on first use)
    mounts: FsMounts | None = None

    def fs_mount(self, fs: str) -> FsMount:
        if self.mounts is None:
            self.mounts = FsMounts(self.cluster)
        return self.mounts.get(fs)
