"""ChatOps rules: parsing `!dr` messages, the allow-list, and forced-failover confirmations
(pure; the clock is a variable the test moves)."""

from __future__ import annotations

import pytest

from chatops.rules import AllowList, Confirmations, Parsed, ParseError, parse
from chatops.settings import load

# -- parsing


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ("", Parsed("help")),
        ("status", Parsed("status")),
        ("status web", Parsed("status", group="web")),
        ("ops", Parsed("ops")),
        ("ops web", Parsed("ops", group="web")),
        ("failover web", Parsed("failover", group="web")),
        ("failover web to site-b", Parsed("failover", group="web", to="site-b")),
        ("failover web --force", Parsed("failover", group="web", force=True)),
        ("failover --force web TO site-b", Parsed("failover", group="web", to="site-b", force=True)),
        ("failback web", Parsed("failback", group="web")),
        ("confirm web", Parsed("confirm", group="web")),
        ("pause", Parsed("pause")),
        ("pause web", Parsed("pause", group="web")),
        ("RESUME web", Parsed("resume", group="web")),
    ],
)
def test_commands_parse(args: str, want: Parsed) -> None:
    assert parse(args) == want


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ("reboot", "unknown command"),
        ("failover", "usage: !dr failover"),
        ("failover web site-b", "usage: !dr failover"),
        ("failover web to", "usage: !dr failover"),
        ("failover web --yes", "unknown option --yes"),
        ("failback", "exactly one group"),
        ("confirm a b", "exactly one group"),
        ("status a b", "at most a group"),
        ("status Web!", "not a group name"),
        ("failover web to Site_B", "not a site name"),
    ],
)
def test_bad_commands_say_what_is_wrong(args: str, says: str) -> None:
    with pytest.raises(ParseError, match=says):
        parse(args)


def test_what_each_command_needs() -> None:
    assert parse("status").needs == "view"
    assert parse("failover web").needs == "operate"
    assert parse("failover web --force").needs == "force"
    assert parse("confirm web").needs == "force"
    assert parse("pause").needs == "operate"


# -- allow-list


def test_roles_include_the_lesser_ones_and_star_applies_to_everyone() -> None:
    allow = AllowList.load({"@alice": ["force"], "@bob": ["operate"], "*": ["view"]})
    assert allow.roles("@alice") == {"view", "operate", "force"}
    assert allow.roles("@bob") == {"view", "operate"}
    assert allow.roles("@carol") == {"view"}
    assert allow.refusal("@alice", "force") is None
    assert allow.refusal("@carol", "view") is None


def test_refusals_name_the_user_and_the_role() -> None:
    allow = AllowList.load({"@bob": ["view"]})
    not_listed = allow.refusal("@mallory", "view")
    assert not_listed is not None and "@mallory is not on the cephdr allow-list" in not_listed
    too_low = allow.refusal("@bob", "force")
    assert too_low is not None and "needs role force" in too_low and "you have view" in too_low


def test_an_unknown_role_in_the_config_is_an_error_at_load() -> None:
    with pytest.raises(ValueError, match="allow-list"):
        AllowList.load({"@bob": ["admin"]})
    with pytest.raises(ValueError, match="CEPHDR_CHATOPS"):
        load({"users": {"@bob": ["root"]}})
    with pytest.raises(ValueError, match="CEPHDR_CHATOPS"):
        load({"chanel": "#dr"})  # a typo is not silently ignored
    assert load({"users": {"@bob": ["view"]}, "channel": "#dr"}).allow.roles("@bob") == {"view"}


# -- confirmations


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_same_user_confirms_within_the_limit_once() -> None:
    clock = Clock()
    c = Confirmations(ttl=60, clock=clock)
    c.ask("@alice", "web", "site-b")
    clock.t += 59.9
    p = c.confirm("@alice", "web")
    assert (p.user, p.group, p.to) == ("@alice", "web", "site-b")
    with pytest.raises(ParseError, match="no forced failover of web is waiting"):
        c.confirm("@alice", "web")  # consumed: one confirmation, one request


def test_another_user_cannot_confirm_and_the_request_stays_for_its_owner() -> None:
    clock = Clock()
    c = Confirmations(ttl=60, clock=clock)
    c.ask("@alice", "web", None)
    with pytest.raises(ParseError, match="only @alice, who asked"):
        c.confirm("@bob", "web")
    assert c.confirm("@alice", "web").user == "@alice"


def test_an_expired_request_is_refused_and_dropped() -> None:
    clock = Clock()
    c = Confirmations(ttl=60, clock=clock)
    c.ask("@alice", "web", None)
    clock.t += 60.1
    with pytest.raises(ParseError, match="expired after 60 s"):
        c.confirm("@alice", "web")
    with pytest.raises(ParseError, match="no forced failover"):
        c.confirm("@alice", "web")


def test_confirmations_are_per_group_and_a_new_ask_restarts_the_clock() -> None:
    clock = Clock()
    c = Confirmations(ttl=60, clock=clock)
    c.ask("@alice", "web", None)
    clock.t += 50
    c.ask("@alice", "web", "site-a")  # asked again: the new one counts
    c.ask("@bob", "db", None)
    clock.t += 50
    assert c.confirm("@alice", "web").to == "site-a"
    assert c.confirm("@bob", "db").user == "@bob"
    with pytest.raises(ParseError, match="no forced failover of mail"):
        c.confirm("@alice", "mail")


def test_concurrent_confirmations_let_exactly_one_through() -> None:
    import threading

    c = Confirmations(ttl=60)
    c.ask("@alice", "web", None)
    results: list[str] = []
    start = threading.Barrier(8)

    def confirm() -> None:
        start.wait()
        try:
            results.append(c.confirm("@alice", "web").user)
        except ParseError:
            results.append("refused")

    threads = [threading.Thread(target=confirm) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == ["@alice"] + ["refused"] * 7
