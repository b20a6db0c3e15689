"""Wait for a condition by polling with a deadline (tests never sleep a fixed time).

`wait_for(probe, timeout, interval, what)` calls probe until its result is truthy and returns it. On the
deadline it raises WaitTimeout naming `what`, with the last value probe returned (or the last exception it
raised), which is usually all one needs to see why a test failed.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    def __init__(self, what: str, timeout: float, last: object) -> None:
        super().__init__(f"timed out after {timeout:.0f}s waiting for {what}; last observed: {last!r}")
        self.last = last


def wait_for(probe: Callable[[], T], timeout: float = 60, interval: float = 0.5, what: str = "condition",
             ignore: tuple[type[BaseException], ...] = (Exception,)) -> T:
    """Poll probe() until truthy. Exceptions listed in `ignore` count as "not yet" (and are reported)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except ignore as e:
            last = e
        if time.monotonic() >= deadline:
            raise WaitTimeout(what, timeout, last)
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


async def async_wait_for(probe: Callable[[], T | Awaitable[T]],
                         timeout: float = 60,
                         interval: float = 0.5, what: str = "condition",
                         ignore: tuple[type[BaseException], ...] = (Exception,)) -> T:
    """Like wait_for; probe may be sync or async."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[return-value,unused-ignore]
            last = value
        except ignore as e:
            last = e
        if loop.time() >= deadline:
            raise WaitTimeout(what, timeout, last)
        await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))
