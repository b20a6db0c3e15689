"""The shipped Prometheus rules (deploy/prometheus/cephdr-rules.yml) pass the real `promtool check
rules`, and `promtool test rules` runs the committed unit tests that feed series and assert each alert
fires on its condition and stays silent below its threshold; and every metric the rules use is one the
controller exports. promtool comes from Debian's `prometheus` package (skipped where missing)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from controller import metrics

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = RULES_DIR / "cephdr-rules.yml"


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return tool


def test_promtool_check_rules() -> None:
    cp = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True,
                        timeout=60, check=False)
    assert cp.returncode == 0 and "SUCCESS" in cp.stdout, cp.stdout + cp.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    cp = subprocess.run([_promtool(), "test", "rules", "cephdr-rules.test.yml"], cwd=RULES_DIR,
                        capture_output=True, text=True, timeout=120, check=False)
    assert cp.returncode == 0 and "SUCCESS" in cp.stdout, cp.stdout + cp.stderr


def _alerts() -> dict[str, str]:
    doc = yaml.safe_load(RULES.read_text())
    return {r["alert"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load((RULES_DIR / "cephdr-rules.test.yml").read_text())
    tested = {a["alertname"] for t in tests["tests"] for a in t["alert_rule_test"] if a["exp_alerts"]}
    assert tested == set(_alerts())


def test_rules_use_only_exported_metrics() -> None:
    exported = {name for name, _, _ in metrics.FAMILIES}
    used = {m for expr in _alerts().values() for m in re.findall(r"\bcephdr_[a-z_]+", expr)}
    assert used and used <= exported, used - exported
