"""The witness: can this site reach its PEER's cluster, with the credentials peer bootstrap stored?

rbd-mirror keeps the peer's mon_host and cephx key in the pool's mirror peer attributes. A fresh,
short-lived connection with exactly those proves what auto-failover needs to know (the peer's mons
answer and accept the key) independent of the controller's view. `connect(timeout=)` alone can
hang on dead mons: `client_mount_timeout` is what bounds the mon hunt.
"""

from __future__ import annotations

import logging
import math

import rados

from agent.ceph.cluster import shutdown_detached
from agent.ceph.executor import CephExecutor
from schemas.errors import CephDRError

log = logging.getLogger(__name__)


def _connect_once(client_name: str, mon_host: str, key: str, timeout: float) -> None:
    t = str(math.ceil(timeout))
    r = rados.Rados(
        conffile=None,  # None: no ceph.conf at all ('' would read the default search path)
        name=client_name,
        conf={
            "mon_host": mon_host,
            "key": key,
            "client_mount_timeout": t,
            "rados_mon_op_timeout": t,
            "log_to_stderr": "false",
            "err_to_stderr": "false",
        },
    )
    try:
        r.connect(timeout=math.ceil(timeout))
    finally:
        shutdown_detached(r, "probe")


async def probe_peer(
    executor: CephExecutor, *, client_name: str, mon_host: str, key: str, deadline: float = 5.0
) -> bool:
    """True if the peer's monitors accepted us within the deadline. Never raises, never logs the key."""
    try:
        await executor.call(
            lambda: _connect_once(client_name, mon_host, key, deadline * 0.8),
            deadline=deadline,
            what=f"probe peer {mon_host}",
        )
    except CephDRError as err:
        log.info("peer cluster %s not reachable: %s", mon_host, err.code)
        return False
    return True
