"""Checks shared by handlers of dangerous commands (shared with the controller: schemas.errors)."""

from __future__ import annotations

from schemas.errors import require_confirmation

__all__ = ["require_confirmation"]
