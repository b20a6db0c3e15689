"""The operator's `cephdr` commands, run as an operator runs them: subprocesses of the installed
`cephdr` entry point against the lab's real controller, agents and Ceph, connected with the lab's
operator credentials. Outcomes are read back through the CLI's own `--json` and checked against
Ceph with the `rbd` CLI where it matters (which site is primary).

One small group (one snapshot-mode image in the lab's `rbd` pool) lives for the module; the tests
run in order and each leaves site-a primary.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from helpers import oracle
from helpers.wait import wait_for

from cli import exit_codes
from lab.model import LabInfo
from schemas.ctl import FleetStatus, GroupStatus, OpList, OpRecord
from schemas.policy import AutoState

pytestmark = pytest.mark.system

CEPHDR = [str(Path(sys.executable).parent / "cephdr")]
PROGRESS = re.compile(r"^\[\s*[0-9.hms]+\]\s+\d+/\d+ (done|running|skipped)\s+\S", re.M)


def cephdr(
    lab: LabInfo, *args: str, timeout: float = 600, stdin: Any = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    env = lab_env(lab)
    return subprocess.run(
        [*CEPHDR, *args, *(["--actor", "cli-test"] if args[0] != "req" else [])],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=stdin,
        check=False,
    )


def lab_env(lab: LabInfo) -> dict[str, str]:
    """The operator's environment for the lab: its URL, the operator's credentials and, on a
    `--tls` lab, the operator's client certificate."""
    env = {**os.environ, "CEPHDR_NATS": lab.nats_url, "CEPHDR_NATS_CREDS": lab.creds("operator")}
    env.pop("CEPHDR_NATS_URL", None)
    if lab.tls_dir:
        d = Path(lab.tls_dir)
        env |= {
            "CEPHDR_NATS_TLS_CA": str(d / "ca.pem"),
            "CEPHDR_NATS_TLS_CERT": str(d / "operator.pem"),
            "CEPHDR_NATS_TLS_KEY": str(d / "operator.key"),
        }
    return env


def ok(cp: subprocess.CompletedProcess[str]) -> str:
    assert cp.returncode == 0, f"exit {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}"
    return cp.stdout


def status(lab: LabInfo, group: str) -> GroupStatus:
    st = msgspec.json.decode(ok(cephdr(lab, "status", group, "--json", timeout=60)), type=FleetStatus)
    assert [g.group for g in st.groups] == [group]
    return st.groups[0]


def mirrored(lab: LabInfo, group: str, primary: str) -> GroupStatus | None:
    g = status(lab, group)
    other = "site-b" if primary == "site-a" else "site-a"
    if g.primary != primary or g.active_op or g.alerts:
        return None
    m = g.members[0] if g.members else None
    if m is None or m.sites.get(primary) is None or m.sites.get(other) is None:
        return None
    return g if m.sites[primary].role == "primary" and m.sites[other].state == "replaying" else None


def rbd_primary(lab: LabInfo, site: str, spec: str) -> bool:
    info = oracle.rbd(lab.site(site), "info", spec, json=True)
    return bool(info.get("mirroring", {}).get("primary"))


