"""Sealed peer connect: `cephdr.ctl.peer.connect`.

The controller relays a token it cannot read: one agent seals it (NaCl Box) to the other agent's
public key from that agent's heartbeats; the other opens it with the sender's key, also from the
heartbeats, which proves who made it. The cephx key inside never reaches the bus in clear.
"""

from __future__ import annotations

import time

from controller.actions import ACTIONS, Step
from controller.context import ControllerContext
from controller.ops import machine, plans
from controller.service.registry import router
from schemas.ctl import PeerConnect, PeerConnected
from schemas.ids import GroupName, OpId


@router.command("peer.connect", request=PeerConnect, reply=PeerConnected)
async def connect(ctx: ControllerContext, req: PeerConnect) -> PeerConnected:
    """Peer an RBD pool or a CephFS file system between two sites through sealed bootstrap tokens."""
    for s in (req.source, req.target):
        ctx.sites.public_key(s)  # Unavailable when the site never sent a heartbeat
    if req.pool is not None:
        st = plans.step(
            f"rbd {req.pool}: peer",
            "rbd.peer.connect",
            None,
            pool=req.pool,
            source=req.source,
            target=req.target,
            direction=req.direction,
        )
    else:
        st = plans.step(
            f"fs {req.fs}: peer", "fs.peer.connect", None, fs=req.fs, source=req.source, target=req.target
        )
    # a one-step record only to name the agent requests after this request
    op = machine.new_op(OpId(req.request_id), "reconcile", GroupName("peer"), [st], now=time.time())
    out = await ACTIONS[st.action](ctx.env, Step(op=op, index=0, record=st))
    return PeerConnected(changed=out.changed, message=out.message)
