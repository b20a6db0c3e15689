"""Bases shared by every request and reply."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from schemas.ids import Op, ReqId

Actor = Annotated[str, Meta(max_length=128, description="the human behind the request (CLI user, chat user)")]


class Request(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A read-only request. `request_id` is optional here: reads are safe to repeat."""

    request_id: ReqId | None = None
    actor: Actor | None = None


class Command(Request, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A request that changes something. `request_id` is required: a repeat returns the first outcome."""

    request_id: ReqId  # type: ignore[assignment]


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every successful reply."""


class Done(Reply, frozen=True, kw_only=True):
    """A command that completed; `changed` is false when nothing needed doing (idempotent repeat)."""

    changed: bool = True
    message: str = ""


class Accepted(Reply, frozen=True, kw_only=True):
    """A long command was accepted: follow `op_id` in the progress events or with an op query."""

    status: Literal["accepted"] = "accepted"
    op_id: Op
    events_subject: str


Confirm = Annotated[
    str,
    Meta(max_length=256, description="the target, spelled out, to allow a dangerous action (see the doc)"),
]


class ConfirmableCommand(Command, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A command that can discard data or cause split-brain: it is refused unless `confirm` names
    its target exactly (each command's doc says what the target is)."""

    confirm: Confirm | None = None
