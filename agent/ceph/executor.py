"""A bounded thread pool for blocking Ceph calls, each with a deadline.

librados/librbd calls block (forever, when PGs are inactive, unless librados' own timeouts are set),
so they never run on the event loop. A call that misses its deadline is abandoned, not killed: its
thread stays busy until librados gives up. `max_pending` counts those too, so a dead cluster fills
the pool once and then every new call fails at once with `Unavailable` instead of queueing.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from agent.ceph.errmap import map_exception
from schemas.errors import CephDRError, DeadlineExceeded, Unavailable

log = logging.getLogger(__name__)


T = TypeVar("T")


async def _answer(fut: asyncio.Future[T], deadline: float, what: str) -> T:
    """The call's result within `deadline`; binding exceptions mapped to the error tree, once,
    with `what` as their location. The work itself is not cancelled: see each runner."""
    try:
        return await asyncio.wait_for(fut, timeout=deadline)
    except TimeoutError:
        raise DeadlineExceeded(f"no answer from Ceph within {deadline:g}s", where=what) from None
    except CephDRError:
        raise
    except Exception as exc:
        raise map_exception(exc, where=what) from exc


class CephExecutor:
    def __init__(self, *, max_workers: int = 8, max_pending: int = 32, name: str = "ceph") -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=name)
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def pending(self) -> int:
        return self._pending

    def _acquire(self, what: str) -> None:
        with self._lock:
            if self._closed:
                raise Unavailable("agent is shutting down", where=what)
            if self._pending >= self._max_pending:
                raise Unavailable(
                    f"{self._pending} Ceph calls still outstanding past their deadlines:"
                    " cluster unresponsive",
                    where=what,
                )
            self._pending += 1

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

    async def call(self, fn: Callable[[], T], *, deadline: float, what: str) -> T:
        """Run `fn()` in the pool; raise `DeadlineExceeded` after `deadline` seconds.

        Binding exceptions are mapped to the error tree here, once, with `what` as their location.
        """
        self._acquire(what)
        ctx = contextvars.copy_context()

        def job() -> T:
            try:
                return ctx.run(fn)
            finally:
                self._release()

        loop = asyncio.get_running_loop()
        try:
            fut = loop.run_in_executor(self._pool, job)
        except RuntimeError as exc:  # pool shut down between the check and the submit
            self._release()
            raise Unavailable("agent is shutting down", where=what) from exc
        return await _answer(fut, deadline, what)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
        # abandoned calls may still be blocked inside librados: don't wait for them
        self._pool.shutdown(wait=False, cancel_futures=True)


class DetachedLane:
    """Blocking calls that must be allowed to run to completion, each on a daemon thread of its own.

    For librados calls that cannot be given a timeout safely (`mgr_command`, see
    `agent.ceph.cluster`): the caller still gets its deadline, but the thread is never abandoned
    inside librados with a dangling completion; it waits for Ceph's late answer. Daemon threads so
    a stuck call never holds up process exit (a pool's workers are joined at exit). At most
    `max_pending` calls may be outstanding; past that, calls fail at once with `Unavailable`.
    """

    def __init__(self, *, max_pending: int = 4, name: str = "ceph-lane") -> None:
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._name = name
        self._closed = False

    @property
    def pending(self) -> int:
        return self._pending

    async def call(self, fn: Callable[[], T], *, deadline: float, what: str) -> T:
        with self._lock:
            if self._closed:
                raise Unavailable("agent is shutting down", where=what)
            if self._pending >= self._max_pending:
                raise Unavailable(
                    f"{self._pending} {self._name} calls still waiting for Ceph past their"
                    " deadlines: daemon unresponsive",
                    where=what,
                )
            self._pending += 1
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        ctx = contextvars.copy_context()

        def settle(ok: bool, value: object) -> None:
            if fut.done():  # the caller gave up (deadline or cancellation)
                return
            if ok:
                fut.set_result(value)  # type: ignore[arg-type]
            else:
                assert isinstance(value, BaseException)
                fut.set_exception(value)

        def run() -> None:
            try:
                result = ctx.run(fn)
            except BaseException as exc:
                outcome: tuple[bool, object] = (False, exc)
            else:
                outcome = (True, result)
            finally:
                with self._lock:
                    self._pending -= 1
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
                loop.call_soon_threadsafe(settle, *outcome)

        threading.Thread(target=run, name=self._name, daemon=True).start()
        return await _answer(fut, deadline, what)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
