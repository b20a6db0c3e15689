"""The operator CLI's pure parts: exit codes from the error tree, argument parsing into the
requests it sends, the typed confirmation of a forced failover (fake terminal streams), and the
event filter. Nothing is connected; nothing is faked but the terminal."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cli import confirm, exit_codes
from cli.event_filter import EventFilter, parse_subject, since_seconds
from cli.failover_cmd import failover_body
from cli.main import build_parser
from cli.peer_cmd import connect_body
from schemas import errors
from schemas.ctl import Failover, PeerConnect


class FakeTty(io.StringIO):
    """A terminal the operator types `text` into."""

    def isatty(self) -> bool:
        return True


class TestExitCodes:
    @pytest.mark.parametrize(
        ("err", "code"),
        [
            (errors.InvalidRequest("bad"), 2),
            (errors.RequestTooLarge("big"), 2),
            (errors.ConfirmationRequired("type it"), 3),
            (errors.Conflict("wrong state"), 3),
            (errors.Busy("held by an op"), 3),
            (errors.NotFound("no group"), 3),
            (errors.PermissionDenied("denied"), 3),
            (errors.DeadlineExceeded("slow"), 5),
            (errors.Unavailable("down"), 6),
            (errors.Internal("bug"), 1),
        ],
    )
    def test_each_error_of_the_tree_has_its_meaning(self, err: errors.CephDRError, code: int) -> None:
        assert exit_codes.for_error(err) == code

    def test_an_error_rebuilt_from_a_reply_maps_like_the_original(self) -> None:
        body = errors.Busy("x", where="$.group").body()
        assert exit_codes.for_error(errors.from_body(body)) == exit_codes.REFUSED

    @pytest.mark.parametrize(
        ("state", "code"), [("succeeded", 0), ("failed", 4), ("cancelled", 4), ("running", 5)]
    )
    def test_how_an_operation_ended(self, state: str, code: int) -> None:
        assert exit_codes.for_op_state(state) == code

    def test_codes_are_distinct_and_all_described(self) -> None:
        codes = [
            exit_codes.OK,
            exit_codes.ERROR,
            exit_codes.USAGE,
            exit_codes.REFUSED,
            exit_codes.FAILED,
            exit_codes.TIMED_OUT,
            exit_codes.UNAVAILABLE,
        ]
        assert len(set(codes)) == len(codes) and set(exit_codes.MEANING) == set(codes)


def parse(*argv: str) -> Any:
    return build_parser().parse_args(list(argv))


class TestParsing:
    def test_failover_defaults_planned_to_the_other_site(self) -> None:
        a = parse("failover", "web")
        assert failover_body(a, None) == {"group": "web"}
        assert a.wait and not a.force and not a.confirmed
        msgspec.convert({"request_id": "cli-x-0123456789", **failover_body(a, None)}, type=Failover)

    def test_forced_failover_carries_the_confirmation(self) -> None:
        a = parse("failover", "web", "--to", "site-b", "--force", "--yes-i-really-mean-it")
        assert failover_body(a, "web") == {"group": "web", "to": "site-b", "force": True, "confirm": "web"}

    def test_connection_options_and_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CEPHDR_NATS", "nats://n1:4222")
        monkeypatch.setenv("CEPHDR_NATS_CREDS", "/etc/cephdr/op.creds")
        a = parse("status")
        assert (a.nats, a.creds, a.json) == ("nats://n1:4222", "/etc/cephdr/op.creds", False)
        a = parse("status", "web", "--json", "--nats", "nats://x:1", "--actor", "alice")
        assert (a.group, a.nats, a.actor, a.json) == ("web", "nats://x:1", "alice", True)

    def test_the_actor_defaults_to_the_os_user(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import getpass

        monkeypatch.setattr(getpass, "getuser", lambda: "bob")
        from cli.session import default_actor

        assert default_actor() == "bob"

    def test_ops_without_action_lists(self) -> None:
        from cli.ops_cmd import list_ops, show_op

        assert parse("ops").func is list_ops
        a = parse("ops", "show", "plan-1")
        assert a.func is show_op and a.op_id == "plan-1"

    def test_peer_connect_needs_exactly_a_pool_or_a_fs(self) -> None:
        a = parse("peer", "connect", "site-a", "site-b", "--pool", "rbd")
        body = connect_body(a)
        assert body == {"source": "site-a", "target": "site-b", "pool": "rbd", "direction": "rx-tx"}
        msgspec.convert({"request_id": "cli-x-0123456789", **body}, type=PeerConnect)
        with pytest.raises(SystemExit) as exc:
            parse("peer", "connect", "site-a", "site-b", "--pool", "rbd", "--fs", "cephfs")
        assert exc.value.code == exit_codes.USAGE

    def test_pause_is_fleet_wide_without_a_group(self) -> None:
        a = parse("pause", "--reason", "maintenance")
        assert a.group is None and a.reason == "maintenance"


class TestConfirmation:
    def test_typing_the_name_confirms(self) -> None:
        err = io.StringIO()
        assert confirm.ask("web", "A forced failover", stdin=FakeTty("web\n"), stderr=err) == "web"
        assert "Type the group's name (web)" in err.getvalue()

    def test_anything_else_refuses(self) -> None:
        with pytest.raises(errors.ConfirmationRequired, match="did not match"):
            confirm.ask("web", "A forced failover", stdin=FakeTty("we\n"), stderr=io.StringIO())

    def test_an_empty_answer_refuses(self) -> None:
        with pytest.raises(errors.ConfirmationRequired):
            confirm.ask("web", "A forced failover", stdin=FakeTty(""), stderr=io.StringIO())

    def test_no_terminal_cannot_confirm(self) -> None:
        with pytest.raises(errors.ConfirmationRequired, match="--yes-i-really-mean-it") as exc:
            confirm.ask("web", "A forced failover", stdin=io.StringIO("web\n"), stderr=io.StringIO())
        assert exit_codes.for_error(exc.value) == exit_codes.REFUSED


class TestEventFilter:
    def test_subjects_give_site_and_kind(self) -> None:
        assert parse_subject("cephdr.evt.site-a.rbd.image") == ("site-a", "rbd.image")
        assert parse_subject("cephdr.ctl.evt.alert") == (None, "alert")

    def test_kind_matches_itself_and_its_sub_kinds(self) -> None:
        f = EventFilter(kind="rbd")
        assert f.matches("cephdr.evt.site-a.rbd.image", {})
        assert not f.matches("cephdr.evt.site-a.rbdx", {})
        assert not f.matches("cephdr.ctl.evt.op", {})

    def test_site_from_the_subject_or_the_body(self) -> None:
        f = EventFilter(site="site-b")
        assert f.matches("cephdr.evt.site-b.op", {})
        assert not f.matches("cephdr.evt.site-a.op", {})
        alert = {"group": "web", "alert": {"kind": "site_down", "site": "site-b"}}
        assert f.matches("cephdr.ctl.evt.alert", alert)
        assert not f.matches("cephdr.ctl.evt.alert", {"group": "web", "alert": {"site": "site-a"}})

    def test_group_from_the_body(self) -> None:
        f = EventFilter(group="web")
        assert f.matches("cephdr.ctl.evt.op", {"group": "web"})
        assert not f.matches("cephdr.ctl.evt.op", {"group": "db"})
        assert not f.matches("cephdr.evt.site-a.rbd.image", {"image": "vm-1"})

    def test_heartbeats_only_on_request(self) -> None:
        assert not EventFilter().matches("cephdr.evt.site-a.heartbeat", {})
        assert EventFilter(kind="heartbeat").matches("cephdr.evt.site-a.heartbeat", {})

    def test_live_subjects_narrow_by_site(self) -> None:
        assert EventFilter(site="site-a").subjects() == ["cephdr.evt.site-a.>", "cephdr.ctl.evt.>"]

    @pytest.mark.parametrize(("text", "s"), [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400)])
    def test_since(self, text: str, s: float) -> None:
        assert since_seconds(text) == s

    @pytest.mark.parametrize("text", ["", "15", "m", "1w", "-5m", "1.5h"])
    def test_since_refuses_what_it_cannot_read(self, text: str) -> None:
        with pytest.raises(errors.InvalidRequest):
            since_seconds(text)


class TestLabDefaults:
    def test_an_explicit_lab_dir_gives_its_url_and_operator_credentials(self, tmp_path: Path) -> None:
        from cli.session import lab_defaults

        (tmp_path / "lab.json").write_text(
            '{"nats_url": "nats://127.0.0.1:40001", "credentials": {"operator": "/x/operator.nk"}}'
        )
        assert lab_defaults({"CEPHDR_LAB_DIR": str(tmp_path)}) == ("nats://127.0.0.1:40001", "/x/operator.nk")

    def test_no_lab_dir_or_no_lab_gives_nothing(self, tmp_path: Path) -> None:
        from cli.session import lab_defaults

        assert lab_defaults({}) == ("", "")
        assert lab_defaults({"CEPHDR_LAB_DIR": str(tmp_path)}) == ("", "")
        (tmp_path / "lab.json").write_text("not json")
        assert lab_defaults({"CEPHDR_LAB_DIR": str(tmp_path)}) == ("", "")

    def test_an_explicit_url_wins_and_takes_no_lab_credentials(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "lab.json").write_text(
            '{"nats_url": "nats://127.0.0.1:40001", "credentials": {"operator": "/x/operator.nk"}}'
        )
        monkeypatch.setenv("CEPHDR_LAB_DIR", str(tmp_path))
        monkeypatch.delenv("CEPHDR_NATS_CREDS", raising=False)
        monkeypatch.delenv("CEPHDR_NATS_URL", raising=False)
        monkeypatch.delenv("CEPHDR_NATS", raising=False)
        a = parse("status")
        assert (a.nats, a.creds) == ("nats://127.0.0.1:40001", "/x/operator.nk")
        monkeypatch.setenv("CEPHDR_NATS", "nats://prod:4222")
        a = parse("status")
        assert (a.nats, a.creds) == ("nats://prod:4222", "")

    def test_a_tls_lab_gives_the_operators_certificate(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "lab.json").write_text('{"nats_url": "tls://127.0.0.1:40001", "tls_dir": "/lab/tls"}')
        for k in (
            "CEPHDR_NATS",
            "CEPHDR_NATS_URL",
            "CEPHDR_NATS_TLS_CA",
            "CEPHDR_NATS_TLS_CERT",
            "CEPHDR_NATS_TLS_KEY",
        ):
            monkeypatch.delenv(k, raising=False)
        monkeypatch.setenv("CEPHDR_LAB_DIR", str(tmp_path))
        a = parse("status")
        assert (a.tls_ca, a.tls_cert, a.tls_key) == (
            "/lab/tls/ca.pem",
            "/lab/tls/operator.pem",
            "/lab/tls/operator.key",
        )
        monkeypatch.setenv("CEPHDR_NATS", "tls://prod:4222")
        assert parse("status").tls_cert == ""
