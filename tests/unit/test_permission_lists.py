"""The permission lists (bus/permissions.py) and the server config text they become: pure data,
checked without a server (tests/bus/test_permission_matrix.py checks them against a real one)."""

from __future__ import annotations

import pytest

import agent.service.all  # noqa: F401 - registers the agent endpoints
import controller.service.all  # noqa: F401 - registers the controller endpoints
from agent.service.registry import router as agent_router
from bus import natsconf
from bus import permissions as perms
from controller.service.registry import router as ctl_router

ROLES = perms.roles(["site-a", "site-b"], tap=True)


def test_read_only_endpoints_exist_and_change_nothing_by_their_name() -> None:
    for name in perms.AGENT_READ_ONLY:
        assert name in agent_router.endpoints, name
    for name in perms.CTL_READ_ONLY:
        assert name in ctl_router.endpoints, name
    for name in (*perms.AGENT_READ_ONLY, *perms.CTL_READ_ONLY):
        assert name.rsplit(".", 1)[-1] in ("status", "get", "list", "info"), name


@pytest.mark.parametrize("role", [r for r in ROLES if r != perms.TAP_ROLE])
def test_each_role_reads_only_its_own_inbox(role: str) -> None:
    p = perms.for_role(role)
    inboxes = [s for s in p.subscribe if s.startswith("_INBOX")]
    assert inboxes == [f"{perms.inbox_prefix(role)}.>"]
    assert ">" not in p.subscribe and "_INBOX.>" not in p.subscribe
    assert not any(s.startswith("_INBOX") for s in p.publish)


def test_only_services_answer_requests() -> None:
    answering = {r for r in ROLES if perms.for_role(r).allow_responses}
    assert answering == {"agent-site-a", "agent-site-b", "controller"}


def test_an_agent_is_confined_to_its_site() -> None:
    p = perms.for_role("agent-site-a")
    text = " ".join(p.publish + p.subscribe)
    assert "site-b" not in text
    assert "cephdr.agent.site-a.>" in p.subscribe
    assert not any(s.startswith("cephdr.agent.") for s in p.publish)
    assert not any(s.startswith("$KV.") and "site.site-a." not in s for s in p.publish)


def test_no_one_but_the_controller_writes_its_events_audit_or_state() -> None:
    for role in ROLES:
        pub = perms.for_role(role).publish
        if role == "controller":
            continue
        assert "cephdr.ctl.evt.>" not in pub and "cephdr.audit.ctl" not in pub
        assert not any(s.startswith(("$KV.cephdr_leases", "$KV.cephdr_state.fence")) for s in pub)
    for role in ("operator", "chatops"):
        assert "cephdr.ctl.evt.>" in perms.for_role(role).publish_deny


def test_inbox_prefix_is_one_token() -> None:
    assert perms.inbox_prefix("agent-site-a") == "_INBOX_agent_site_a"
    assert perms.role_of_credentials("/etc/cephdr/agent-site-a.nk") == "agent-site-a"


@pytest.mark.parametrize("role", ["agent-", "agent-Site_A", "admin", ""])
def test_unknown_roles_are_refused(role: str) -> None:
    with pytest.raises(ValueError):
        perms.for_role(role)


def test_a_role_allowed_nothing_is_denied_everything_in_the_config() -> None:
    # nats-server reads an empty allow list as "no restriction"
    text = natsconf.render_permissions(perms.for_role(perms.TAP_ROLE))
    assert 'publish: { deny: [">"] }' in text
    conf = natsconf.render_accounts({"operator": "UABC", "tap": "UDEF"})
    assert "nkey: UABC" in conf and '"_INBOX_operator.>"' in conf and "jetstream: enabled" in conf
