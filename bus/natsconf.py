"""The nats-server configuration text for cephdr's identities and TLS (pure: strings in, text out).

The `accounts` block puts every identity in one account with JetStream, each authenticated by its
nkey (the server keeps only public keys) and limited by `bus.permissions`. Without a
`no_auth_user`, a client with no credentials is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bus import permissions as perms
from bus import subjects

ACCOUNT = "CEPHDR"


@dataclass(frozen=True)
class TlsFiles:
    ca: str
    cert: str
    key: str


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def render_permissions(p: perms.Permissions) -> str:
    # an empty allow list means "everything" to nats-server: nothing allowed is a deny of ">"
    pub = f"allow: {_list(p.publish)}" if p.publish else 'deny: [">"]'
    if p.publish and p.publish_deny:
        pub += f", deny: {_list(p.publish_deny)}"
    lines = [f"publish: {{ {pub} }}", f"subscribe: {{ allow: {_list(p.subscribe)} }}"]
    if p.allow_responses:
        lines.append("allow_responses: true")
    return "{\n      " + "\n      ".join(lines) + "\n    }"


def render_accounts(users: dict[str, str], prefix: str = subjects.PREFIX) -> str:
    """`users` maps role -> the public nkey ("U...") of its credentials."""
    entries = []
    for role, public in users.items():
        entries.append(
            f"  # {role} (inbox {perms.inbox_prefix(role)})\n"
            f"  {{ nkey: {public}, permissions: {render_permissions(perms.for_role(role, prefix))} }}"
        )
    body = "\n".join(entries)
    return f"accounts {{\n {ACCOUNT} {{\n  jetstream: enabled\n  users: [\n{body}\n  ]\n }}\n}}\n"


def render_tls(tls: TlsFiles, *, verify: bool) -> str:
    """The client-port TLS block; `verify` is mutual TLS (clients must show a cert from the CA)."""
    return (
        "tls {\n"
        f"  cert_file: {json.dumps(tls.cert)}\n"
        f"  key_file: {json.dumps(tls.key)}\n"
        f"  ca_file: {json.dumps(tls.ca)}\n"
        f"  verify: {'true' if verify else 'false'}\n"
        "  timeout: 5\n"
        "}\n"
    )
