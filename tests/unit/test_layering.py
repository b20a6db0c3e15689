"""The import contract: pure logic imports neither nats nor the Ceph bindings, not even through
another project module. Checked on the source (AST), following project imports transitively."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("nats", "rados", "rbd", "cephfs", "nacl", "systemd")

# pure: decisions and data shapes, tested without I/O
PURE = [
    "schemas",
    "agent/status",
    "agent/fencing.py",
    "agent/fs_prepare.py",
    "bus/router.py",
    "bus/codec.py",
    "bus/dedupe.py",
    "bus/permissions.py",
    "bus/natsconf.py",
    "controller/ops",
    "controller/checks.py",
    "controller/view.py",
    "controller/sites.py",
    "controller/lease.py",
    "controller/policy.py",
    "controller/metrics.py",
    "chatops/rules.py",
    "chatops/render.py",
    "chatops/desk.py",
    "chatops/settings.py",
    "cli/tables.py",
    "cli/exit_codes.py",
    "cli/confirm.py",
    "cli/event_filter.py",
    "bench/stats.py",
    "bench/simgen.py",
]


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.exists():
            return cand
    return None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _closure(path: Path) -> dict[str, str]:
    """Every module reachable from `path` -> the project file that imports it first."""
    seen: dict[str, str] = {}
    todo = [path]
    done: set[Path] = set()
    while todo:
        p = todo.pop()
        if p in done:
            continue
        done.add(p)
        for name in _imports(p):
            seen.setdefault(name, str(p.relative_to(ROOT)))
            f = _module_file(name)
            if f is not None:
                todo.append(f)
    return seen


# the schema exporter is a build tool: it loads the agent's router to index every endpoint
EXEMPT = {"schemas/export.py"}


def _pure_files() -> list[Path]:
    out: list[Path] = []
    for entry in PURE:
        p = ROOT / entry
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return [p for p in out if str(p.relative_to(ROOT)) not in EXEMPT]


@pytest.mark.parametrize("path", _pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io(path: Path) -> None:
    bad = {name: via for name, via in _closure(path).items() if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.relative_to(ROOT)} reaches I/O libraries: {bad}"


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("import json\nfrom nats.aio.client import Client\n")
    assert "nats.aio.client" in _imports(f)


CEPH_BINDINGS = ("rados", "rbd", "cephfs")
PRODUCT = ("agent", "bus", "controller", "cli", "schemas")


def test_only_the_ceph_adapters_import_the_ceph_bindings() -> None:
    """docs/architecture.md: agent/ceph is the one place that talks to librados/librbd/libcephfs."""
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] in CEPH_BINDINGS)
        for top in PRODUCT
        for p in (ROOT / top).rglob("*.py")
        if not p.is_relative_to(ROOT / "agent" / "ceph")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_controller_and_the_cli_never_load_the_ceph_bindings() -> None:
    """The controller talks only to NATS, so it must run on a host without Ceph. `cephdr` builds
    its parser from every command module (importlib, so the AST walk above cannot see them): each
    must defer what loads the bindings to the command that needs it. Checked in a fresh process."""
    code = (
        "import sys\n"
        "from cli.main import build_parser\n"
        "build_parser()\n"
        "import controller.app, controller.service.all\n"
        "print(sorted(m for m in sys.modules if m in ('rados', 'rbd', 'cephfs')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"loaded: {out.stdout.strip()}"