@pytest.fixture(scope="module")
def group(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = oracle.unique_name("cli").lower()[:30]
    image = oracle.unique_name("cli-img")
    oracle.rbd(lab.site("site-a"), "create", "--size", "16M", f"rbd/{image}")
    path = tmp_path_factory.mktemp("cli") / "group.toml"
    path.write_text(
        f'name = "{name}"\nsites = ["site-a", "site-b"]\nprimary = "site-a"\n\n'
        '[schedule]\ninterval = "1m"\n\n'
        f'[[rbd]]\npool = "rbd"\nimages = ["{image}"]\nmode = "snapshot"\n'
    )
    out = ok(cephdr(lab, "apply", "-f", str(path), "--wait"))
    assert "reconcile of" in out and "SUCCEEDED" in out, out
    wait_for(lambda: mirrored(lab, name, "site-a"), timeout=300, interval=3, what="the group mirrored")
    yield name

    # the group first (its periodic reconcile would put the schedule back), retried while that
    # reconcile holds it (busy); then the schedule it leaves on the primary
    def delete() -> bool:  # a fresh request id each time: a repeated one returns its first outcome
        body = (
            f'{{"request_id":"cli-test-delete-{uuid.uuid4().hex[:12]}","group":"{name}","confirm":"{name}"}}'
        )
        return cephdr(lab, "req", "cephdr.ctl.group.delete", body).returncode == 0

    wait_for(delete, timeout=60, interval=2, what=f"group {name} deleted")
    for s in lab.sites:
        with contextlib.suppress(oracle.CliError):
            oracle.rbd(s, "mirror", "snapshot", "schedule", "rm", "--pool", "rbd", "--image", image)


def image_of(lab: LabInfo, group: str) -> str:
    return f"rbd/{status(lab, group).members[0].name.split('/', 1)[1]}"


class TestStatus:
    def test_status_json_parses_and_names_the_group_with_its_primary(self, lab: LabInfo, group: str) -> None:
        st = msgspec.json.decode(ok(cephdr(lab, "status", "--json")), type=FleetStatus)
        # only the lab's two: test_agent_runtime leaves a heartbeat of a dead-cluster site behind
        lab_sites = [s for s in st.sites if s.site in {"site-a", "site-b"}]
        assert len(lab_sites) == 2 and all(s.alive for s in lab_sites), st.sites
        g = next(g for g in st.groups if g.group == group)
        assert g.primary == "site-a" and g.health == "ok" and len(g.members) == 1

    def test_status_tables_for_the_fleet_a_site_and_a_group(self, lab: LabInfo, group: str) -> None:
        fleet = ok(cephdr(lab, "status"))
        assert re.search(rf"^{re.escape(group)}\s+ok\s+site-a\s+\d+", fleet, re.M), fleet
        site = ok(cephdr(lab, "status", "--site", "site-b"))
        assert f"{group} on site-b" in site and "non_primary replaying" in site, site
        detail = ok(cephdr(lab, "status", group))
        assert detail.startswith(f"Group {group}: OK, primary site-a") and "No alerts." in detail, detail
        groups = ok(cephdr(lab, "groups"))
        assert re.search(rf"^{re.escape(group)}\s+site-a\s+site-b\s", groups, re.M), groups

    def test_check_makes_the_health_the_exit_code(self, lab: LabInfo, group: str) -> None:
        assert cephdr(lab, "status", group, "--check").returncode == exit_codes.OK

    def test_reconcile_now_runs_live_to_its_summary(self, lab: LabInfo, group: str) -> None:
        def unless_busy(*args: str) -> subprocess.CompletedProcess[str] | None:
            """The lab's periodic reconcile (every 60 s) may hold the group for a moment: busy, exit 3."""
            cp = cephdr(lab, *args)
            busy = "(busy)" in cp.stderr or '"code": "busy"' in cp.stdout
            return None if cp.returncode == exit_codes.REFUSED and busy else cp

        out = ok(wait_for(lambda: unless_busy("reconcile", group), timeout=60, interval=2, what="not busy"))
        assert PROGRESS.search(out) and re.search(rf"reconcile of {re.escape(group)} SUCCEEDED in ", out), out
        accepted = ok(
            wait_for(
                lambda: unless_busy("reconcile", group, "--no-wait", "--json"),
                timeout=60,
                interval=2,
                what="not busy",
            )
        )
        op_id = msgspec.json.decode(accepted)["op_id"]
        wait_for(
            lambda: status(lab, group).active_op is None, timeout=120, interval=1, what="reconcile ended"
        )
        rec = msgspec.json.decode(ok(cephdr(lab, "ops", "show", op_id, "--json")), type=OpRecord)
        assert rec.kind == "reconcile" and rec.actor == "cli-test" and rec.state == "succeeded"

    def test_an_unknown_group_or_site_is_refused(self, lab: LabInfo, group: str) -> None:
        cp = cephdr(lab, "status", "no-such-group")
        assert cp.returncode == exit_codes.REFUSED and "not_found" in cp.stderr
        assert cephdr(lab, "status", "--site", "site-z").returncode == exit_codes.REFUSED

    def test_bad_input_is_a_usage_error_before_anything_is_sent(self, lab: LabInfo, group: str) -> None:
        cp = cephdr(lab, "failover", "Not_A_Group!")
        assert cp.returncode == exit_codes.USAGE and "invalid_request" in cp.stderr, cp.stderr

    def test_no_server_is_unavailable(self, lab: LabInfo, group: str) -> None:
        cp = cephdr(lab, "status", "--nats", "nats://127.0.0.1:1")
        assert cp.returncode == exit_codes.UNAVAILABLE, cp.stderr


class TestPeers:
    def test_peer_connect_on_the_peered_lab_changes_nothing(self, lab: LabInfo, group: str) -> None:
        from schemas.ctl import PeerConnected

        out = ok(cephdr(lab, "peer", "connect", "site-a", "site-b", "--pool", "rbd", "--json"))
        assert msgspec.json.decode(out, type=PeerConnected).changed is False
        assert "already" in ok(cephdr(lab, "peer", "connect", "site-a", "site-b", "--fs", "cephfs"))

    def test_peering_a_site_with_itself_is_a_usage_error(self, lab: LabInfo, group: str) -> None:
        cp = cephdr(lab, "peer", "connect", "site-a", "site-a", "--pool", "rbd")
        assert cp.returncode == exit_codes.USAGE and "different sites" in cp.stderr


class TestRefusals:
    def test_forced_failover_without_confirmation_is_refused_and_changes_nothing(
        self, lab: LabInfo, group: str
    ) -> None:
        before = status(lab, group)
        ops_before = msgspec.json.decode(
            ok(cephdr(lab, "ops", "list", "--group", group, "--json")), type=OpList
        )
        cp = cephdr(lab, "failover", group, "--force")  # stdin is no terminal: nobody can type the name
        assert cp.returncode == exit_codes.REFUSED, cp.stderr
        assert "confirmation_required" in cp.stderr and "--yes-i-really-mean-it" in cp.stderr
        # a wrong name typed on the terminal is refused the same way (the prompt reads stdin)
        after = status(lab, group)
        assert (after.primary, after.epoch, after.active_op) == (before.primary, before.epoch, None)
        ops_after = msgspec.json.decode(
            ok(cephdr(lab, "ops", "list", "--group", group, "--json")), type=OpList
        )
        assert [o.op_id for o in ops_after.ops] == [o.op_id for o in ops_before.ops]
        assert rbd_primary(lab, "site-a", image_of(lab, group))

    @pytest.mark.parametrize(
        ("typed", "said"), [("wrong", "did not match"), ("ghost-group", "no group ghost")]
    )
    def test_the_typed_confirmation_on_a_real_terminal(self, lab: LabInfo, typed: str, said: str) -> None:
        """A pty, as an operator's terminal: a wrong name stops the CLI (nothing sent); the right one
        sends the request with confirm, which the controller then judges (here: no such group)."""
        env = lab_env(lab)
        pid, fd = pty.fork()
        if pid == 0:  # the child: the CLI on the terminal
            os.execve(CEPHDR[0], [*CEPHDR, "failover", "ghost-group", "--force"], env)

        def read() -> bytes:
            ready, _, _ = select.select([fd], [], [], 60)  # a deadline on each read: never hang
            assert ready, f"the CLI said nothing for 60s: {out.decode()!r}"
            try:
                return os.read(fd, 4096)
            except OSError:  # EIO once the child closed the terminal
                return b""

        out, st = b"", None
        try:
            while b"to go ahead" not in out:
                chunk = read()
                assert chunk, f"the CLI ended before asking: {out.decode()!r}"
                out += chunk
            os.write(fd, typed.encode() + b"\n")
            while chunk := read():
                out += chunk
            _, st = os.waitpid(pid, 0)
        finally:
            if st is None:  # a failed read above: do not leave the CLI waiting on its terminal
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)
        assert st is not None and os.waitstatus_to_exitcode(st) == exit_codes.REFUSED, out.decode()
        assert said in out.decode()

    def test_the_controller_refuses_a_forced_failover_with_a_wrong_confirmation(
        self, lab: LabInfo, group: str
    ) -> None:
        body = f'{{"request_id":"cli-test-force-{group}","group":"{group}","force":true,"confirm":"other"}}'
        cp = cephdr(lab, "req", "cephdr.ctl.failover", body)
        assert cp.returncode == exit_codes.REFUSED and "confirmation_required" in cp.stdout
        assert status(lab, group).primary == "site-a"

    def test_failback_without_a_forced_failover_is_refused(self, lab: LabInfo, group: str) -> None:
        cp = cephdr(lab, "failback", group)
        assert cp.returncode == exit_codes.REFUSED and "no failback pending" in cp.stderr, cp.stderr

    def test_cancelling_an_unknown_operation_is_refused(self, lab: LabInfo, group: str) -> None:
        assert cephdr(lab, "ops", "cancel", "no-such-op").returncode == exit_codes.REFUSED


