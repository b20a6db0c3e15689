"""Every `nats req <subject> '<json>'` example in the README is a request the service accepts: its
subject names a registered endpoint and its body decodes (msgspec, as bus/codec.py does) into that
endpoint's request type. And nothing an operator sends through natscli may need `{{`, which natscli
expands as a template: neither the README bodies nor anything in the exported JSON Schemas."""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

import agent.service.all  # noqa: F401  (registers the agent's endpoints)
import controller.service.all  # noqa: F401  (registers the controller's endpoints)
from agent.service.registry import router as agent_router
from bus.router import Endpoint
from controller.service.registry import router as ctl_router
from schemas import export
from schemas.ctl import Failover

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# natscli options that take a value (everything else starting with "-" is a flag)
VALUE_OPTIONS = {"--server", "-s", "--creds", "--nkey", "--timeout", "--header", "-H", "--replies",
                 "--context", "--inbox-prefix", "--user", "--password", "--tlscert", "--tlskey", "--tlsca"}
_COMMAND = re.compile(r"^\s*nats\s+req\s")
_AGENT = re.compile(r"^cephdr\.agent\.([a-z0-9][a-z0-9-]*)\.(.+)$")


class Example(msgspec.Struct, frozen=True):
    line: int
    subject: str
    body: str


def examples(text: str) -> list[Example]:
    """Each `nats req` command (a line of its own) in a fenced block: its subject and raw body."""
    out: list[Example] = []
    in_block = False
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("```"):
            in_block = not in_block
            continue
        if not in_block or not _COMMAND.match(raw):
            continue
        words = shlex.split(raw, comments=True)[2:]
        args: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            if w.startswith("-"):
                i += 2 if (w in VALUE_OPTIONS and "=" not in w) else 1
                continue
            args.append(w)
            i += 1
        assert len(args) == 2, f"README.md:{n}: expected `nats req SUBJECT BODY`, got {args}"
        out.append(Example(n, args[0], args[1]))
    return out


def endpoint_of(subject: str) -> Endpoint[Any]:
    if m := _AGENT.match(subject):
        return agent_router.endpoints[m.group(2)]
    name = subject.removeprefix("cephdr.ctl.")
    assert name != subject, f"{subject} is neither an agent nor a controller subject"
    return ctl_router.endpoints[name]


README_EXAMPLES = examples(README.read_text())


def test_the_readme_has_examples_for_the_common_tasks() -> None:
    subjects = {e.subject for e in README_EXAMPLES}
    assert {
        "cephdr.ctl.status", "cephdr.ctl.site.list", "cephdr.agent.site-a.status", "cephdr.ctl.peer.connect",
        "cephdr.ctl.failover", "cephdr.ctl.failback", "cephdr.ctl.auto.pause", "cephdr.ctl.auto.resume",
        "cephdr.ctl.op.get",
    } <= subjects
    failovers = [msgspec.json.decode(e.body, type=Failover) for e in README_EXAMPLES
                 if e.subject == "cephdr.ctl.failover"]
    assert {f.force for f in failovers} == {False, True}  # planned and forced both shown


@pytest.mark.parametrize("ex", README_EXAMPLES, ids=lambda e: f"README:{e.line}:{e.subject}")
def test_every_readme_example_is_a_valid_request(ex: Example) -> None:
    ep = endpoint_of(ex.subject)
    req = msgspec.json.decode(ex.body, type=ep.request)  # raises, naming the field, if it drifted
    assert "{{" not in ex.body
    if isinstance(req, Failover) and req.force:
        assert req.confirm == req.group, "a forced failover is refused unless confirm = the group"


def test_request_ids_in_the_readme_are_not_reused() -> None:
    """A repeated request_id returns the first outcome: two different examples sharing one would
    make the second silently do nothing when pasted after the first."""
    ids = Counter((endpoint_of(e.subject).name, json.loads(e.body).get("request_id"))
                  for e in README_EXAMPLES if "request_id" in json.loads(e.body))
    assert [k for k, n in ids.items() if n > 1] == []


def test_the_parser_reads_options_and_comments() -> None:
    text = "```sh\nnats req --timeout 30s --raw cephdr.ctl.status '{\"group\": \"web\"}'   # note\n```\n" \
           "nats req not.in.a.block '{}'\n"
    assert examples(text) == [Example(2, "cephdr.ctl.status", '{"group": "web"}')]
    with pytest.raises(msgspec.ValidationError, match="unknown field `bogus`"):
        msgspec.json.decode('{"bogus": 1}', type=endpoint_of("cephdr.ctl.status").request)


def test_no_exported_schema_needs_a_template() -> None:
    rendered = export.render()
    assert len(rendered) > 50
    assert [name for name, text in rendered.items() if "{{" in text] == []
