"""RBD peer endpoints: sealed bootstrap exchange between agents, list, remove.

The bootstrap token holds a cephx key: it exists in clear only inside these handlers, between
Ceph and `ctx.identity.seal` / after `ctx.identity.open`. It is never logged, returned or put
in an error.
"""

from __future__ import annotations

from agent.ceph import rbd_peer, rbd_pool
from agent.context import AgentContext
from agent.service.guards import require_confirmation, require_pool
from agent.service.registry import router
from schemas.common import Done
from schemas.rbd import (
    CreateBootstrap,
    ImportBootstrap,
    ListPeers,
    PeerInfo,
    PeerList,
    RemovePeer,
    SealedBootstrap,
)

# import connects to the peer cluster named in the token: allow for a slow remote mon
_IMPORT_DEADLINE = 30.0


@router.command("rbd.peer.bootstrap.create", request=CreateBootstrap, reply=SealedBootstrap)
async def bootstrap_create(ctx: AgentContext, req: CreateBootstrap) -> SealedBootstrap:
    """Create a peer bootstrap token for a pool, sealed for the recipient agent's public key."""
    await require_pool(ctx.cluster, req.pool)
    if req.site_name is not None:
        await rbd_pool.set_site_name(ctx.cluster, req.site_name)
    token = await rbd_peer.bootstrap_create(ctx.cluster, req.pool)
    sealed = ctx.identity.seal(token.token, req.recipient_public_key)
    return SealedBootstrap(
        pool=req.pool,
        sealed=sealed,
        sender_site=await rbd_pool.site_name(ctx.cluster),
        sender_public_key=ctx.identity.public_key,
        recipient_site=req.recipient_site,
        fsid=token.fsid,
    )


@router.command("rbd.peer.bootstrap.import", request=ImportBootstrap, reply=Done)
async def bootstrap_import(ctx: AgentContext, req: ImportBootstrap) -> Done:
    """Open a sealed bootstrap token and import it into a pool (rx-only or rx-tx); idempotent."""
    token = rbd_peer.parse_token(ctx.identity.open(req.sealed, req.sender_public_key))
    await require_pool(ctx.cluster, req.pool)
    changed = False
    if req.site_name is not None:
        changed = await rbd_pool.set_site_name(ctx.cluster, req.site_name)
    added, peer = await rbd_peer.bootstrap_import(
        ctx.cluster, req.pool, token, req.direction, deadline=_IMPORT_DEADLINE
    )
    name = f"{peer['site_name']} ({peer['uuid']})" if peer else f"cluster {token.fsid}"
    if not added:
        note = ""
        if peer and peer["direction"] != req.direction:
            note = f"; it stays {peer['direction']} (remove the peer to change direction)"
        return Done(changed=changed, message=f"pool {req.pool} already has peer {name}{note}")
    return Done(changed=True, message=f"pool {req.pool}: peer {name} added, direction {req.direction}")


@router.command("rbd.peer.list", request=ListPeers, reply=PeerList)
async def peer_list(ctx: AgentContext, req: ListPeers) -> PeerList:
    """The mirror peers of a pool: uuid, site name, direction, client (no keys)."""
    peers = await rbd_peer.mirror_peer_list(ctx.cluster, req.pool)
    return PeerList(pool=req.pool, peers=[PeerInfo(**p) for p in peers])


@router.command("rbd.peer.remove", request=RemovePeer, reply=Done)
async def peer_remove(ctx: AgentContext, req: RemovePeer) -> Done:
    """Remove a mirror peer of a pool (confirm = the peer uuid); replication with it stops."""
    require_confirmation(req.confirm, req.uuid, "removing a mirror peer")
    if await rbd_peer.remove_peer(ctx.cluster, req.pool, req.uuid):
        return Done(changed=True, message=f"peer {req.uuid} removed from pool {req.pool}")
    return Done(changed=False, message=f"pool {req.pool} has no peer {req.uuid}")
