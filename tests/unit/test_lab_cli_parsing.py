"""The cephdr dispatcher and the lab subcommands' arguments (no lab is touched)."""

from __future__ import annotations

import pytest

from cli import lab_cmd
from cli.main import build_parser


def test_lab_subcommands_parse() -> None:
    p = build_parser()
    a = p.parse_args(["lab", "up", "--dir", "/tmp/l", "--peered", "--objectstore", "memstore"])
    assert (a.dir, a.peered, a.objectstore, a.func) == ("/tmp/l", True, "memstore", lab_cmd.cmd_up)
    a = p.parse_args(["lab", "status", "--json", "--dir", "/tmp/l"])
    assert a.json and a.func is lab_cmd.cmd_status
    assert p.parse_args(["lab", "down", "--dir", "/tmp/l"]).func is lab_cmd.cmd_down


def test_default_objectstore_is_bluestore() -> None:
    assert build_parser().parse_args(["lab", "up"]).objectstore == "bluestore"


def test_default_dir_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEPHDR_LAB_DIR", "/tmp/from-env")
    assert lab_cmd.default_dir() == "/tmp/from-env"
    monkeypatch.delenv("CEPHDR_LAB_DIR")
    assert lab_cmd.default_dir() == "./.lab"
