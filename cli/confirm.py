"""The typed confirmation of a dangerous command (a forced failover): the operator types the
group's name on the terminal. Reads from the streams it is given, so tests pass fake ones."""

from __future__ import annotations

from typing import TextIO

from schemas.errors import ConfirmationRequired


def ask(target: str, action: str, *, stdin: TextIO, stderr: TextIO) -> str:
    """The target, once the operator typed it exactly; otherwise `ConfirmationRequired` (nothing
    is sent). A non-interactive stdin cannot confirm: scripts pass `--yes-i-really-mean-it`."""
    if not stdin.isatty():
        raise ConfirmationRequired(
            f"{action} on {target} needs a confirmation: run it on a terminal and type the group's name, "
            "or pass --yes-i-really-mean-it",
            where="confirm",
            details={"expected": target},
        )
    stderr.write(f"{action} on {target}.\nType the group's name ({target}) to go ahead: ")
    stderr.flush()
    typed = stdin.readline().strip()
    if typed != target:
        raise ConfirmationRequired(
            f"confirmation did not match ({typed!r} is not {target!r}); nothing was sent",
            where="confirm",
            details={"expected": target},
        )
    return target
