"""Serving a router as a `nats.micro` service: the one place where outcomes become replies.

Every endpoint goes through `_serve`: size limit, decode + validate, gates (e.g. self-fencing),
`request_id` de-duplication, the handler, and the mapping of the error tree to micro error
headers plus a JSON body. A handler never sees a raw message and never formats a reply; nothing but
a generic message leaves for a bug (`Internal`), the traceback stays in the log. Every outcome, ok
or not, goes to the audit sink afterwards (`bus.audit`: queued, never awaited on the bus).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import msgspec
from nats.aio.client import Client as NATS
from nats.micro import add_service
from nats.micro.request import Request as MicroRequest
from nats.micro.service import Service

from bus.audit import AuditTrail, audit_subject
from bus.codec import MAX_REQUEST_BYTES, decode_request, encode
from bus.dedupe import Deduper
from bus.router import Endpoint, Router
from schemas.audit import AuditService
from schemas.errors import CephDRError, ErrorReply, Internal

log = logging.getLogger(__name__)
C = TypeVar("C")

# (endpoint, decoded request) -> raise to refuse before the handler runs
Gate = Callable[[Endpoint[Any], msgspec.Struct], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What an audit sink hears about every request."""

    endpoint: str
    subject: str
    request: msgspec.Struct | None  # None when it did not decode
    ok: bool
    error: CephDRError | None
    duration_s: float
    headers: dict[str, str] = field(default_factory=dict)
    reply: str = ""  # the reply subject: its inbox prefix names the sender (bus.audit.sender_of)
    size: int = 0  # request bytes
    at: float = 0.0  # wall clock on arrival


AuditSink = Callable[[Outcome], Awaitable[None]]


class ServiceHost(Generic[C]):
    def __init__(
        self,
        nc: NATS,
        *,
        name: str,
        version: str,
        description: str,
        prefix: str,
        router: Router[C],
        ctx: C,
        metadata: dict[str, str] | None = None,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        gates: list[Gate] | None = None,
        audit: AuditSink | None = None,
        audit_service: AuditService | None = None,
    ) -> None:
        """`audit_service` ("agent"/"ctl") records every outcome in the audit stream (on
        `bus.audit.audit_subject(prefix)`, site from `metadata`); `audit` is any other sink."""
        self.nc = nc
        self.name = name
        self.version = version
        self.description = description
        self.prefix = prefix
        self.router = router
        self.ctx = ctx
        self.metadata = dict(metadata or {})
        self.max_request_bytes = max_request_bytes
        self.gates = list(gates or [])
        self.audit = audit
        self.trail: AuditTrail | None = None
        if audit is None and audit_service is not None:
            self.trail = AuditTrail(
                nc, audit_subject(prefix), service=audit_service, site=self.metadata.get("site")
            )
            self.audit = self.trail
        self.dedupe = Deduper()
        self.service: Service | None = None

    async def start(self) -> None:
        if self.trail is not None:
            self.trail.start()
        self.service = await add_service(
            self.nc,
            name=self.name,
            version=self.version,
            # natscli validates INFO/STATS against micro v1 schemas: description must be a
            # string and endpoint data an object (nats-py defaults give null for both)
            description=self.description,
            metadata=self.metadata,
            stats_handler=lambda ep: {},
        )
        for ep in self.router.endpoints.values():
            await self.service.add_endpoint(
                name=ep.micro_name,
                subject=ep.subject(self.prefix),
                handler=self._handler(ep),
                metadata={"summary": ep.summary, "request": ep.request.__name__, "reply": ep.reply.__name__},
            )
        # started means served: the server has our subscriptions before anyone is told we are up
        await self.nc.flush()

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None
        if self.trail is not None:
            await self.trail.stop()

    def _handler(self, ep: Endpoint[C]) -> Callable[[MicroRequest], Awaitable[None]]:
        async def handle(req: MicroRequest) -> None:
            await self._serve(ep, req)

        return handle

    async def _serve(self, ep: Endpoint[C], req: MicroRequest) -> None:
        t0, at = time.monotonic(), time.time()
        body: msgspec.Struct | None = None
        error: CephDRError | None = None
        try:
            body = decode_request(req.data, ep.request, max_bytes=self.max_request_bytes)
            for gate in self.gates:
                await gate(ep, body)
            request_id = getattr(body, "request_id", None)
            if request_id:
                reply = await self.dedupe.run(
                    ep.name, request_id, Deduper.fingerprint(encode(body)), lambda: self._act(ep, body)
                )
            else:
                reply = await self._act(ep, body)
        except CephDRError as err:
            error = err
        except Exception:
            log.exception("bug in %s", ep.name)
            error = Internal(f"internal error in {ep.name}; the agent log has the details", where=ep.name)
        try:
            if error is None:
                await req.respond(reply)
            else:
                if not isinstance(error, Internal):
                    log.info("%s refused: %s", ep.name, error)
                await req.respond_error(
                    str(error.status), error.message, data=encode(ErrorReply(error=error.body()))
                )
                self._count_error(ep, error)
        finally:
            if self.audit is not None:
                outcome = Outcome(
                    endpoint=ep.name,
                    subject=req.subject,
                    request=body,
                    ok=error is None,
                    error=error,
                    duration_s=time.monotonic() - t0,
                    headers=dict(req.headers or {}),
                    reply=req._msg.reply or "",  # nats-py's micro Request has no public accessor
                    size=len(req.data),
                    at=at,
                )
                try:
                    await self.audit(outcome)
                except Exception:
                    log.exception("audit sink failed for %s", ep.name)

    def _count_error(self, ep: Endpoint[C], error: CephDRError) -> None:
        """nats-py counts an error in STATS only when the handler raises, but we reply ourselves
        (to add the JSON body): without this, `nats micro stats` shows 0 errors for ever. The
        counters are nats-py's private fields (nats-py is pinned; tests/bus/test_micro_schemas.py
        fails if they move)."""
        for micro_ep in getattr(self.service, "_endpoints", None) or []:
            if getattr(micro_ep, "_name", None) == ep.micro_name and hasattr(micro_ep, "_num_errors"):
                micro_ep._num_errors += 1
                micro_ep._last_error = f"{error.status}:{error.message}"

    async def _act(self, ep: Endpoint[C], body: msgspec.Struct) -> bytes:
        result = await ep.handler(self.ctx, body)
        if not isinstance(result, ep.reply):
            raise Internal(f"{ep.name} produced {type(result).__name__}, not {ep.reply.__name__}")
        return encode(result)
