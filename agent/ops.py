"""Long commands run here in the background: the request gets `Accepted` with an op id at once.

A micro endpoint serves one request at a time, so anything that may take seconds (bulk promote,
waiting for a demotion to propagate) must not hold it. Progress and the outcome are published as
`OpEvent`s on `cephdr.evt.<site>.op` and kept (the last `max_kept`) for `op.get` / `op.list`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import msgspec

from agent.context import Progress
from schemas.common import Accepted
from schemas.errors import CephDRError, Internal, NotFound
from schemas.ids import OpId, SiteName
from schemas.ops import OpRecord

log = logging.getLogger(__name__)

Emit = Callable[[OpRecord], None]


class LocalOps:
    def __init__(self, site: SiteName, events_subject: str, emit: Emit, *, max_kept: int = 500) -> None:
        self.site = site
        self.events_subject = events_subject
        self.emit = emit
        self.max_kept = max_kept
        self._records: OrderedDict[str, OpRecord] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def _set(self, rec: OpRecord) -> None:
        self._records[rec.op_id] = rec
        self._records.move_to_end(rec.op_id)
        while len(self._records) > self.max_kept:
            oldest = next(iter(self._records.values()))
            if oldest.state == "running":
                break
            self._records.popitem(last=False)
        self.emit(rec)

    async def start(
        self, kind: str, target: str, work: Callable[[Progress], Awaitable[msgspec.Struct]]
    ) -> Accepted:
        op_id = OpId(f"op-{uuid.uuid4().hex[:16]}")
        self._set(
            OpRecord(
                op_id=op_id, kind=kind, target=target, site=self.site, state="running", started_at=time.time()
            )
        )

        async def progress(done: int, total: int, message: str) -> None:
            rec = self._records[op_id]
            self._set(msgspec.structs.replace(rec, done=done, total=total, message=message))

        task = asyncio.create_task(self._run(op_id, work, progress), name=f"op {kind} {target}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Accepted(op_id=op_id, events_subject=self.events_subject)

    async def _run(
        self, op_id: str, work: Callable[[Progress], Awaitable[msgspec.Struct]], progress: Progress
    ) -> None:
        try:
            result = await work(progress)
        except CephDRError as err:
            self._finish(op_id, error=err)
        except Exception:
            log.exception("operation %s failed with a bug", op_id)
            self._finish(op_id, error=Internal("internal error; the agent log has the details"))
        else:
            self._finish(op_id, result=msgspec.to_builtins(result))

    def _finish(self, op_id: str, *, result: object = None, error: CephDRError | None = None) -> None:
        rec = self._records[op_id]
        self._set(
            msgspec.structs.replace(
                rec,
                state="failed" if error else "succeeded",
                finished_at=time.time(),
                result=result,
                error=error.body() if error else None,
                message=error.message if error else rec.message,
            )
        )

    def get(self, op_id: str) -> OpRecord:
        try:
            return self._records[op_id]
        except KeyError:
            raise NotFound(f"no operation {op_id} on {self.site} (agents keep recent ones only)") from None

    def list(self, limit: int = 50) -> list[OpRecord]:
        return list(reversed(self._records.values()))[:limit]

    async def drain(self, within: float) -> bool:
        """On shutdown: let running operations finish, up to `within` seconds."""
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=within)
        return not pending
