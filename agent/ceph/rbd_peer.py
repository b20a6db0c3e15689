"""RBD mirror peers: bootstrap tokens, the peer list, removal, and peer credentials for the probe.

A bootstrap token is base64(JSON {fsid, client_id, key, mon_host}); the key is a cephx secret, and
so is the peer attribute `key`. Neither is ever logged, put in an exception, or returned in a
reply: the token leaves this module only as the caller seals it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import rados
import rbd

from agent.ceph.cluster import CephCluster
from agent.ceph.rbd_util import PEER_DIRECTION_VALUES, PEER_DIRECTIONS, open_pool
from schemas.errors import Conflict, InvalidRequest


def peer_dict(p: dict[str, Any]) -> dict[str, Any]:
    """A peer of `mirror_peer_list`, with the direction as its name."""
    return {
        "uuid": p["uuid"],
        "site_name": p.get("site_name") or p.get("cluster_name") or "",
        "direction": PEER_DIRECTIONS.get(p.get("direction", -1), "rx-tx"),
        "client_name": p.get("client_name", ""),
        "mirror_uuid": p.get("mirror_uuid", ""),
    }


@dataclass(frozen=True)
class BootstrapToken:
    """A token as bytes (to seal) plus its non-secret parts. `repr` hides the secret."""

    token: bytes
    fsid: str
    mon_host: str

    def __repr__(self) -> str:
        return f"BootstrapToken(fsid={self.fsid!r}, mon_host={self.mon_host!r}, token=<secret>)"


def parse_token(token: bytes) -> BootstrapToken:
    """Check a token's shape without ever echoing its content."""
    try:
        doc = json.loads(base64.b64decode(token, validate=True))
        fsid, mon_host = str(doc["fsid"]), str(doc["mon_host"])
        if not doc.get("key") or not doc.get("client_id"):
            raise KeyError("key")
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidRequest(
            "the sealed blob does not hold an RBD peer bootstrap token", where="$.sealed"
        ) from None
    return BootstrapToken(token=token, fsid=fsid, mon_host=mon_host)


async def bootstrap_create(cluster: CephCluster, pool: str) -> BootstrapToken:
    """Create (or reuse) `client.rbd-mirror-peer` and return the pool's bootstrap token."""

    def run(r: rados.Rados) -> BootstrapToken:
        with open_pool(r, pool) as ioctx:
            if rbd.RBD().mirror_mode_get(ioctx) == rbd.RBD_MIRROR_MODE_DISABLED:
                raise Conflict(f"mirroring is not enabled on pool {pool}", where="$.pool")
            token = rbd.RBD().mirror_peer_bootstrap_create(ioctx)
        return parse_token(token.encode() if isinstance(token, str) else bytes(token))

    return await cluster.call(run, what=f"peer bootstrap create {pool}")


async def bootstrap_import(
    cluster: CephCluster, pool: str, token: BootstrapToken, direction: str, *, deadline: float | None = None
) -> tuple[bool, dict[str, Any] | None]:
    """Import a token; returns (changed, the peer). An existing peer with the token's monitors is
    left as it is (changed=False), as librbd itself does on a repeated import."""

    def run(r: rados.Rados) -> tuple[bool, dict[str, Any] | None]:
        api = rbd.RBD()
        if token.fsid == r.get_fsid():
            raise InvalidRequest("the token is this cluster's own: import it on the peer", where="$.sealed")
        with open_pool(r, pool) as ioctx:
            if api.mirror_mode_get(ioctx) == rbd.RBD_MIRROR_MODE_DISABLED:
                raise Conflict(f"mirroring is not enabled on pool {pool}", where="$.pool")
            existing = _peer_with_mon_host(api, ioctx, token.mon_host)
            if existing is not None:
                return False, existing
            before = {p["uuid"] for p in api.mirror_peer_list(ioctx)}
            api.mirror_peer_bootstrap_import(ioctx, PEER_DIRECTION_VALUES[direction], token.token.decode())
            new = [peer_dict(p) for p in api.mirror_peer_list(ioctx) if p["uuid"] not in before]
            return True, (new[0] if new else _peer_with_mon_host(api, ioctx, token.mon_host))

    return await cluster.call(run, what=f"peer bootstrap import {pool}", deadline=deadline)


def _peer_with_mon_host(api: rbd.RBD, ioctx: rados.Ioctx, mon_host: str) -> dict[str, Any] | None:
    for p in api.mirror_peer_list(ioctx):
        try:
            attrs = api.mirror_peer_get_attributes(ioctx, p["uuid"])
        except rbd.ObjectNotFound:  # a peer added by hand, without stored credentials
            continue
        if attrs.get("mon_host") == mon_host:
            return peer_dict(p)
    return None


async def mirror_peer_list(cluster: CephCluster, pool: str) -> list[dict[str, Any]]:
    """The pool's peers: uuid, site_name, direction, client_name, mirror_uuid (never keys)."""

    def run(r: rados.Rados) -> list[dict[str, Any]]:
        with open_pool(r, pool) as ioctx:
            if rbd.RBD().mirror_mode_get(ioctx) == rbd.RBD_MIRROR_MODE_DISABLED:
                return []
            return [peer_dict(p) for p in rbd.RBD().mirror_peer_list(ioctx)]

    return await cluster.call(run, what=f"mirror peer list {pool}")


async def remove_peer(cluster: CephCluster, pool: str, uuid: str) -> bool:
    """Remove a peer; False when there was no such peer (librbd itself ignores unknown uuids)."""

    def run(r: rados.Rados) -> bool:
        api = rbd.RBD()
        with open_pool(r, pool) as ioctx:
            if api.mirror_mode_get(ioctx) == rbd.RBD_MIRROR_MODE_DISABLED:
                return False
            if uuid not in {p["uuid"] for p in api.mirror_peer_list(ioctx)}:
                return False
            api.mirror_peer_remove(ioctx, uuid)
            return True

    return await cluster.call(run, what=f"mirror peer remove {pool}")


async def peer_attributes(cluster: CephCluster, pool: str, uuid: str) -> tuple[str, str]:
    """(mon_host, key) the peer bootstrap stored for this peer: the peer-reachability probe's
    credentials. The key is a SECRET: keep it out of logs, errors and replies."""

    def run(r: rados.Rados) -> tuple[str, str]:
        with open_pool(r, pool) as ioctx:
            attrs = rbd.RBD().mirror_peer_get_attributes(ioctx, uuid)
        return str(attrs.get("mon_host", "")), str(attrs.get("key", ""))

    return await cluster.call(run, what=f"mirror peer attributes {pool}")
