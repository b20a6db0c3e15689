"""The one error tree of cephdr, and its wire form.

    CephDRError                         code               status  retryable
    ├── InvalidRequest                  invalid_request     400     no
    │   ├── ConfirmationRequired        confirmation_required 400   no
    │   └── RequestTooLarge             request_too_large   413     no
    ├── PermissionDenied                permission_denied   403     no
    ├── NotFound                        not_found           404     no
    ├── Conflict                        conflict            409     no   (wrong state for the action)
    │   └── Busy                        busy                409     yes  (transient: Ceph said EBUSY/EROFS)
    ├── Unavailable                     unavailable         503     yes  (cluster or peer unreachable)
    │   └── DeadlineExceeded            deadline_exceeded   504     yes
    └── Internal                        internal            500     no   (a bug: message is generic)

Handlers and adapters raise these; exactly one boundary (bus.service) turns them into a reply: the
micro headers `Nats-Service-Error-Code: <status>` / `Nats-Service-Error: <message>` and a JSON body
`{"error": {"code", "message", "retryable", "where", "details"}}`. Messages must never carry secrets
or tracebacks; `Internal` keeps the detail in the log only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    """A structured error: what went wrong, whether retrying can help, and where."""

    code: str
    message: str
    retryable: bool = False
    where: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ErrorReply(msgspec.Struct, frozen=True, kw_only=True):
    """The body of every failed request."""

    error: ErrorBody


class CephDRError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, where: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.details = dict(details or {})

    def body(self) -> ErrorBody:
        return ErrorBody(
            code=self.code,
            message=self.message,
            retryable=self.retryable,
            where=self.where,
            details=self.details,
        )

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" + (f" (at {self.where})" if self.where else "")


class InvalidRequest(CephDRError):
    code, status = "invalid_request", 400


class ConfirmationRequired(InvalidRequest):
    code = "confirmation_required"


class RequestTooLarge(InvalidRequest):
    code, status = "request_too_large", 413


class PermissionDenied(CephDRError):
    code, status = "permission_denied", 403


class NotFound(CephDRError):
    code, status = "not_found", 404


class Conflict(CephDRError):
    code, status = "conflict", 409


class Busy(Conflict):
    code, retryable = "busy", True


class Unavailable(CephDRError):
    code, status, retryable = "unavailable", 503, True


class DeadlineExceeded(Unavailable):
    code, status = "deadline_exceeded", 504


class Internal(CephDRError):
    code, status = "internal", 500


_BY_CODE: dict[str, type[CephDRError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        ConfirmationRequired,
        RequestTooLarge,
        PermissionDenied,
        NotFound,
        Conflict,
        Busy,
        Unavailable,
        DeadlineExceeded,
        Internal,
    )
}


def from_body(body: ErrorBody) -> CephDRError:
    """Rebuild the exception a remote side raised (clients use this to re-raise replies)."""
    cls = _BY_CODE.get(body.code, CephDRError)
    return cls(body.message, where=body.where, details=body.details)


def require_confirmation(confirm: str | None, target: str, action: str) -> None:
    """Refuse a data-discarding or split-brain-risking action unless `confirm` names its target.

    The message says exactly what to send, so an operator at `nats req` can fix the request.
    """
    if confirm != target:
        raise ConfirmationRequired(
            f"{action} on {target} can discard data or cause split-brain; "
            f'repeat the request with "confirm": "{target}"',
            where="$.confirm",
            details={"expected": target},
        )
