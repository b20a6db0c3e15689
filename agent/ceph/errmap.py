"""Ceph exceptions → the cephdr error tree, by errno.

The bindings raise one class per errno family (rbd.ImageBusy, rados.TimedOut, ...), all carrying
`.errno`; mapping on the number keeps rados, rbd and cephfs consistent.
"""

from __future__ import annotations

import errno as E

from schemas.errors import (
    Busy,
    CephDRError,
    Conflict,
    DeadlineExceeded,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    Unavailable,
)

_BY_ERRNO: dict[int, type[CephDRError]] = {
    E.ENOENT: NotFound,
    E.EEXIST: Conflict,
    E.ENOTEMPTY: Conflict,
    E.EBUSY: Busy,
    E.EROFS: Busy,  # librbd's transient "promote while replayer still holds the image" (FINDINGS step 7)
    E.EAGAIN: Busy,
    E.EINVAL: InvalidRequest,
    E.ERANGE: InvalidRequest,
    E.EPERM: PermissionDenied,
    E.EACCES: PermissionDenied,
    E.ETIMEDOUT: DeadlineExceeded,
    E.EINTR: DeadlineExceeded,
    E.ENOTCONN: Unavailable,
    E.ESHUTDOWN: Unavailable,
    E.ECONNREFUSED: Unavailable,
    E.EHOSTUNREACH: Unavailable,
    E.ENOSYS: Conflict,  # e.g. "mirroring is not enabled on remote peer"
    E.EOPNOTSUPP: Conflict,
    E.EREMOTEIO: Conflict,
    E.EXDEV: Conflict,
}


def errno_of(exc: BaseException) -> int | None:
    n = getattr(exc, "errno", None)
    if isinstance(n, int):
        return abs(n)
    return None


def map_errno(n: int, message: str, *, where: str | None = None) -> CephDRError:
    cls = _BY_ERRNO.get(abs(n), Conflict)
    return cls(message, where=where, details={"errno": abs(n), "errno_name": E.errorcode.get(abs(n), "?")})


def map_exception(exc: BaseException, *, where: str | None = None) -> CephDRError:
    """Turn a binding exception into the tree; the binding's own text is kept (it never holds keys)."""
    if isinstance(exc, CephDRError):
        return exc
    n = errno_of(exc)
    text = str(exc) or type(exc).__name__
    if n is None:
        return Conflict(f"ceph: {text}", where=where, details={"exception": type(exc).__name__})
    return map_errno(n, f"ceph: {text}", where=where)
