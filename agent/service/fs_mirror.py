"""CephFS mirroring endpoints: `fs.mirror.*`, `fs.peer.*`, `fs.dir.*`.

A bootstrap token holds a cephx key: it leaves `fs.peer.bootstrap.create` only sealed for the
recipient agent, and `fs.peer.bootstrap.import` keeps the opened token in a local variable that
never reaches a reply, an event, a log line or an error message.
"""

from __future__ import annotations

from agent.ceph import fs_mirror
from agent.context import AgentContext
from agent.service.guards import require_confirmation
from agent.service.registry import router
from schemas.common import Done
from schemas.errors import InvalidRequest
from schemas.fs import (
    AddFsDir,
    CreateFsBootstrap,
    DisableFsMirroring,
    EnableFsMirroring,
    FsDirs,
    FsPeers,
    ImportFsBootstrap,
    ListFsDirs,
    ListFsPeers,
    RemoveFsDir,
    RemoveFsPeer,
    SealedFsBootstrap,
)


def _done(changed: bool, yes: str, no: str) -> Done:
    return Done(changed=changed, message=yes if changed else no)


@router.command("fs.mirror.enable", request=EnableFsMirroring, reply=Done)
async def enable(ctx: AgentContext, req: EnableFsMirroring) -> Done:
    """Enable snapshot mirroring on a file system."""
    changed = await fs_mirror.enable(ctx.cluster, req.fs)
    return _done(changed, f"mirroring enabled on {req.fs}", f"mirroring was already enabled on {req.fs}")


@router.command("fs.mirror.disable", request=DisableFsMirroring, reply=Done)
async def disable(ctx: AgentContext, req: DisableFsMirroring) -> Done:
    """Disable snapshot mirroring on a file system (confirm = fs name)."""
    require_confirmation(req.confirm, req.fs, "disabling CephFS mirroring")
    changed = await fs_mirror.disable(ctx.cluster, req.fs)
    return _done(changed, f"mirroring disabled on {req.fs}", f"mirroring was not enabled on {req.fs}")


@router.command("fs.peer.bootstrap.create", request=CreateFsBootstrap, reply=SealedFsBootstrap)
async def bootstrap_create(ctx: AgentContext, req: CreateFsBootstrap) -> SealedFsBootstrap:
    """Create a CephFS peer bootstrap token on this (receiving) site, sealed for the sending agent."""
    site_name = req.site_name or ctx.site
    token = await fs_mirror.bootstrap_create(ctx.cluster, req.fs, req.client_name, site_name)
    info = fs_mirror.check_token(token)
    sealed = ctx.identity.seal(token.encode(), req.recipient_public_key)
    del token
    return SealedFsBootstrap(
        fs=req.fs,
        sealed=sealed,
        sender_site=site_name,
        sender_public_key=ctx.identity.public_key,
        recipient_site=req.recipient_site,
        fsid=info["fsid"],
    )


@router.command("fs.peer.bootstrap.import", request=ImportFsBootstrap, reply=Done)
async def bootstrap_import(ctx: AgentContext, req: ImportFsBootstrap) -> Done:
    """Open a sealed CephFS bootstrap token and add its cluster as this file system's peer."""
    raw = ctx.identity.open(req.sealed, req.sender_public_key)
    try:
        token = raw.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidRequest("the opened blob is not a CephFS bootstrap token", where="$.sealed") from None
    info = fs_mirror.check_token(token)
    changed = await fs_mirror.bootstrap_import(ctx.cluster, req.fs, token)
    peer = f"{info['filesystem']} on {info['site_name']}"
    return _done(changed, f"{req.fs} now mirrors to {peer}", f"{peer} was already a peer of {req.fs}")


@router.command("fs.peer.list", request=ListFsPeers, reply=FsPeers)
async def peer_list(ctx: AgentContext, req: ListFsPeers) -> FsPeers:
    """The mirror peers of a file system (no keys)."""
    peers = await fs_mirror.peer_list(ctx.cluster, req.fs)
    return FsPeers(fs=req.fs, enabled=peers is not None, peers=peers or [])


@router.command("fs.peer.remove", request=RemoveFsPeer, reply=Done)
async def peer_remove(ctx: AgentContext, req: RemoveFsPeer) -> Done:
    """Remove a file system's mirror peer (confirm = peer uuid)."""
    require_confirmation(req.confirm, req.peer, "removing a CephFS mirror peer")
    changed = await fs_mirror.peer_remove(ctx.cluster, req.fs, req.peer)
    return _done(changed, f"peer {req.peer} removed from {req.fs}", f"{req.fs} has no peer {req.peer}")


@router.command("fs.dir.add", request=AddFsDir, reply=Done)
async def dir_add(ctx: AgentContext, req: AddFsDir) -> Done:
    """Mirror a directory of a file system (it need not exist yet)."""
    changed = await fs_mirror.dir_add(ctx.cluster, req.fs, req.path)
    return _done(changed, f"{req.path} is mirrored", f"{req.path} was already mirrored")


@router.command("fs.dir.remove", request=RemoveFsDir, reply=Done)
async def dir_remove(ctx: AgentContext, req: RemoveFsDir) -> Done:
    """Stop mirroring a directory (its data stays on both sites)."""
    changed = await fs_mirror.dir_remove(ctx.cluster, req.fs, req.path)
    return _done(changed, f"{req.path} is no longer mirrored", f"{req.path} was not mirrored")


@router.command("fs.dir.list", request=ListFsDirs, reply=FsDirs)
async def dir_list(ctx: AgentContext, req: ListFsDirs) -> FsDirs:
    """The mirrored directories of a file system and which daemon serves each."""
    dirs = await fs_mirror.dir_list(ctx.cluster, req.fs)
    return FsDirs(fs=req.fs, enabled=dirs is not None, dirs=dirs or [])
