"""The controller's one router; endpoint modules register with `@router.command(...)`."""

from __future__ import annotations

from bus.router import Router
from controller.context import ControllerContext

router: Router[ControllerContext] = Router()
