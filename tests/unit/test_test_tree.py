"""The test tree has no packages (no __init__.py under tests/ but helpers), so pytest imports each
test module by its basename: two test files with one name abort the whole run at collection. This
happened once (two helpers each added a test_audit_trail.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_its_own_basename() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py") if "node_modules" not in p.parts)
    assert names, "found no test modules: the path is wrong"
    assert [n for n, k in names.items() if k > 1] == []
