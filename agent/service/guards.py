"""Checks shared by handlers of dangerous commands."""

from __future__ import annotations

from schemas.errors import ConfirmationRequired


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
