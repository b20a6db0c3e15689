"""What a `cephdr` exit status means, mapped from the one error tree (schemas/errors.py).

    0  OK            the request, or the operation it started, succeeded
    1  ERROR         anything else (an internal error: the controller or agent log has it)
    2  USAGE         bad arguments or an invalid request (argparse also exits 2)
    3  REFUSED       nothing was done: busy, wrong state (conflict), not found, confirmation
                     missing, permission denied
    4  FAILED        an operation ran and failed or was cancelled (its record says what it left)
    5  TIMED_OUT     no answer, or the operation still running, at the deadline
    6  UNAVAILABLE   NATS, the controller or an agent cannot be reached

Scripts can rely on these: 3 means "nothing changed, fix the request or wait", 4 means "look at
the operation", 5 and 6 mean "the outcome is unknown or nothing answered: look, then retry".
"""

from __future__ import annotations

from schemas.errors import (
    CephDRError,
    ConfirmationRequired,
    Conflict,
    DeadlineExceeded,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Unavailable,
)

OK = 0
ERROR = 1
USAGE = 2
REFUSED = 3
FAILED = 4
TIMED_OUT = 5
UNAVAILABLE = 6

MEANING = {
    OK: "ok",
    ERROR: "error",
    USAGE: "usage or invalid request",
    REFUSED: "refused (nothing was done)",
    FAILED: "operation failed",
    TIMED_OUT: "timed out",
    UNAVAILABLE: "unavailable",
}


def for_error(err: CephDRError) -> int:
    """The exit status an error means; subclasses are tested before their bases."""
    if isinstance(err, ConfirmationRequired):  # an InvalidRequest, but the request was fine: refused
        return REFUSED
    if isinstance(err, InvalidRequest):
        return USAGE
    if isinstance(err, NotFound | Conflict | PermissionDenied):  # Busy is a Conflict
        return REFUSED
    if isinstance(err, DeadlineExceeded):
        return TIMED_OUT
    if isinstance(err, Unavailable):
        return UNAVAILABLE
    return ERROR


def for_op_state(state: str) -> int:
    """The exit status of a finished (or still running, at the deadline) operation."""
    if state == "succeeded":
        return OK
    if state == "running":
        return TIMED_OUT
    return FAILED
