"""Fault drills on the lab (issue 8, part 2): each drill stages one failure on the real lab, for a
number of trials, checks the outcome each time and records what it measured (trials, passed,
events or data lost, steps or events duplicated, time to recover). `make faults` prints the table at
the end of the run and writes it as JSON (`CEPHDR_FAULTS_JSON`, default build/faults.json).

Real: everything of the system lab (tests/system/conftest.py): two Ceph clusters, nats-server, the
two agents and the controller as processes. Faults are staged the way they happen: kill -9 of a
process (nats-server, the controller, a site's Ceph daemons and agent), SIGSTOP of a process (it
stops answering but keeps its sockets: a partition of that one process, or a hung monitor).
Nothing is faked, and the checks read real state: the op record in KV, the events stream, the
`rbd` CLI.

Drills marked `faults` are the slow ones: deselected unless CEPHDR_FAULTS=1 (`make faults` sets
it). Trial counts: CEPHDR_FAULT_TRIALS (all drills) or CEPHDR_FAULT_TRIALS_<DRILL>; default 1.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers.ctl import Ctl
from helpers.lab_bus import lab_nats
from records import Book

from lab.model import LabInfo

_BOOK = pytest.StashKey[Book]()
REPO = Path(__file__).resolve().parents[3]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_BOOK] = Book()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CEPHDR_FAULTS") == "1":
        return
    slow = [i for i in items if i.get_closest_marker("faults")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [i for i in items if not i.get_closest_marker("faults")]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    book = config.stash.get(_BOOK, None)
    if not book or not book.drills:
        return
    terminalreporter.write_sep("=", "fault drills")
    terminalreporter.write_line(book.table())
    path = Path(os.environ.get("CEPHDR_FAULTS_JSON") or REPO / "build" / "faults.json")
    book.dump(path)
    terminalreporter.write_line(f"(JSON: {path})")


@pytest.fixture(scope="session")
def book(request: pytest.FixtureRequest) -> Book:
    return request.config.stash[_BOOK]


@pytest.fixture(scope="module")
async def ctl(lab: LabInfo) -> AsyncIterator[Ctl]:
    """The controller as an operator sees it; one connection per module (the NATS drill restarts
    the server, and a test connection gives up after a few reconnects: it makes its own)."""
    assert lab.controller is not None, "the lab runs no controller (brought up with --no-agents?)"
    nc = await lab_nats(lab, "operator")
    yield Ctl(nc)
    await nc.close()
