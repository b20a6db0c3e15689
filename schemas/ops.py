"""Long agent-side operations: their record and their progress events."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from schemas.common import Request
from schemas.errors import ErrorBody
from schemas.ids import Op, SiteName

OpState = Literal["running", "succeeded", "failed"]


class OpRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where a long operation stands. `result` is the command's reply once it succeeded."""

    op_id: Op
    kind: str
    target: str
    site: SiteName
    state: OpState
    started_at: float
    finished_at: float | None = None
    done: int = 0
    total: int = 0
    message: str = ""
    request_id: str | None = None
    actor: str | None = None
    result: Any = None
    error: ErrorBody | None = None


class OpEvent(msgspec.Struct, frozen=True, kw_only=True, tag="cephdr.agent.op.v1", tag_field="type"):
    """Progress of a long operation, on `cephdr.evt.<site>.op`."""

    site: SiteName
    at: float
    op: OpRecord


class GetOp(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Ask where a long operation stands."""

    op_id: Op


class ListOps(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The agent's recent long operations, newest first."""

    limit: int = 50


class OpList(msgspec.Struct, frozen=True, kw_only=True):
    ops: list[OpRecord]
