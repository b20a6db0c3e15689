"""Identifier types.

Each id is a `NewType` so the type checker keeps a pool name from being passed where a site is
expected; the `Annotated` aliases add the validation msgspec applies on the wire.
"""

from __future__ import annotations

from typing import Annotated, NewType

from msgspec import Meta

SiteName = NewType("SiteName", str)
PoolName = NewType("PoolName", str)
ImageName = NewType("ImageName", str)
ImageSpec = NewType("ImageSpec", str)  # "pool/image", as the rbd CLI writes it
FsName = NewType("FsName", str)
DirPath = NewType("DirPath", str)
GroupName = NewType("GroupName", str)
RequestId = NewType("RequestId", str)
OpId = NewType("OpId", str)
PeerUUID = NewType("PeerUUID", str)

SITE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,30}$"
# Ceph pool/image/fs names: no '/', '@' or whitespace (librbd splits specs on those)
CEPH_NAME_PATTERN = r"^[A-Za-z0-9_.][A-Za-z0-9_.\-]{0,126}$"
DIR_PATTERN = r"^/([^/\x00]+(/[^/\x00]+)*)?$"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{7,63}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

Site = Annotated[SiteName, Meta(pattern=SITE_PATTERN, description="site name, e.g. site-a")]
Pool = Annotated[PoolName, Meta(pattern=CEPH_NAME_PATTERN, description="RBD pool name")]
Image = Annotated[ImageName, Meta(pattern=CEPH_NAME_PATTERN, description="RBD image name")]
Fs = Annotated[FsName, Meta(pattern=CEPH_NAME_PATTERN, description="CephFS file system name")]
Dir = Annotated[
    DirPath,
    Meta(pattern=DIR_PATTERN, max_length=4096, description="absolute directory path in the file system"),
]
Group = Annotated[GroupName, Meta(pattern=SITE_PATTERN, description="protection group name")]
ReqId = Annotated[
    RequestId,
    Meta(pattern=REQUEST_ID_PATTERN, description="caller-chosen id; a repeat returns the first outcome"),
]
# what a KV key allows (op records live under `op.<id>`): anything else could only be refused
# by the store, as a 503, instead of here as a 400
OP_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$"
Op = Annotated[OpId, Meta(pattern=OP_ID_PATTERN, max_length=64, description="operation id")]
PeerId = Annotated[PeerUUID, Meta(pattern=UUID_PATTERN, description="mirror peer uuid")]


PublicKey = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="an agent's X25519 public key, base64 (as its heartbeat publishes it)",
    ),
]
SealedBlob = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9+/=_-]+$",
        min_length=16,
        max_length=8192,
        description="a bootstrap token sealed (NaCl Box) for one recipient agent, base64",
    ),
]
