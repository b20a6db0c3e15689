"""Running commands for the lab: every subprocess has a timeout, failures become LabError."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from lab import procs

log = logging.getLogger(__name__)

T = TypeVar("T")
CLI_TIMEOUT = 120.0


class LabError(Exception):
    """A lab step failed; `daemon` names the daemon at fault when there is one, `log_tail` its last lines."""

    def __init__(self, message: str, daemon: str | None = None, log_tail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.daemon = daemon
        self.log_tail = list(log_tail)

    def describe(self) -> str:
        lines = [str(self)]
        if self.log_tail:
            lines.append(f"--- last {len(self.log_tail)} log lines of {self.daemon or 'the command'}:")
            lines.extend(f"    {line}" for line in self.log_tail)
        return "\n".join(lines)


class DaemonFailed(LabError):
    """A daemon died or never came up: polling stops at once (waiting longer cannot help)."""


def run(
    argv: Sequence[str],
    *,
    timeout: float = CLI_TIMEOUT,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdout_path: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv; stdout goes to stdout_path when given (daemons that fork must not hold our pipes)."""
    full_env = {**os.environ, **env} if env else None
    try:
        if stdout_path is not None:
            with open(stdout_path, "ab") as out:
                cp = subprocess.run(
                    list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    timeout=timeout, env=full_env, check=False,
                )
        else:
            cp = subprocess.run(
                list(argv), input=input, stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True, timeout=timeout, env=full_env, check=False,
            )
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timed out after {timeout:.0f}s: {_show(argv)}") from e
    except OSError as e:
        raise LabError(f"cannot run {_show(argv)}: {e}") from e
    if check and cp.returncode != 0:
        err = (cp.stderr or b"").decode(errors="replace").strip().splitlines()
        if stdout_path is not None:
            err = procs.tail(stdout_path)
        raise LabError(f"exit {cp.returncode}: {_show(argv)}", log_tail=err[-20:])
    return cp


def _show(argv: Sequence[str]) -> str:
    return " ".join(str(a) for a in argv)


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.25,
    on_timeout: Callable[[], LabError] | None = None,
) -> T:
    """Poll probe() until it returns something truthy; LabError (or on_timeout()) at the deadline.

    A LabError from probe counts as "not yet" (a daemon that is still starting refuses connections);
    DaemonFailed does not.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except DaemonFailed:
            raise
        except LabError as e:
            last = e
        if time.monotonic() >= deadline:
            if on_timeout is not None:
                raise on_timeout()
            raise LabError(f"timeout ({timeout:.0f}s) waiting for {what}; last: {last}")
        time.sleep(interval)
