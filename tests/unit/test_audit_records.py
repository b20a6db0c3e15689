"""Audit records: what is kept of a request (secrets redacted), who sent it, and the CLI filters.
Pure: Outcomes are built here, nothing is published."""

from __future__ import annotations

import base64
import json
import os
import struct

import msgspec
import nkeys
import pytest

from bus.audit import REDACTED, audit_subject, build_record, redact, scrub, sender_of
from bus.service import Outcome
from cli.audit_cmd import Filters, parse_since
from schemas.audit import AuditRecord
from schemas.errors import ConfirmationRequired
from schemas.rbd import ImportBootstrap, PromoteImage

# made fresh each run, in the real formats (no secret-looking literal in the tree): a cephx key is
# type 1, created (sec, nsec), length 16 and the 16 secret bytes; an nkey user seed
CEPHX = base64.b64encode(b"\x01\x00" + struct.pack("<IIH", 1_700_000_000, 0, 16) + os.urandom(16)).decode()
SEED = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER).decode()
TOKEN = "eyJmc2lkIjoiZjAzYjU2ZGMtNGQ5ZS00ZjI4LWJiZTEtNzMyNWI0ZGMxYjk5Iiwia2V5IjoiQVFCLi4uIn0="


def outcome(request: msgspec.Struct | None, *, error: Exception | None = None, reply: str = "") -> Outcome:
    return Outcome(
        endpoint="rbd.image.promote",
        subject="cephdr.agent.site-a.rbd.image.promote",
        request=request,
        ok=error is None,
        error=error,  # type: ignore[arg-type]
        duration_s=0.0125,
        reply=reply,
        size=123,
        at=1_700_000_000.0,
    )


class TestRedaction:
    def test_secret_fields_are_replaced_whatever_their_value(self) -> None:
        got = redact({"sealed": "abc", "token": "t", "key": "k", "nkey_seed": "s", "keyring": "/x",
                      "pool": "rbd"})
        assert got == {"sealed": REDACTED, "token": REDACTED, "key": REDACTED, "nkey_seed": REDACTED,
                       "keyring": REDACTED, "pool": "rbd"}

    def test_public_keys_and_absent_values_stay(self) -> None:
        got = redact({"recipient_public_key": "A" * 43 + "=", "sealed": None})
        assert got == {"recipient_public_key": "A" * 43 + "=", "sealed": None}

    @pytest.mark.parametrize("secret", [CEPHX, SEED, TOKEN])
    def test_secret_looking_values_are_replaced_anywhere(self, secret: str) -> None:
        got = redact({"notes": [f"before {secret} after"], "nested": {"x": secret}})
        assert secret not in json.dumps(got)
        assert scrub(f"key={secret}") == f"key={REDACTED}"

    def test_a_sealed_bootstrap_never_reaches_the_record(self) -> None:
        req = msgspec.convert({"request_id": "req-00000001", "pool": "rbd", "sealed": "Zm9v" * 20,
                               "sender_public_key": "B" * 43 + "=", "actor": "alice"}, ImportBootstrap)
        rec = build_record(outcome(req), service="agent", site="site-a")
        assert "Zm9v" not in msgspec.json.encode(rec).decode()
        assert rec.request is not None and rec.request["sealed"] == REDACTED
        assert rec.request["sender_public_key"] == "B" * 43 + "="


class TestRecord:
    def test_ok_record_names_sender_actor_request_and_duration(self) -> None:
        req = msgspec.convert({"request_id": "req-00000002", "pool": "rbd", "image": "img", "actor": "alice"},
                              PromoteImage)
        rec = build_record(outcome(req, reply="_INBOX_ops_alice.xyz.7"), service="agent", site="site-a")
        assert (rec.sender, rec.actor, rec.request_id, rec.outcome, rec.status) == (
            "_INBOX_ops_alice", "alice", "req-00000002", "ok", 200)
        assert rec.duration_ms == 12.5 and rec.request_bytes == 123 and rec.at == 1_700_000_000.0
        assert rec.request is not None and rec.request["image"] == "img"

    def test_refusal_keeps_code_status_and_message(self) -> None:
        req = msgspec.convert({"request_id": "req-00000003", "pool": "rbd", "image": "img", "force": True},
                              PromoteImage)
        err = ConfirmationRequired("forced promote on rbd/img ...", where="$.confirm")
        rec = build_record(outcome(req, error=err), service="agent", site="site-a")
        assert (rec.outcome, rec.status) == ("confirmation_required", 400)
        assert rec.message.startswith("forced promote")

    def test_undecodable_request_keeps_only_its_size(self) -> None:
        rec = build_record(outcome(None, error=ConfirmationRequired("x")), service="ctl", site=None)
        assert rec.request is None and rec.request_bytes == 123 and rec.actor is None

    def test_wire_form_round_trips_with_its_type_tag(self) -> None:
        rec = build_record(outcome(None), service="ctl", site=None)
        raw = msgspec.json.encode(rec)
        assert json.loads(raw)["type"] == "cephdr.audit.v1"
        assert msgspec.json.decode(raw, type=AuditRecord) == rec

    def test_sender_and_subject_helpers(self) -> None:
        assert sender_of("") == ""
        assert sender_of("_INBOX_controller.abc.1") == "_INBOX_controller"
        assert audit_subject("cephdr.agent.site-a") == "cephdr.audit.agent.site-a"
        assert audit_subject("cephdr.ctl") == "cephdr.audit.ctl"


class TestCliFilters:
    def rec(self, **kw: object) -> AuditRecord:
        base: dict[str, object] = {"at": 1000.0, "service": "ctl", "subject": "cephdr.ctl.failover",
                                   "endpoint": "failover", "sender": "_INBOX_chatops", "actor": "bob",
                                   "outcome": "ok", "duration_ms": 1.0}
        return AuditRecord(**(base | kw))  # type: ignore[arg-type]

    def test_each_filter(self) -> None:
        r = self.rec()
        assert Filters().match(r)
        assert Filters(since=999).match(r) and not Filters(since=1001).match(r)
        assert Filters(actor="bob").match(r) and not Filters(actor="alice").match(r)
        assert Filters(subject="cephdr.ctl.*").match(r) and not Filters(subject="*.promote").match(r)
        assert Filters(outcome="ok").match(r) and not Filters(outcome="error").match(r)
        bad = self.rec(outcome="confirmation_required", status=400)
        assert Filters(outcome="error").match(bad) and Filters(outcome="confirmation_required").match(bad)

    def test_since_ages_and_iso_times(self) -> None:
        assert parse_since("30m", 10_000.0) == 10_000.0 - 1800
        assert parse_since("2h", 10_000.0) == 10_000.0 - 7200
        assert parse_since("1970-01-01T00:01:40", 0.0) == 100.0
        with pytest.raises(Exception, match="expected an age"):
            parse_since("yesterday", 0.0)
