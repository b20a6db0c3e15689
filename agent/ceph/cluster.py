"""One long-lived librados connection per site, with deadlines on everything.

librados' own timeouts (`rados_mon_op_timeout`, `rados_osd_op_timeout`, `client_mount_timeout`) are
set so a thread blocked on a dead cluster is eventually released; the executor's deadline answers
the caller long before that. A handle that Ceph shut down (blocklisted, ESHUTDOWN) is dropped and a
new one made on the next call.

Manager commands are the exception. librados' `mgr_command` waits on a completion that lives on
its own stack for at most `rados_mon_op_timeout`, then returns without withdrawing the command; a
late answer from the mgr then completes freed memory and the process dies in `ms_dispatch`
(seen on the lab when a returning site's mgr answered a timed-out schedule command). So manager
commands go through a second handle with `rados_mon_op_timeout=0`, on a `DetachedLane`: the
caller still gets its deadline, the thread waits for the mgr's answer (librados resends pending
commands to a new active mgr), and at most a few such threads may be waiting at once.
"""

from __future__ import annotations

import errno as E
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import rados

from agent.ceph.errmap import map_errno
from agent.ceph.executor import CephExecutor, DetachedLane
from agent.config import Timeouts
from schemas.errors import CephDRError, DeadlineExceeded, Internal, Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

_DROP_HANDLE_ERRNOS = {E.ESHUTDOWN, E.ENOTCONN, 108}  # 108 = EBLOCKLISTED (ESHUTDOWN on Linux)


