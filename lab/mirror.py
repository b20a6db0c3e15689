"""rbd-mirror and cephfs-mirror daemons on each site, and the optional demo peering (`lab up --peered`).

Peering tokens are secrets: they are passed in memory (stdin or an in-process mgr command), never on a
command line, never logged, never written to disk.
"""

from __future__ import annotations

import json
import logging

from lab.cmd import LabError
from lab.site import FS_NAME, RBD_POOL, Site

log = logging.getLogger(__name__)

RBD_MIRROR_CAPS = ["mon", "profile rbd-mirror", "osd", "profile rbd"]
CEPHFS_MIRROR_CAPS = ["mon", "profile cephfs-mirror", "mds", "allow r",
                      "osd", "allow rw tag cephfs metadata=*, allow r tag cephfs data=*", "mgr", "allow r"]
CEPHFS_REMOTE_USER = "client.mirror_remote"


def rbd_mirror_id(site: Site) -> str:
    return f"rbd-mirror.{site.letter}"


def cephfs_mirror_id(site: Site) -> str:
    return f"cephfs-mirror.{site.letter}"


def ensure_key(site: Site, entity: str, caps: list[str]) -> None:
    """Append entity's key to the site's client keyring once (the mirror daemons read it from there)."""
    keyring = site.paths.keyring
    if f"[{entity}]" in keyring.read_text():
        return
    out = site.ceph("auth", "get-or-create", entity, *caps)
    with open(keyring, "a") as f:
        f.write(out if out.endswith("\n") else out + "\n")


def start_client_daemon(site: Site, binary: str, client_id: str) -> None:
    p = site.paths
    name = f"client.{client_id}"
    # CEPH_CONF is required: rbd-mirror/cephfs-mirror build extra cluster handles that ignore -c and only
    # read CEPH_CONF or the default /etc/ceph search path
    site.start_daemon(
        name,
        [binary, "-c", str(p.conf), "--id", client_id,
         "--log-to-file=true", "--log-file", str(p.log_file(name)),
         "--pid-file", str(p.pid_file(name)), "--admin-socket", str(p.asok(name))],
        env={"CEPH_CONF": str(p.conf)},
    )


def mirror_daemons(site: Site) -> None:
    """rbd-mirror and cephfs-mirror on this site (both sites get both, so mirroring can run either way)."""
    ensure_key(site, f"client.{rbd_mirror_id(site)}", RBD_MIRROR_CAPS)
    ensure_key(site, f"client.{cephfs_mirror_id(site)}", CEPHFS_MIRROR_CAPS)
    start_client_daemon(site, "rbd-mirror", rbd_mirror_id(site))
    start_client_daemon(site, "cephfs-mirror", cephfs_mirror_id(site))


def rbd_peered(a: Site, b: Site) -> bool:
    info = json.loads(b.rbd("mirror", "pool", "info", RBD_POOL, "--format", "json"))
    return any(peer.get("site_name") == a.name for peer in info.get("peers", []))


def peer_rbd(a: Site, b: Site) -> None:
    """Two-way RBD peering from one token: bootstrap create on a, import rx-tx on b."""
    if rbd_peered(a, b):
        return
    token = a.rbd("mirror", "pool", "peer", "bootstrap", "create", "--site-name", a.name, RBD_POOL)
    b.rbd("mirror", "pool", "peer", "bootstrap", "import", "--site-name", b.name, "--direction", "rx-tx",
          RBD_POOL, "-", input=token.encode())
    log.info("rbd: %s <-> %s peered (pool %s)", a.name, b.name, RBD_POOL)


def mgr_command(site: Site, cmd: dict[str, str], timeout: int = 60) -> str:
    """An in-process mgr command (keeps secrets off argv); librados gives up after `timeout`."""
    import rados  # system package, only present where Ceph is installed

    cluster = rados.Rados(conffile=str(site.paths.conf),
                          conf={"rados_mon_op_timeout": str(timeout), "rados_osd_op_timeout": str(timeout)})
    try:
        cluster.connect(timeout=timeout)
        ret, out, errs = cluster.mgr_command(json.dumps(cmd), b"", timeout=timeout)
    finally:
        cluster.shutdown()
    if ret != 0:
        # errs never contains the token; cmd may, so it is not shown
        raise LabError(f"{site.name}: mgr command {cmd['prefix']!r} failed: {ret} {errs}")
    return bytes(out).decode()


def peer_cephfs(src: Site, dst: Site) -> None:
    """One-way CephFS snapshot mirroring src -> dst (Pacific: one direction per peer)."""
    for s in (src, dst):
        s.ceph("fs", "snapshot", "mirror", "enable", FS_NAME)
    peers = src.ceph("fs", "snapshot", "mirror", "peer_list", FS_NAME)
    if dst.name in peers:
        return
    dst.ceph("fs", "authorize", FS_NAME, CEPHFS_REMOTE_USER, "/", "rwps")
    out = dst.ceph("fs", "snapshot", "mirror", "peer_bootstrap", "create", FS_NAME, CEPHFS_REMOTE_USER,
                   dst.name)
    token = json.loads(out)["token"]
    mgr_command(src, {"prefix": "fs snapshot mirror peer_bootstrap import", "fs_name": FS_NAME,
                      "token": token})
    log.info("cephfs: %s -> %s peered (fs %s)", src.name, dst.name, FS_NAME)
