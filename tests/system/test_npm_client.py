"""An independent client drives the real lab the way the NATS CLI does: the npm `nats` package
(tests/npm/compat.mjs, installed by `make setup`) sends the documented requests to the lab's agents
and controller, discovers both services through $SRV.PING/INFO/STATS, and sees micro error headers
and no-responders. The script only reports what it saw; every judgement is here.

Real: the lab (nats-server, both agents, the controller, Ceph behind them) and Node's npm `nats`
2.29.3 client, authenticated with the lab's operator credentials when the lab has them.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest
from helpers.micro_v1 import Verb, errors

from bus.connect import inbox_prefix_for
from lab.model import LabInfo
from schemas.ctl import FleetStatus, SiteList
from schemas.errors import ErrorReply
from schemas.status import SiteStatus

pytestmark = pytest.mark.system

NPM_DIR = Path(__file__).resolve().parent.parent / "npm"
_seq = itertools.count(1)


def run_node(lab: LabInfo, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the steps in one node process (one connection, as the operator role); its results."""
    node = shutil.which("node")
    assert node, "node is not installed: run `make setup`"
    assert (NPM_DIR / "node_modules" / "nats").is_dir(), "npm packages missing: run `make setup` (npm ci)"
    name = f"operator-npm-{os.getpid()}-{next(_seq)}"
    env = {
        **os.environ,
        "CEPHDR_NATS_URL": lab.nats_url,
        "CEPHDR_NATS_CREDS": lab.creds("operator"),
        "CEPHDR_NATS_NAME": name,
        # the role's inbox prefix: the only one per-role permissions let it read replies on
        "CEPHDR_NATS_INBOX": inbox_prefix_for("operator"),
    }
    proc = subprocess.run(
        [node, str(NPM_DIR / "compat.mjs")], input=json.dumps({"steps": steps}), text=True,
        capture_output=True, env=env, cwd=NPM_DIR, timeout=120, check=False,
    )
    assert proc.returncode == 0, f"compat.mjs failed ({proc.returncode}): {proc.stderr[-2000:]}"
    results: list[dict[str, Any]] = json.loads(proc.stdout)["results"]
    assert len(results) == len(steps)
    return results


def req(subject: str, body: str) -> dict[str, Any]:
    return {"op": "request", "subject": subject, "body": body, "timeout_ms": 10000}


def refusal(result: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(Nats-Service-Error-Code, Nats-Service-Error, the error body) of a refused request."""
    assert result["ok"], result
    headers = result["headers"]
    assert "Nats-Service-Error-Code" in headers, result
    body = msgspec.json.decode(result["data"].encode(), type=ErrorReply)
    assert result["json"]["error"]["code"] == body.error.code  # what a plain JSON reader sees too
    return headers["Nats-Service-Error-Code"][0], headers["Nats-Service-Error"][0], result["json"]["error"]


def test_status_requests_answer_with_the_documented_replies(lab: LabInfo) -> None:
    sites = [s.name for s in lab.sites]
    results = run_node(lab, [
        *[req(f"cephdr.agent.{site}.status", "{}") for site in sites],
        req("cephdr.ctl.status", "{}"),
        req("cephdr.ctl.site.list", "{}"),
    ])
    for site, result in zip(sites, results, strict=False):
        assert result["ok"] and "Nats-Service-Error-Code" not in result["headers"], result
        assert msgspec.json.decode(result["data"].encode(), type=SiteStatus).site == site
    fleet = msgspec.json.decode(results[len(sites)]["data"].encode(), type=FleetStatus)
    # >=: the controller also remembers sites other tests ran (test_agent_runtime's dead-cluster site)
    assert {s.site for s in fleet.sites} >= set(sites)
    listed = msgspec.json.decode(results[len(sites) + 1]["data"].encode(), type=SiteList)
    assert {s.site for s in listed.sites} >= set(sites) and listed.leader


def test_bad_requests_get_micro_error_headers_and_a_json_error(lab: LabInfo) -> None:
    malformed, unknown, wrong_type, missing = run_node(lab, [
        req("cephdr.ctl.site.list", "{not json"),
        req("cephdr.ctl.status", '{"bogus": 1}'),
        req(f"cephdr.agent.{lab.sites[0].name}.status", '{"actor": 7}'),
        req("cephdr.ctl.group.get", '{"group": "no-such-group"}'),
    ])
    code, why, body = refusal(malformed)
    assert (code, body["code"], body["where"]) == ("400", "invalid_request", "$")
    assert "malformed JSON" in why and why == body["message"]
    code, why, body = refusal(unknown)
    assert (code, body["code"]) == ("400", "invalid_request") and "unknown field `bogus`" in why
    code, why, body = refusal(wrong_type)
    assert (code, body["code"], body["where"]) == ("400", "invalid_request", "$.actor")
    code, why, body = refusal(missing)
    assert (code, body["code"]) == ("404", "not_found") and "no-such-group" in why


def test_a_subject_nobody_serves_gets_no_responders(lab: LabInfo) -> None:
    (result,) = run_node(lab, [req("cephdr.agent.site-nowhere.status", "{}")])
    assert result == {**result, "ok": False, "error": "no_responders", "code": "503"}


def test_both_services_are_discovered_and_their_replies_pass_the_micro_schemas(lab: LabInfo) -> None:
    verbs: dict[str, Verb] = {"ping": "PING", "info": "INFO", "stats": "STATS"}
    # as many instances as the lab runs: the steps end when they all answered (or after 20 s, and
    # the counts below show who was missing)
    instances = {"cephdr-agent": len(lab.sites), "cephdr-controller": 1}
    steps: list[dict[str, Any]] = [{"op": v, "service": svc, "expect": n, "max_wait_ms": 20000}
             for svc, n in instances.items() for v in verbs]
    # a refusal first, so STATS has an error to count (as `nats micro stats` shows it)
    refused, *results = run_node(lab, [req("cephdr.ctl.site.list", "[]"), *steps])
    assert refusal(refused)[0] == "400"
    by: dict[tuple[str, str], list[dict[str, Any]]] = {
        (s["service"], s["op"]): r["replies"] for s, r in zip(steps, results, strict=True)}
    agents = by[("cephdr-agent", "ping")]
    assert sorted(r["metadata"]["site"] for r in agents) == sorted(s.name for s in lab.sites)
    for (svc, verb), replies in by.items():
        assert len(replies) == instances[svc], (svc, verb, replies)  # one controller: the leader
        for reply in replies:
            assert reply["name"] == svc
            assert errors(verbs[verb], reply) == [], (svc, verb, reply)
    subjects = {ep["subject"] for r in by[("cephdr-controller", "info")] for ep in r["endpoints"]}
    assert {"cephdr.ctl.status", "cephdr.ctl.site.list", "cephdr.ctl.failover"} <= subjects
    (stats,) = by[("cephdr-controller", "stats")]
    (site_list,) = [ep for ep in stats["endpoints"] if ep["subject"] == "cephdr.ctl.site.list"]
    assert site_list["num_errors"] >= 1 and site_list["last_error"].startswith("400:")
