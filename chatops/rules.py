"""What a chat message asks for, who may ask it, and forced failovers waiting for their
confirmation (pure: no errbot, no NATS; the clock is injected).

    !dr status [group]                    view
    !dr ops [group]                       view
    !dr failover <group> [to <site>]      operate   (planned: nothing written is lost)
    !dr failover <group> [to <site>] --force      force (then `!dr confirm <group>`)
    !dr confirm <group>                   force     (the same user, within the time limit)
    !dr failback <group>                  operate
    !dr pause [group] / !dr resume [group]  operate (automatic failover: hold / lift)
    !dr help
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

import msgspec

from schemas.ids import SITE_PATTERN

Role = Literal["view", "operate", "force"]
ROLES: tuple[Role, ...] = ("view", "operate", "force")
# a role includes the ones before it: who may force may also fail over planned, and look
_IMPLIES: dict[str, tuple[Role, ...]] = {
    "view": ("view",),
    "operate": ("view", "operate"),
    "force": ("view", "operate", "force"),
}

Verb = Literal["status", "ops", "failover", "confirm", "failback", "pause", "resume", "help"]
NEEDS: dict[Verb, Role] = {
    "status": "view",
    "ops": "view",
    "help": "view",
    "failover": "operate",  # "force" when --force: see Parsed.needs
    "confirm": "force",
    "failback": "operate",
    "pause": "operate",
    "resume": "operate",
}

USAGE = (
    "usage: !dr status [group] | !dr ops [group] | !dr failover <group> [to <site>] [--force] | "
    "!dr confirm <group> | !dr failback <group> | !dr pause [group] | !dr resume [group]"
)


class ParseError(ValueError):
    """The message is not a valid `!dr` command; the text says what is."""


@dataclass(frozen=True)
class Parsed:
    verb: Verb
    group: str | None = None
    to: str | None = None
    force: bool = False

    @property
    def needs(self) -> Role:
        return "force" if self.force else NEEDS[self.verb]


def _name(word: str, what: str) -> str:
    if not re.fullmatch(SITE_PATTERN.strip("^$"), word):
        raise ParseError(f"{word!r} is not a {what} name (lower-case letters, digits and '-', up to 31)")
    return word


def parse(args: str) -> Parsed:
    """The words after `!dr`."""
    words = args.split()
    if not words:
        return Parsed("help")
    verb, rest = words[0].lower(), words[1:]
    if verb in ("help", "?"):
        return Parsed("help")
    if verb in ("status", "ops", "pause", "resume"):
        if len(rest) > 1:
            raise ParseError(f"!dr {verb} takes at most a group name; {USAGE}")
        return Parsed(cast(Verb, verb), group=_name(rest[0], "group") if rest else None)
    if verb in ("failback", "confirm"):
        if len(rest) != 1:
            raise ParseError(f"!dr {verb} needs exactly one group name: !dr {verb} <group>")
        return Parsed(cast(Verb, verb), group=_name(rest[0], "group"))
    if verb == "failover":
        force = False
        words_left = []
        for w in rest:
            if w in ("--force", "-f"):
                force = True
            elif w.startswith("-"):
                raise ParseError(f"unknown option {w}; only --force")
            else:
                words_left.append(w)
        if len(words_left) == 1:
            return Parsed("failover", group=_name(words_left[0], "group"), force=force)
        if len(words_left) == 3 and words_left[1].lower() == "to":
            return Parsed(
                "failover",
                group=_name(words_left[0], "group"),
                to=_name(words_left[2], "site"),
                force=force,
            )
        raise ParseError("usage: !dr failover <group> [to <site>] [--force]")
    raise ParseError(f"unknown command {verb!r}; {USAGE}")


class AllowList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Chat user -> roles, from the bot config (`users`). The key `*` applies to everyone."""

    users: dict[str, list[Role]] = msgspec.field(default_factory=dict)

    @classmethod
    def load(cls, users: Mapping[str, Iterable[str]]) -> AllowList:
        """Validated: an unknown role in the config is an error at start, not a silent refusal."""
        try:
            return msgspec.convert({"users": {k: list(v) for k, v in users.items()}}, cls)
        except msgspec.ValidationError as exc:
            raise ValueError(f"allow-list: {exc} (roles: {', '.join(ROLES)})") from None

    def roles(self, user: str) -> set[Role]:
        got: set[Role] = set()
        for r in [*self.users.get(user, []), *self.users.get("*", [])]:
            got.update(_IMPLIES[r])
        return got

    def refusal(self, user: str, need: Role) -> str | None:
        """None when `user` may do what needs `need`; otherwise why not, in words."""
        have = self.roles(user)
        if need in have:
            return None
        if not have:
            return f"{user} is not on the cephdr allow-list; ask an admin to add you (role {need})"
        return f"{user} may not do this: it needs role {need}, you have {', '.join(sorted(have))}"


@dataclass(frozen=True)
class Pending:
    user: str
    group: str
    to: str | None
    at: float


@dataclass
class Confirmations:
    """Forced failovers asked for and not yet confirmed, one per group (a new ask replaces it)."""

    ttl: float = 60.0
    clock: Callable[[], float] = time.monotonic
    pending: dict[str, Pending] = field(default_factory=dict)
    # errbot runs commands on a pool of threads: two confirmations at once must not both pass
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ask(self, user: str, group: str, to: str | None) -> Pending:
        p = Pending(user=user, group=group, to=to, at=self.clock())
        with self._lock:
            self.pending[group] = p
        return p

    def confirm(self, user: str, group: str) -> Pending:
        """The pending request, consumed; ParseError (with the reason) when it can't be confirmed."""
        with self._lock:
            p = self.pending.get(group)
            if p is None:
                raise ParseError(f"no forced failover of {group} is waiting for confirmation")
            if self.clock() - p.at > self.ttl:
                del self.pending[group]
                raise ParseError(
                    f"the forced failover of {group} asked by {p.user} expired after {self.ttl:g} s; "
                    "ask again"
                )
            if p.user != user:
                raise ParseError(
                    f"only {p.user}, who asked for the forced failover of {group}, can confirm it"
                )
            del self.pending[group]
            return p
