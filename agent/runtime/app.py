"""The agent process: connect, fence, serve, scan, beat; drain on SIGTERM.

Order matters. Self-fencing runs against the current epochs before mutating commands are served
(the gate refuses them until then). READY goes to systemd after the first successful scan, and the
watchdog is only fed while the event loop turns and the bus is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time

import msgspec

import agent.service.all  # noqa: F401  (registers every endpoint on the router)
from agent.ceph.cephfs_io import FsMounts
from agent.ceph.cluster import CephCluster
from agent.ceph.executor import CephExecutor
from agent.config import AgentConfig
from agent.context import AgentContext
from agent.identity import Identity
from agent.ops import LocalOps
from agent.runtime import sdnotify
from agent.runtime.fence import Fencer
from agent.runtime.scanner import Scanner
from agent.service.registry import router
from agent.status.diff import carry_forward, counts, diff
from bus import subjects
from bus.codec import encode
from bus.connect import connect_config
from bus.jetstream import ensure_events_stream, state_kv, when_ready
from bus.outbox import Outbox
from bus.service import ServiceHost
from bus.version import cephdr_version
from schemas.fencing import FenceEvent
from schemas.ids import SiteName
from schemas.ops import OpEvent, OpRecord
from schemas.status import Heartbeat, SiteStatus, StatusCounts, event_subject

log = logging.getLogger(__name__)


class Agent:
    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.site = SiteName(cfg.site)
        self.version = cephdr_version()
        self.identity = Identity.load_or_create(cfg.agent.identity_file)
        self.executor = CephExecutor(max_workers=cfg.ceph.max_workers)
        self.cluster = CephCluster(
            conffile=cfg.ceph.conf,
            name=cfg.ceph.client,
            keyring=cfg.ceph.keyring or None,
            executor=self.executor,
            timeouts=cfg.ceph.timeouts,
        )
        self.last: SiteStatus | None = None
        self.last_ok_scan: float | None = None
        self.seq = 0
        self._ready = False
        self._scan_lock = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        cfg, site = self.cfg, self.site
        prefix = cfg.nats.prefix
        nc = await connect_config(cfg.nats, name=f"cephdr-agent-{site}")
        js = nc.jetstream(timeout=cfg.nats.request_timeout)
        await when_ready(lambda: ensure_events_stream(js, prefix), "the events stream")
        kv = await when_ready(lambda: state_kv(js), "the state KV")
        self.outbox = Outbox(nc, js)
        self.outbox.start()

        op_subject = subjects.event_subject(site, "op", prefix)
        self.ops = LocalOps(site, op_subject, self._emit_op)
        mounts = FsMounts(self.cluster)  # one libcephfs mount per file system: scans and commands
        ctx = AgentContext(
            site=site,
            cluster=self.cluster,
            ops=self.ops,
            identity=self.identity,
            asok={"rbd-mirror": cfg.ceph.rbd_mirror_asok, "cephfs-mirror": cfg.ceph.cephfs_mirror_asok},
            status=self,
            mounts=mounts,
        )
        self.fencer = Fencer(site, self.cluster, self._emit_fence)
        self.scanner = Scanner(site, self.cluster, cfg, mounts)
        self.kv = kv
        self.last = await self._stored_status()

        tasks = [
            asyncio.create_task(self.fencer.watch(kv), name="fence-watch"),
            asyncio.create_task(self.fencer.resync_loop(kv), name="fence-resync"),
            asyncio.create_task(self.fencer.run(), name="fence"),
        ]
        host = ServiceHost(
            nc,
            name="cephdr-agent",
            version=self.version,
            description=f"cephdr site agent for {site}: Ceph mirroring status and commands",
            prefix=subjects.agent_prefix(site, prefix),
            router=router,
            ctx=ctx,
            metadata={"site": site},
            gates=[self.fencer.gate],
            audit_service="agent",
        )
        await host.start()
        log.info("serving %s.>", subjects.agent_prefix(site, prefix))
        tasks += [
            asyncio.create_task(self._scan_loop(), name="scan"),
            asyncio.create_task(self._heartbeat_loop(nc), name="heartbeat"),
            asyncio.create_task(self._watchdog_loop(nc), name="watchdog"),
        ]
        try:
            await stop.wait()
        finally:
            sdnotify.stopping()
            sdnotify.status("draining")
            log.info("draining: no new requests; finishing running operations")
            await host.stop()
            await self.ops.drain(within=20)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self.outbox.flush(within=5)
            await self.outbox.stop()
            with contextlib.suppress(Exception):
                await nc.drain()
            self.scanner.close()
            mounts.close(wait=5.0)  # unmount cleanly: a vanished client blocks others' caps (FsMount.close)
            self.executor.shutdown()
            self.cluster.close()

    # --- events
    def _emit_op(self, rec: OpRecord) -> None:
        ev = OpEvent(site=self.site, at=time.time(), op=rec)
        subj = subjects.event_subject(self.site, "op", self.cfg.nats.prefix)
        self.outbox.put(subj, encode(ev), msg_id=f"{rec.op_id}:{rec.state}:{rec.done}:{rec.message}"[:120])

    def _emit_fence(self, ev: FenceEvent) -> None:
        subj = subjects.event_subject(self.site, "fence", self.cfg.nats.prefix)
        self.outbox.put(subj, encode(ev))

    # --- loops
    async def _scan_loop(self) -> None:
        interval = self.cfg.status.interval
        while True:
            started = time.monotonic()
            try:
                await self.scan_once()
            except Exception:
                log.exception("scan failed")
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))

    async def current(self, *, fresh: bool) -> SiteStatus:
        if fresh or self.last is None:
            return await self.scan_once()
        return self.last

    async def scan_once(self) -> SiteStatus:
        async with self._scan_lock:  # an on-demand scan and the loop's must not interleave diffs
            return await self._scan_locked()

    async def _scan_locked(self) -> SiteStatus:
        status = carry_forward(self.last, await self.scanner.scan(self.last))
        events = diff(self.last, status)
        prefix = self.cfg.nats.prefix
        for ev in events:
            self.outbox.put(event_subject(ev, prefix), encode(ev))
        if events or self.last is None or self.last.cluster_reachable != status.cluster_reachable:
            await self._put_kv(subjects.site_status_key(self.site), encode(status))
        self.last = status
        if status.cluster_reachable:
            self.last_ok_scan = time.monotonic()
            if not self._ready:
                self._ready = True
                sdnotify.ready(self._status_line(status))
                log.info("first scan done: %s", self._status_line(status))
        sdnotify.status(self._status_line(status))
        return status

    async def _stored_status(self) -> SiteStatus | None:
        """What this site's agent last stored: the first scan diffs against it, so a restart does
        not re-announce every image, and changes made while the agent was down are still events."""
        try:
            entry = await self.kv.get(subjects.site_status_key(self.site))
        except Exception:  # no key yet (first start) or unreadable: start from nothing
            return None
        if entry.value is None:
            return None
        try:
            return decode_status(entry.value)
        except msgspec.DecodeError:
            log.warning("stored status of %s is unreadable (older format?); starting fresh", self.site)
            return None

    async def _put_kv(self, key: str, value: bytes) -> None:
        try:
            await self.kv.put(key, value)
        except Exception as exc:  # the next change writes it again; events still flow
            log.warning("KV put %s failed: %s", key, exc)

    def heartbeat(self) -> Heartbeat:
        st = self.last
        self.seq += 1
        return Heartbeat(
            site=self.site,
            version=self.version,
            public_key=self.identity.public_key,
            seq=self.seq,
            sent_at=time.time(),
            cluster_reachable=bool(self.cluster.reachable),
            peer_reachable=dict(st.peer_reachable) if st else {},
            counts=counts(st) if st else StatusCounts(),
            scan_age_s=(time.monotonic() - self.last_ok_scan) if self.last_ok_scan else None,
            scan_errors=list(st.errors) if st else [],
            fenced_groups=sorted(self.fencer.fenced_groups),
            epochs=self.fencer.epochs,
        )

    async def _heartbeat_loop(self, nc: object) -> None:
        prefix = self.cfg.nats.prefix
        while True:
            hb = self.heartbeat()
            payload = encode(hb)
            # live only (not in the events stream); the latest one is kept in KV for late joiners
            self.outbox.put(subjects.heartbeat_subject(self.site, prefix), payload, persist=False)
            await self._put_kv(subjects.site_heartbeat_key(self.site), payload)
            await asyncio.sleep(self.cfg.agent.heartbeat_interval)

    async def _watchdog_loop(self, nc: object) -> None:
        interval = sdnotify.watchdog_interval()
        if interval is None:
            return
        while True:
            connected = bool(getattr(nc, "is_connected", False))
            fresh = self.last_ok_scan is not None and (
                time.monotonic() - self.last_ok_scan < 10 * self.cfg.status.interval + 30
            )
            if connected and (fresh or not self._ready):
                sdnotify.watchdog()
            else:
                log.warning("withholding watchdog ping: nats connected=%s, recent scan=%s", connected, fresh)
            await asyncio.sleep(interval)

    @staticmethod
    def _status_line(st: SiteStatus) -> str:
        c = counts(st)
        reach = "cluster ok" if st.cluster_reachable else "CLUSTER UNREACHABLE"
        return f"{reach}; {c.images_total} images, {c.dirs_total} dirs, {c.images_split_brain} split-brain"


def serve(cfg: AgentConfig) -> int:
    """Run until SIGTERM/SIGINT; exit 0 after a graceful drain."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Agent(cfg).run(stop)

    asyncio.run(main())
    return 0


def decode_status(data: bytes) -> SiteStatus:
    return msgspec.json.decode(data, type=SiteStatus)
