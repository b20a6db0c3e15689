"""`python -m bench` against the real lab: P1 with one round writes a JSON report with real
figures for every operation, ours and the CLI's (no timing is asserted: the numbers only have to
exist and be measurements)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lab.model import LabInfo

ROOT = Path(__file__).resolve().parents[2]


def test_p1_one_round_reports_real_figures_for_every_operation(lab: LabInfo, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cp = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "P1", "--p1-rounds", "1", "--lab-dir", lab.dir,
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert cp.returncode == 0, cp.stderr[-3000:]
    rep = json.loads(out.read_text())
    assert rep["machine"]["cores"] >= 1 and len(rep["machine"]["load_1_5_15"]) == 3
    rows = {r["case"]: r for r in rep["rows"]}
    assert set(rows) == {"image status", "demote+promote one image", "pool info"}
    for case, r in rows.items():
        assert r["bench"] == "P1" and r["unit"] == "ms", case
        assert r["errors"] == [], (case, r["errors"])
        assert len(r["ours_samples"]) == 1 and len(r["anchor_samples"]) == 1, case
        assert r["ours_median"] > 0 and r["anchor_median"] > 0, case
        assert r["ratio"] == r["ours_median"] / r["anchor_median"], case
        assert r["target"]["kind"] == "faster" and r["target"]["value"] == 20.0, case
        assert r["met"] in (True, False), case
        (floor,) = r["refs"].values()
        assert floor["median"] > 0, case
    # the table went to stdout with the target beside the figures
    assert "P1" in cp.stdout and ">= 20x faster" in cp.stdout
