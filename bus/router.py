"""Commands register here by decorator; the subject is the contract.

    router = Router[AgentContext]()

    @router.command("rbd.image.promote", request=PromoteImage, reply=Done)
    async def promote(ctx: AgentContext, req: PromoteImage) -> Done:
        '''Promote an image to primary on this site.'''

is served on `<prefix>.rbd.image.promote` (the agent's prefix is `cephdr.agent.<site>`). The handler
raises `schemas.errors` exceptions; it never formats a reply. This module imports no nats, so the
registry can be listed (docs, schema export, tests) without a server.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

C = TypeVar("C")
R = TypeVar("R", bound=msgspec.Struct)
P = TypeVar("P", bound=msgspec.Struct)

Handler = Callable[[C, Any], Awaitable[Any]]

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


@dataclass(frozen=True)
class Endpoint(Generic[C]):
    name: str  # dotted, relative to the service prefix: "rbd.image.promote"
    request: type[msgspec.Struct]
    reply: type[msgspec.Struct]
    handler: Callable[[C, Any], Awaitable[Any]]
    summary: str
    long: bool  # replies `Accepted` at once and reports progress as events
    result: type[msgspec.Struct] | None = None  # a long command's final result (in its op record)

    @property
    def micro_name(self) -> str:
        # micro endpoint names allow only [A-Za-z0-9_-]
        return self.name.replace(".", "-")

    def subject(self, prefix: str) -> str:
        return f"{prefix}.{self.name}"


class Router(Generic[C]):
    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint[C]] = {}

    def command(
        self,
        name: str,
        *,
        request: type[P],
        reply: type[R],
        long: bool = False,
        result: type[msgspec.Struct] | None = None,
    ) -> Callable[[Callable[[C, P], Awaitable[R]]], Callable[[C, P], Awaitable[R]]]:
        if not _NAME.match(name):
            raise ValueError(f"bad endpoint name {name!r}")
        if long and result is None:
            raise ValueError(f"long endpoint {name!r} must declare its result type")

        def register(fn: Callable[[C, P], Awaitable[R]]) -> Callable[[C, P], Awaitable[R]]:
            if name in self.endpoints:
                raise ValueError(f"endpoint {name!r} registered twice")
            summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else name
            self.endpoints[name] = Endpoint(
                name=name, request=request, reply=reply, handler=fn, summary=summary, long=long, result=result
            )
            return fn

        return register