class CephCluster:
    """The agent's connection to its site. All access goes through `call` / `mon_command` / `mgr_command`."""

    def __init__(
        self,
        *,
        conffile: str,
        name: str = "client.admin",
        keyring: str | None = None,
        executor: CephExecutor,
        timeouts: Timeouts | None = None,
        mgr_max_pending: int = 4,
    ) -> None:
        self.conffile = conffile
        self.name = name
        self.keyring = keyring
        self.executor = executor
        self.timeouts = timeouts or Timeouts()
        self._handle: rados.Rados | None = None
        self._mgr_handle: rados.Rados | None = None
        self._handle_lock = threading.Lock()
        self.mgr_lane = DetachedLane(max_pending=mgr_max_pending, name="ceph-mgr")
        self.reachable: bool | None = None
        self.last_error: str | None = None
        self.last_ok_at: float | None = None

    def _conf(self, *, for_mgr: bool = False) -> dict[str, str]:
        t = self.timeouts
        conf = {
            # 0 on the mgr handle: see the module docstring
            "rados_mon_op_timeout": "0" if for_mgr else str(math.ceil(t.mon_op)),
            "rados_osd_op_timeout": str(math.ceil(t.osd_op)),
            "client_mount_timeout": str(math.ceil(t.connect)),
            # a site agent must not spam the cluster log or stderr with librados chatter
            "log_to_stderr": "false",
            "err_to_stderr": "false",
        }
        if self.keyring:
            conf["keyring"] = self.keyring
        return conf

    def _connected_handle(self, *, for_mgr: bool = False) -> rados.Rados:
        """Runs in a worker thread: return the live handle, connecting first if there is none."""
        with self._handle_lock:
            h = self._mgr_handle if for_mgr else self._handle
            if h is not None:
                return h
            r = rados.Rados(conffile=self.conffile, name=self.name, conf=self._conf(for_mgr=for_mgr))
            try:
                r.connect(timeout=math.ceil(self.timeouts.connect))
            except BaseException:
                shutdown_detached(r, "rados")
                raise
            if for_mgr:
                self._mgr_handle = r
            else:
                self._handle = r
            return r

    def _drop_handle(self) -> None:
        with self._handle_lock:
            handles = (self._handle, self._mgr_handle)
            self._handle = self._mgr_handle = None
        for h in handles:
            if h is not None:
                shutdown_detached(h, "rados")

    async def call(
        self,
        fn: Callable[[rados.Rados], T],
        *,
        what: str,
        deadline: float | None = None,
        mgr: bool = False,
    ) -> T:
        """Run `fn(rados_handle)` in the pool with a deadline; map errors; track reachability.

        `mgr=True` runs it on the manager handle and lane (see the module docstring)."""

        def job() -> T:
            return fn(self._connected_handle(for_mgr=mgr))

        runner = self.mgr_lane.call if mgr else self.executor.call
        try:
            result = await runner(job, deadline=deadline or self.timeouts.op, what=what)
        except CephDRError as err:
            n = err.details.get("errno")
            if isinstance(n, int) and n in _DROP_HANDLE_ERRNOS:
                log.warning("dropping Ceph handle after %s; reconnecting on next call", err)
                self._drop_handle()
            if isinstance(err, Unavailable | DeadlineExceeded):
                self.reachable = False
                self.last_error = err.message
            raise
        self.reachable = True
        self.last_ok_at = time.time()
        return result

    async def mon_command(
        self,
        cmd: dict[str, Any],
        *,
        what: str | None = None,
        inbuf: bytes = b"",
        deadline: float | None = None,
    ) -> bytes:
        return await self._command("mon", cmd, what=what, inbuf=inbuf, deadline=deadline)

    async def mgr_command(
        self,
        cmd: dict[str, Any],
        *,
        what: str | None = None,
        inbuf: bytes = b"",
        deadline: float | None = None,
    ) -> bytes:
        return await self._command("mgr", cmd, what=what, inbuf=inbuf, deadline=deadline)

    async def mon_json(self, cmd: dict[str, Any], **kw: Any) -> Any:
        return parse_json(await self.mon_command({**cmd, "format": "json"}, **kw), cmd.get("prefix"), "mon")

    async def mgr_json(self, cmd: dict[str, Any], **kw: Any) -> Any:
        return parse_json(await self.mgr_command({**cmd, "format": "json"}, **kw), cmd.get("prefix"), "mgr")

    async def _command(
        self, target: str, cmd: dict[str, Any], *, what: str | None, inbuf: bytes, deadline: float | None
    ) -> bytes:
        dl = deadline or self.timeouts.op
        where = what or f"{target} {cmd.get('prefix')}"
        payload = json.dumps(cmd)

        def run(r: rados.Rados) -> bytes:
            send = r.mon_command if target == "mon" else r.mgr_command
            ret, out, outs = send(payload, inbuf)  # the bindings ignore a timeout argument
            if ret < 0:
                raise map_errno(-ret, outs.strip() or f"{target} command failed", where=where)
            return bytes(out)

        return await self.call(run, what=where, deadline=dl, mgr=target == "mgr")

    async def probe(self, *, deadline: float | None = None) -> bool:
        """Is the cluster answering? A cheap mon round trip; never raises."""
        try:
            await self.mon_command({"prefix": "mon stat"}, what="probe", deadline=deadline or 5.0)
        except CephDRError:
            return False
        return True

    def close(self) -> None:
        self.mgr_lane.shutdown()
        self._drop_handle()


def parse_json(out: bytes, prefix: object, where: str) -> Any:
    """A Ceph command's JSON answer (mon, mgr or admin socket); empty output is None."""
    text = out.decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise Internal(f"non-JSON answer to {prefix!r}", where=where) from None


def shutdown_detached(handle: Any, what: str = "ceph") -> threading.Thread:
    """Close a librados/libcephfs handle in a thread of its own: shutdown() can block on a dead
    cluster, and must never hold a pool slot or the event loop. A caller about to exit joins the
    returned thread for a bounded time (a libcephfs client that exits without unmounting keeps
    its caps until the MDS declares its session stale, about a minute, see `FsMount.close`)."""

    def run() -> None:
        try:
            handle.shutdown()
        except Exception as exc:  # the handle is being discarded anyway
            log.debug("%s shutdown: %s", what, exc)

    t = threading.Thread(target=run, name=f"{what}-shutdown", daemon=True)
    t.start()
    return t
