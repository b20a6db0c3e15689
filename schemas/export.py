"""Write the JSON Schema of every message into `schemas/json/` (run: `make schemas`).

One self-contained file per type, named `<module>.<Type>.json`, plus `subjects.json`: for every
endpoint its subject, summary, and request/reply schema files. `tests/unit/test_schema_drift.py`
fails when the committed files differ from what the code produces.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

OUT = Path(__file__).parent / "json"


def _name(t: type) -> str:
    return f"{t.__module__.removeprefix('schemas.')}.{t.__name__}"


def message_types() -> list[type[msgspec.Struct]]:
    """Every wire type: endpoint requests/replies, events, KV records, the error reply."""
    import agent.service.all  # noqa: F401  (registers endpoints)
    import controller.service.all  # noqa: F401
    from agent.service.registry import router
    from bus.router import Endpoint
    from controller.service.registry import router as ctl_router
    from schemas.audit import AuditRecord
    from schemas.ctl import AlertEvent, CtlOpEvent, GroupEvent
    from schemas.errors import ErrorReply
    from schemas.fencing import FenceEvent, FenceRecord
    from schemas.group import GroupSpec
    from schemas.lease import LeaderEvent, LeaseRecord
    from schemas.ops import OpEvent
    from schemas.policy import DecisionEvent
    from schemas.status import (
        DaemonEvent,
        DirEvent,
        Heartbeat,
        ImageEvent,
        PoolEvent,
        ScheduleEvent,
        SiteStatus,
    )

    types: dict[str, type[msgspec.Struct]] = {}
    endpoints: list[Endpoint[Any]] = [*router.endpoints.values(), *ctl_router.endpoints.values()]
    for ep in endpoints:
        for t in (ep.request, ep.reply, ep.result):
            if t is not None:
                types[_name(t)] = t
    for t in (
        AuditRecord,
        ErrorReply,
        Heartbeat,
        ImageEvent,
        DirEvent,
        DaemonEvent,
        PoolEvent,
        ScheduleEvent,
        SiteStatus,
        OpEvent,
        FenceEvent,
        FenceRecord,
        LeaderEvent,
        LeaseRecord,
        GroupSpec,
        CtlOpEvent,
        GroupEvent,
        AlertEvent,
        DecisionEvent,
    ):
        types[_name(t)] = t
    return [types[k] for k in sorted(types)]


def render() -> dict[str, str]:
    """File name -> content, exactly as committed."""
    from agent.service.registry import router
    from controller.service.registry import router as ctl_router

    files: dict[str, str] = {}
    for t in message_types():
        schema: dict[str, Any] = msgspec.json.schema(t)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = _name(t)
        files[f"{_name(t)}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    index = {
        f"cephdr.agent.<site>.{ep.name}": {
            "summary": ep.summary,
            "request": f"{_name(ep.request)}.json",
            "reply": f"{_name(ep.reply)}.json",
            "long": ep.long,
            **({"result": f"{_name(ep.result)}.json"} if ep.result else {}),
        }
        for ep in sorted(router.endpoints.values(), key=lambda e: e.name)
    }
    index |= {
        f"cephdr.ctl.{ep.name}": {
            "summary": ep.summary,
            "request": f"{_name(ep.request)}.json",
            "reply": f"{_name(ep.reply)}.json",
            "long": ep.long,
            **({"result": f"{_name(ep.result)}.json"} if ep.result else {}),
        }
        for ep in sorted(ctl_router.endpoints.values(), key=lambda e: e.name)
    }
    files["subjects.json"] = json.dumps(index, indent=2, sort_keys=True) + "\n"
    return files


def main() -> int:
    OUT.mkdir(exist_ok=True)
    files = render()
    for stale in OUT.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (OUT / name).write_text(text)
    print(f"wrote {len(files)} schema files to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
