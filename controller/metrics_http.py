"""The controller's `GET /metrics` (adapter): a minimal HTTP/1.1 server on asyncio, and the scrape
that gathers a `metrics.Snapshot` from the state store and the controller's memory.

Each connection gets one request and is closed. Reading the request and gathering the snapshot
each have a deadline: a client that never finishes its request, or a state store that does not
answer, costs one connection, never the controller. A scrape the store fails still answers, with
`cephdr_controller_state_store_up 0` and what the controller holds in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable

from bus.jetstream import kv_keys
from bus.version import cephdr_version
from controller import metrics
from controller.context import ControllerContext
from controller.store import OP_PREFIX
from schemas.ctl import OpRecord
from schemas.errors import CephDRError
from schemas.status import SiteStatus

log = logging.getLogger(__name__)

READ_TIMEOUT = 5.0
MAX_REQUEST = 8192


class MetricsServer:
    def __init__(
        self, host: str, port: int, collect: Callable[[], Awaitable[str]], *, collect_timeout: float
    ) -> None:
        self.host, self.port = host, port
        self.collect = collect
        self.collect_timeout = collect_timeout
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind and listen; OSError when the address is taken or not ours."""
        self.server = await asyncio.start_server(self._handle, self.host, self.port, limit=MAX_REQUEST)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), READ_TIMEOUT)
            self.server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                await _reply(writer, 400, "bad or incomplete request\n")
                return
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(parts) != 3:
                await _reply(writer, 400, "bad request line\n")
                return
            method, target = parts[0], parts[1].split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                await _reply(writer, 405, "only GET\n", extra="Allow: GET, HEAD\r\n")
                return
            if target != "/metrics":
                await _reply(writer, 404, "cephdr controller: metrics at /metrics\n")
                return
            try:
                text = await asyncio.wait_for(self.collect(), self.collect_timeout)
            except TimeoutError:
                await _reply(writer, 503, f"gathering metrics took over {self.collect_timeout:g}s\n")
                return
            await _reply(writer, 200, text, content_type=metrics.CONTENT_TYPE, head=method == "HEAD")
        except Exception as exc:  # one bad connection must not take the listener down
            log.warning("metrics request failed: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), READ_TIMEOUT)


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Unavailable"}


async def _reply(
    writer: asyncio.StreamWriter,
    code: int,
    body: str,
    *,
    content_type: str = "text/plain; charset=utf-8",
    extra: str = "",
    head: bool = False,
) -> None:
    data = body.encode()
    writer.write(
        f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(data)}\r\n{extra}Connection: close\r\n\r\n".encode()
        + (b"" if head else data)
    )
    await asyncio.wait_for(writer.drain(), READ_TIMEOUT)


class Scraper:
    """Gathers a snapshot per scrape. Finished operations are read from KV once each (the tally
    remembers them); running ones are read again every time."""

    def __init__(
        self,
        ctx: ControllerContext,
        *,
        is_leader: Callable[[], bool],
        decisions: metrics.Decisions,
    ) -> None:
        self.ctx = ctx
        self.is_leader = is_leader
        self.decisions = decisions
        self.tally = metrics.OpTally()
        self.version = cephdr_version()

    async def snapshot(self) -> metrics.Snapshot:
        ctx = self.ctx
        memory = metrics.Snapshot(
            holder=ctx.leader,
            leader=self.is_leader(),
            store_up=False,
            version=self.version,
            sites=[ctx.sites.info(s) for s in ctx.sites.names()],
            decisions=self.decisions,
            last_decision=dict(ctx.decisions),
        )
        try:
            groups = await ctx.store.groups()
            wanted = sorted({s for g in groups for s in g.spec.sites} | set(ctx.sites.names()))
            got = await asyncio.gather(*(ctx.store.site_status(s) for s in wanted))
            statuses: dict[str, SiteStatus | None] = dict(zip(wanted, got, strict=True))
            running = await self._ops()
            by_id = {op.op_id: op for op in running}
            last_ops: dict[str, OpRecord] = {}
            for g in groups:
                op_id = g.active_op or g.last_op
                if op_id:
                    op = by_id.get(op_id) or ctx.runner.current.get(op_id) or await ctx.store.op(op_id)
                    if op is not None:
                        last_ops[g.name] = op
        except CephDRError as exc:
            log.warning("metrics: state store: %s", exc)
            return memory
        return dataclasses.replace(
            memory,
            store_up=True,
            sites=[ctx.sites.info(s) for s in wanted],
            groups=groups,
            statuses=statuses,
            last_ops=last_ops,
            running=running,
            tally=self.tally,
        )

    async def _ops(self) -> list[OpRecord]:
        """Tally newly finished operations; return the running ones."""
        keys = await kv_keys(self.ctx.store.kv, OP_PREFIX)
        running = []
        for key in keys:
            op_id = key[len(OP_PREFIX):]
            if op_id in self.tally.seen:
                continue
            op = await self.ctx.store.op(op_id)
            if op is None:
                continue
            if op.state == "running":
                running.append(op)
            else:
                self.tally.add([op])
        return running

    async def render(self) -> str:
        return metrics.render(await self.snapshot())


async def serve(
    listen: str,
    ctx: ControllerContext,
    *,
    is_leader: Callable[[], bool],
    decisions: metrics.Decisions,
    timeout: float,
) -> MetricsServer | None:
    """Start `GET /metrics` on `listen` (None when empty). A taken port is logged, not fatal: a
    controller without its metrics still fails over groups."""
    addr = metrics.parse_listen(listen)
    if addr is None:
        return None
    scraper = Scraper(ctx, is_leader=is_leader, decisions=decisions)
    server = MetricsServer(addr[0], addr[1], scraper.render, collect_timeout=timeout)
    try:
        await server.start()
    except OSError as exc:
        log.error("metrics: cannot listen on %s: %s; running without /metrics", listen, exc)
        return None
    log.info("metrics at http://%s/metrics", listen)
    return server
