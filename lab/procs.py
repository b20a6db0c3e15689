"""Process helpers for the lab: pid files, liveness, RSS, stopping by PID.

Liveness reads /proc/PID/stat because PID 1 on the lab machines reaps orphans lazily: a killed daemon lingers
as a zombie and `kill -0` would call it alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

# executables the lab starts; `down` only ever signals processes whose argv[0] is one of these
LAB_EXECUTABLES = frozenset(
    {"ceph-mon", "ceph-mgr", "ceph-osd", "ceph-mds", "rbd-mirror", "cephfs-mirror", "nats-server"}
)


def read_pid(pid_file: str | Path) -> int | None:
    try:
        text = Path(pid_file).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def proc_state(pid: int) -> str | None:
    """The state letter of /proc/PID/stat, None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the comm field is in parentheses and may itself contain spaces or parentheses
    rest = stat[stat.rfind(")") + 2 :]
    return rest.split(" ", 1)[0] if rest else None


def alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    state = proc_state(pid)
    return state is not None and state not in ("Z", "X")


def rss_bytes(pid: int | None) -> int | None:
    if not alive(pid):
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def is_lab_process(pid: int, marker: str) -> bool:
    """True if PID runs one of the lab's executables with `marker` (a lab path) on its command line.

    Guards against signalling a recycled PID that now belongs to something else.
    """
    argv = cmdline(pid)
    if not argv or os.path.basename(argv[0]) not in LAB_EXECUTABLES:
        return False
    return any(marker in a for a in argv)


def find_lab_processes(marker: str) -> list[int]:
    """Every live process of the lab, found by command line (catches daemons whose pid file is gone)."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid != me and alive(pid) and is_lab_process(pid, marker):
            found.append(pid)
    return sorted(found)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Poll until every PID is dead (zombies count as dead); returns the survivors."""
    left = [p for p in pids if alive(p)]
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


def stop(pids: Iterable[int], term_timeout: float, what: str = "") -> None:
    """SIGTERM, wait up to term_timeout, then SIGKILL (rbd-mirror may ignore SIGTERM for a long time).

    term_timeout=0 means SIGKILL straight away.
    """
    targets = [p for p in pids if alive(p)]
    if not targets:
        return
    if term_timeout > 0:
        for p in targets:
            _signal(p, signal.SIGTERM)
        targets = wait_gone(targets, term_timeout)
    for p in targets:
        log.info("SIGKILL %s pid %d", what, p)
        _signal(p, signal.SIGKILL)
    survivors = wait_gone(targets, 10)
    if survivors:
        log.warning("still alive after SIGKILL: %s %s", what, survivors)


def tail(path: str | Path, lines: int = 20) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except OSError:
        return []
    return data.decode(errors="replace").splitlines()[-lines:]
