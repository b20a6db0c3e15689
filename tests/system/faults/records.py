"""What a fault drill reports: one row per trial, gathered per drill into the summary table
`make faults` prints (and writes as JSON). Pure bookkeeping: no bus, no Ceph."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Trial:
    passed: bool
    lost: int = 0  # events or acknowledged data the drill expected and did not find
    duplicated: int = 0  # steps applied twice, or events stored twice
    recover_s: float | None = None  # from the fault to the system serving correctly again
    note: str = ""


@dataclass
class Drill:
    name: str
    what: str
    trials: list[Trial] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        times = [t.recover_s for t in self.trials if t.recover_s is not None]
        return {
            "drill": self.name,
            "trials": len(self.trials),
            "passed": sum(t.passed for t in self.trials),
            "lost": sum(t.lost for t in self.trials),
            "duplicated": sum(t.duplicated for t in self.trials),
            "recover_median_s": round(statistics.median(times), 1) if times else None,
            "recover_max_s": round(max(times), 1) if times else None,
        }


@dataclass
class Book:
    drills: dict[str, Drill] = field(default_factory=dict)

    def drill(self, name: str, what: str) -> Drill:
        return self.drills.setdefault(name, Drill(name, what))

    def table(self) -> str:
        head = ("drill", "trials", "passed", "lost", "duplicated", "recover median/max s")
        rows = []
        for d in self.drills.values():
            r = d.row()
            rec = "-" if r["recover_median_s"] is None else f"{r['recover_median_s']} / {r['recover_max_s']}"
            counts = (str(r[k]) for k in ("trials", "passed", "lost", "duplicated"))
            rows.append((d.name, *counts, rec))
        widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=False)]

        def line(cells: tuple[str, ...]) -> str:
            pairs = enumerate(zip(cells, widths, strict=True))
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

        return "\n".join([line(head), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)])

    def dump(self, path: Path) -> None:
        doc = {
            "machine": {"cpus": os.cpu_count()},
            "drills": [{**d.row(), "what": d.what, "runs": [asdict(t) for t in d.trials]}
                       for d in self.drills.values()],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")


def trials(drill: str, default: int = 1) -> int:
    """How many trials: CEPHDR_FAULT_TRIALS_<DRILL> (upper case, dashes as underscores), else
    CEPHDR_FAULT_TRIALS, else `default`."""
    key = "CEPHDR_FAULT_TRIALS_" + drill.upper().replace("-", "_")
    raw = os.environ.get(key) or os.environ.get("CEPHDR_FAULT_TRIALS") or str(default)
    return max(1, int(raw))
