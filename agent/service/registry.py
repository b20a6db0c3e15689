"""The agent's one router. Endpoint modules import it and register with `@router.command(...)`."""

from __future__ import annotations

from agent.context import AgentContext
from bus.router import Router

router: Router[AgentContext] = Router()
