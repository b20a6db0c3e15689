"""What each step action does, against the agents and the store (adapter: I/O only, decisions in
`controller.checks` and `controller.ops`).

    @action("rbd.demote")
    async def demote(env: Env, step: Step) -> Outcome: ...

Every action is idempotent (agent commands are: demote of a non-primary image, import of a known
peer, add of an existing schedule change nothing), so the runner may re-run the step a crashed
controller left `running`. Request ids are `<op>-<step>-<attempt>[-k]`: unique per attempt, since
an agent remembers a refused request id and would answer a retry with the old refusal.
"""

from controller.actions import cephfs, fencing, rbd, schedules, waits  # noqa: F401  (register actions)
from controller.actions.base import ACTIONS, Action, Env, Outcome, Step, action

__all__ = ["ACTIONS", "Action", "Env", "Outcome", "Step", "action"]