class TestFailover:
    def test_planned_failover_and_back_show_progress_and_end_in_a_summary(
        self, lab: LabInfo, group: str
    ) -> None:
        image = image_of(lab, group)
        out = ok(cephdr(lab, "failover", group, timeout=1200))
        assert len(PROGRESS.findall(out)) >= 5, out
        assert re.search(r"planned_failover of \S+ SUCCEEDED \(site-a -> site-b\)", out), out
        assert "RPO: 0" in out
        assert rbd_primary(lab, "site-b", image) and not rbd_primary(lab, "site-a", image)
        wait_for(
            lambda: mirrored(lab, group, "site-b"), timeout=300, interval=3, what="b primary, a replaying"
        )

        out = ok(cephdr(lab, "failover", group, "--to", "site-a", timeout=1200))
        assert re.search(r"planned_failover of \S+ SUCCEEDED \(site-b -> site-a\)", out), out
        assert rbd_primary(lab, "site-a", image)
        wait_for(lambda: mirrored(lab, group, "site-a"), timeout=300, interval=3, what="a primary again")

    def test_ops_list_and_show_tell_the_story(self, lab: LabInfo, group: str) -> None:
        ops = msgspec.json.decode(ok(cephdr(lab, "ops", "list", "--group", group, "--json")), type=OpList).ops
        failovers = [o for o in ops if o.kind == "planned_failover"]
        assert [(o.source, o.target, o.state) for o in failovers[:2]] == [
            ("site-b", "site-a", "succeeded"),
            ("site-a", "site-b", "succeeded"),
        ]
        assert all(o.actor == "cli-test" for o in failovers)
        table = ok(cephdr(lab, "ops", "--group", group))
        assert failovers[0].op_id in table and "planned_failover" in table
        shown = ok(cephdr(lab, "ops", "show", failovers[0].op_id))
        assert shown.startswith(f"Operation {failovers[0].op_id}: planned_failover of {group} site-b->site-a")
        assert "(!)" in shown  # the demote: the point of no return
        rec = msgspec.json.decode(ok(cephdr(lab, "ops", "show", failovers[0].op_id, "--json")), type=OpRecord)
        assert rec.steps and all(s.state in ("done", "skipped") for s in rec.steps)

    def test_events_filter_by_group_and_kind_and_site(self, lab: LabInfo, group: str) -> None:
        out = ok(cephdr(lab, "events", "--group", group, "--kind", "op", "--since", "1h", "--json"))
        events = [msgspec.json.decode(line) for line in out.splitlines()]
        assert events and all(
            e["subject"] == "cephdr.ctl.evt.op" and e["event"]["group"] == group for e in events
        )
        ops = msgspec.json.decode(ok(cephdr(lab, "ops", "list", "--group", group, "--json")), type=OpList).ops
        ended = {e["event"]["op_id"] for e in events if e["event"]["state"] == "succeeded"}
        assert {o.op_id for o in ops if o.kind == "planned_failover"} <= ended
        out = ok(cephdr(lab, "events", "--site", "site-b", "--kind", "rbd", "--since", "1h", "--json"))
        lines = [msgspec.json.decode(line) for line in out.splitlines()]
        assert lines and all(x["subject"].startswith("cephdr.evt.site-b.rbd.") for x in lines)
        human = ok(cephdr(lab, "events", "--group", group, "--kind", "op", "--since", "1h"))
        assert all(" cephdr.ctl.evt.op " in line for line in human.splitlines())


class TestPause:
    def test_pause_and_resume_one_group(self, lab: LabInfo, group: str) -> None:
        assert "paused" in ok(cephdr(lab, "pause", group, "--reason", "cli test"))
        st = msgspec.json.decode(ok(cephdr(lab, "auto", group, "--json")), type=AutoState)
        assert st.groups[0].paused is not None and st.groups[0].paused.by == "cli-test"
        assert "cli test" in st.groups[0].paused.reason
        ok(cephdr(lab, "resume", group))
        st = msgspec.json.decode(ok(cephdr(lab, "auto", group, "--json")), type=AutoState)
        assert st.groups[0].paused is None
