"""Fencing epochs: who may be primary for a protection group (design.md §3).

The controller writes one `FenceRecord` per group into KV `cephdr_state` under `fence.<group>`,
bumping `epoch` on every primary change. An agent whose site is not `primary` for the current epoch
must not hold any of the group's images as primary: it demotes them as soon as it learns the epoch,
before it serves anything else (self-fencing).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from schemas.ids import Dir, Fs, Group, Image, Pool, Site, SiteName


class FenceMember(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pool: Pool
    images: list[Image]


class FsFenceMember(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fs: Fs
    dirs: list[Dir]


class FenceRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The current epoch of one protection group and the site it names primary.

    A site that is not primary demotes the group's `rbd` images and stops mirroring the group's
    `fs` directories out (a returning old primary would otherwise push its stale snapshots onto the
    new primary's live directories)."""

    group: Group
    epoch: Annotated[int, Meta(ge=0)]
    primary: Site
    rbd: list[FenceMember] = msgspec.field(default_factory=list)
    fs: list[FsFenceMember] = msgspec.field(default_factory=list)
    updated_at: float = 0.0
    reason: str = ""


class FenceAction(msgspec.Struct, frozen=True, kw_only=True):
    """One image an agent demoted (or failed to) because an epoch named another site primary."""

    pool: Pool
    image: Image
    ok: bool
    error: str = ""


class FsFenceAction(msgspec.Struct, frozen=True, kw_only=True):
    """A directory an agent stopped mirroring out (or failed to) because an epoch named another site."""

    fs: Fs
    path: Dir
    ok: bool
    error: str = ""


class FenceEvent(msgspec.Struct, frozen=True, kw_only=True, tag="cephdr.agent.fence.v1", tag_field="type"):
    """An agent fenced itself for a group: on `cephdr.evt.<site>.fence`."""

    site: SiteName
    at: float
    group: Group
    epoch: int
    primary: Site
    actions: list[FenceAction]
    fs_actions: list[FsFenceAction] = msgspec.field(default_factory=list)
