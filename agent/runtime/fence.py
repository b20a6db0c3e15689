"""Self-fencing, the I/O side: watch the groups' epochs in KV and demote what must not be primary.

Until the first pass has run against a reachable cluster (and while a newer epoch is being
applied), mutating commands are refused with a retryable `Unavailable`: an agent must not, say,
promote an image for a group whose epoch it has not yet checked. Reads are always served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from agent.ceph import fs_mirror, rbd_image
from agent.ceph.cluster import CephCluster
from agent.fencing import fence_targets, filesystems_of, fs_fence_targets, pools_of
from bus import subjects
from bus.jetstream import kv_keys
from bus.router import Endpoint
from schemas.common import Command
from schemas.errors import CephDRError, NotFound, Unavailable
from schemas.fencing import FenceAction, FenceEvent, FenceRecord, FsFenceAction
from schemas.ids import ImageName, PoolName, SiteName

log = logging.getLogger(__name__)


class Fencer:
    def __init__(
        self,
        site: SiteName,
        cluster: CephCluster,
        emit: Callable[[FenceEvent], None],
        *,
        retry_s: float = 5.0,
    ) -> None:
        self.site = site
        self.cluster = cluster
        self.emit = emit
        self.retry_s = retry_s
        self.records: dict[str, FenceRecord] = {}
        self.applied = asyncio.Event()
        self._dirty = asyncio.Event()
        self.fenced_groups: set[str] = set()

    @property
    def epochs(self) -> dict[str, int]:
        return {g: r.epoch for g, r in self.records.items()}

    async def gate(self, ep: Endpoint[Any], body: msgspec.Struct) -> None:
        if isinstance(body, Command) and not self.applied.is_set():
            raise Unavailable(
                "self-fencing has not completed against the cluster yet; retry shortly", where=ep.name
            )

    def update(self, key: str, value: bytes | None) -> None:
        group = key.removeprefix(subjects.FENCE_KEY_PREFIX)
        if value is None:
            self.records.pop(group, None)
            return
        try:
            rec = msgspec.json.decode(value, type=FenceRecord)
        except msgspec.DecodeError as exc:
            log.error("ignoring malformed fence record %s: %s", key, exc)
            return
        old = self.records.get(group)
        self.records[group] = rec
        if old is None or (old.epoch, old.primary, old.rbd, old.fs) != (
            rec.epoch,
            rec.primary,
            rec.rbd,
            rec.fs,
        ):
            if rec.primary != self.site:
                self.applied.clear()
            self._dirty.set()

    async def resync(self, kv: KeyValue) -> None:
        """Read every fence record afresh, then run a pass. At start-up and every `resync_s`:
        self-fencing must not hang on one watch message nats-py dropped (seen in CI: a restarted
        agent whose watcher never delivered, its gate closed for good)."""
        prefix = subjects.FENCE_KEY_PREFIX
        current: set[str] = set()
        for key in await kv_keys(kv, prefix):
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:  # deleted: its subject stays in the stream
                continue
            current.add(key.removeprefix(prefix))
            self.update(key, entry.value)
        for group in set(self.records) - current:
            self.update(f"{prefix}{group}", None)
        self._dirty.set()

    async def resync_loop(self, kv: KeyValue, *, every_s: float = 30.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.resync(kv)
            except Exception as exc:  # the bus is down: the next round tries again
                log.warning("re-reading fence records failed: %s", exc)

    async def watch(self, kv: KeyValue) -> None:
        """Read the current records, then follow `fence.*` keys."""
        while True:
            try:
                await self.resync(kv)
                break
            except Exception as exc:
                log.warning("reading fence records failed (%s); retrying in %.0fs", exc, self.retry_s)
                await asyncio.sleep(self.retry_s)
        while True:  # a watcher that fails to start (JetStream slow after a restart) is retried
            try:
                watcher = await kv.watch(f"{subjects.FENCE_KEY_PREFIX}>")
            except Exception as exc:
                log.warning("watching fence records failed (%s); retrying in %.0fs", exc, self.retry_s)
                await asyncio.sleep(self.retry_s)
                continue
            try:
                async for entry in watcher:
                    if entry is None:  # end of the initial values
                        self._dirty.set()
                        continue
                    deleted = entry.operation in ("DEL", "PURGE") or entry.value is None
                    self.update(entry.key, None if deleted else entry.value)
            finally:
                await watcher.stop()  # type: ignore[no-untyped-call]

    async def run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self.apply_once()
            except CephDRError as err:
                log.warning("self-fencing pass failed (%s); retrying in %.0fs", err, self.retry_s)
                await asyncio.sleep(self.retry_s)
                self._dirty.set()
            except Exception:  # never let the pass die: the command gate would stay shut for good
                log.exception("self-fencing pass crashed; retrying in %.0fs", self.retry_s)
                await asyncio.sleep(self.retry_s)
                self._dirty.set()

    async def apply_once(self) -> None:
        records = list(self.records.values())
        pools = pools_of(records, self.site)
        primary_here = {p: await self._primary_images(p) for p in sorted(pools)}
        targets = fence_targets(self.site, records, primary_here)
        by_group: dict[str, list[FenceAction]] = {}
        fs_by_group: dict[str, list[FsFenceAction]] = {}
        for t in targets:
            try:
                await self._demote(t.pool, t.image)
                by_group.setdefault(t.group, []).append(FenceAction(pool=t.pool, image=t.image, ok=True))
            except CephDRError as err:
                by_group.setdefault(t.group, []).append(
                    FenceAction(pool=t.pool, image=t.image, ok=False, error=err.message)
                )
        mirrored = {f: await self._mirrored_dirs(f) for f in sorted(filesystems_of(records, self.site))}
        for ft in fs_fence_targets(self.site, records, mirrored):
            try:
                await fs_mirror.dir_remove(self.cluster, ft.fs, ft.path)
                fs_by_group.setdefault(ft.group, []).append(FsFenceAction(fs=ft.fs, path=ft.path, ok=True))
            except CephDRError as err:
                fs_by_group.setdefault(ft.group, []).append(
                    FsFenceAction(fs=ft.fs, path=ft.path, ok=False, error=err.message)
                )
        for group in sorted(set(by_group) | set(fs_by_group)):
            actions, fs_actions = by_group.get(group, []), fs_by_group.get(group, [])
            rec = self.records.get(group) or next(r for r in records if r.group == group)
            self.fenced_groups.add(group)
            log.warning(
                "self-fenced group %s at epoch %d (primary is %s): demoted %d of %d image(s), "
                "stopped mirroring %d of %d directory(ies) out",
                group,
                rec.epoch,
                rec.primary,
                sum(a.ok for a in actions),
                len(actions),
                sum(a.ok for a in fs_actions),
                len(fs_actions),
            )
            self.emit(
                FenceEvent(
                    site=self.site,
                    at=time.time(),
                    group=rec.group,
                    epoch=rec.epoch,
                    primary=rec.primary,
                    actions=actions,
                    fs_actions=fs_actions,
                )
            )
        failed = [a for acts in by_group.values() for a in acts if not a.ok]
        failed_fs = [a for acts in fs_by_group.values() for a in acts if not a.ok]
        if failed or failed_fs:
            raise Unavailable("some images or directories could not be fenced")
        self.applied.set()

    async def _mirrored_dirs(self, fs: str) -> set[str]:
        """Directories this site mirrors out of `fs` (none when mirroring is off or fs is absent)."""
        try:
            entry = await fs_mirror.get_fs(self.cluster, fs)
        except NotFound:
            return set()
        if not entry.mirroring:
            return set()
        # the module's omap, not `dirmap`: a mgr command per directory stalls while a returning
        # site's mgr is still loading its modules, and fencing must not wait for that
        return set(await fs_mirror.dir_paths(self.cluster, entry))

    async def _primary_images(self, pool: PoolName) -> set[ImageName]:
        infos = await rbd_image.mirror_image_info_list(self.cluster, pool)
        return {ImageName(name) for name, info in infos.items() if info["primary"]}

    async def _demote(self, pool: PoolName, image: ImageName) -> None:
        await rbd_image.demote_once(self.cluster, pool, image, deadline=30.0)
