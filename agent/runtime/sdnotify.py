"""systemd integration: READY after the first good scan, WATCHDOG only while healthy, STATUS lines.

Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

try:
    import systemd.daemon as _sd
except ImportError:  # pragma: no cover - systemd-python is a dependency; keep running without it
    _sd = None


def _notify(state: str) -> None:
    if _sd is not None and os.environ.get("NOTIFY_SOCKET"):
        _sd.notify(state)


def ready(status: str) -> None:
    _notify(f"READY=1\nSTATUS={status}")


def status(text: str) -> None:
    _notify(f"STATUS={text}")


def watchdog() -> None:
    _notify("WATCHDOG=1")


def stopping() -> None:
    _notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """Half of WatchdogSec, when systemd asked this process for pings."""
    usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid is not None and pid.isdigit() and int(pid) != os.getpid()):
        return None
    return usec / 2 / 1_000_000


def journal_handler(identifier: str) -> logging.Handler | None:
    """A journald handler when running under systemd (JOURNAL_STREAM set), else None."""
    if not os.environ.get("JOURNAL_STREAM"):
        return None
    try:
        from systemd.journal import JournalHandler
    except ImportError:  # pragma: no cover
        return None
    handler: logging.Handler = JournalHandler(SYSLOG_IDENTIFIER=identifier)
    return handler
