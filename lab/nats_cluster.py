"""A 3-node nats-server cluster on loopback (JetStream, R3), beside the lab's single server.

Each node runs the lab server's own config (`lab.nats.render_config`, with the same `include`s:
the accounts and credentials `lab up` made, so every lab identity works on the cluster too) plus
a name, a store of its own and a `cluster {}` block whose routes name all three nodes. Client ports
are random (learnt from each node's ports file); route ports are picked free once and kept, since
every node lists them all. The fault drills (tests/system/faults/test_nats_cluster.py) start it,
kill -9 one node, start that node again on the same ports, and scale every stream to R3.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lab import nats as lab_nats
from lab import procs
from lab.cmd import DaemonFailed, LabError, wait_until

log = logging.getLogger(__name__)

NODES = 3
CLUSTER_NAME = "cephdr-lab-cluster"


@dataclass(frozen=True)
class Node:
    index: int  # 1..NODES
    paths: lab_nats.NatsPaths
    route_port: int

    @property
    def name(self) -> str:
        return f"cephdr-lab-n{self.index}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nodes(cluster_dir: Path) -> list[Node]:
    """The nodes of the cluster at `cluster_dir` (route ports chosen once, kept in routes.json)."""
    cluster_dir.mkdir(parents=True, exist_ok=True)
    routes = cluster_dir / "routes.json"
    if routes.exists():
        ports = [int(p) for p in json.loads(routes.read_text())]
    else:
        ports = [_free_port() for _ in range(NODES)]
        routes.write_text(json.dumps(ports))
    return [Node(i + 1, lab_nats.NatsPaths(cluster_dir / f"n{i + 1}"), ports[i]) for i in range(NODES)]


def render(node: Node, all_nodes: list[Node], lab_conf: Path) -> str:
    """The node's config; `lab_conf` is the lab server's, whose includes are re-pointed from here
    (nats-server resolves an include relative to the including file)."""
    own = lab_nats.render_config(node.paths).replace(
        f"server_name: {lab_nats.SERVER_NAME}", f"server_name: {node.name}"
    )
    includes = ""
    for inc in re.findall(r'^include "([^"]+)"$', lab_conf.read_text(), flags=re.M):
        target = (lab_conf.parent / inc).resolve()
        includes += f"include {json.dumps(os.path.relpath(target, node.paths.dir))}\n"
    routes = ", ".join(f"nats-route://127.0.0.1:{n.route_port}" for n in all_nodes)
    return (
        f"{own}{includes}cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{node.route_port}\n"
        f"  routes: [{routes}]\n}}\n"
    )


def _urls(node: Node, pid: int) -> dict[str, list[str]]:
    try:
        data = json.loads(lab_nats.ports_file(node.paths, pid).read_text())
    except (OSError, ValueError):
        return {}
    return {k: list(v) for k, v in data.items() if isinstance(v, list)}


def start_node(node: Node, all_nodes: list[Node], lab_conf: Path, client_port: int | None = None) -> int:
    """Start one node (on `client_port` when given: a restart keeps its clients' URL); its pid."""
    node.paths.store_dir.mkdir(parents=True, exist_ok=True)
    node.paths.conf.write_text(render(node, all_nodes, lab_conf))
    argv = [lab_nats.server_binary(), "-c", str(node.paths.conf)]
    if client_port:
        argv += ["-a", "127.0.0.1", "-p", str(client_port)]
    with open(node.paths.dir / "nats.out", "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, env=dict(os.environ))

    def failed() -> DaemonFailed:
        lines = procs.tail(node.paths.log_file) + procs.tail(node.paths.dir / "nats.out")
        return DaemonFailed(f"nats node {node.name} did not come up", daemon=node.name, log_tail=lines[-20:])

    def ready() -> bool:
        if proc.poll() is not None:
            raise failed()
        return bool(_urls(node, proc.pid).get("nats"))

    wait_until(ready, 20, f"{node.name} ports file", interval=0.05, on_timeout=failed)
    return proc.pid


def client_url(node: Node) -> str:
    pid = running_pid(node)
    urls = _urls(node, pid).get("nats") if pid else None
    if not urls:
        raise LabError(f"nats node {node.name} is not running", daemon=node.name)
    return urls[0]


def running_pid(node: Node) -> int | None:
    return lab_nats.running_pid(node.paths)


def start(cluster_dir: Path, lab_conf: Path, timeout: float = 60.0) -> list[str]:
    """Start every node that is not running; wait for a JetStream meta leader. Client URLs."""
    all_nodes = nodes(cluster_dir)
    for n in all_nodes:
        if running_pid(n) is None:
            log.info("start nats node %s", n.name)
            start_node(n, all_nodes, lab_conf)
    wait_until(lambda: meta_leader(all_nodes), timeout, "a JetStream meta leader in the NATS cluster",
               interval=0.2)
    return [client_url(n) for n in all_nodes]


def meta_leader(all_nodes: list[Node]) -> str | None:
    """The JetStream meta leader as one running node's monitoring endpoint reports it."""
    for n in all_nodes:
        pid = running_pid(n)
        mon = _urls(n, pid).get("monitoring") if pid else None
        if not mon:
            continue
        try:
            with urllib.request.urlopen(f"{mon[0]}/jsz", timeout=2) as r:
                leader = json.loads(r.read()).get("meta_cluster", {}).get("leader")
        except (OSError, ValueError):
            continue
        if leader:
            return str(leader)
    return None


def kill_node(node: Node) -> int:
    """kill -9 one node; returns the client port it served."""
    pid = running_pid(node)
    if pid is None:
        raise LabError(f"nats node {node.name} is not running", daemon=node.name)
    port = int(client_url(node).rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not procs.alive(pid), 10, f"{node.name} gone", interval=0.05)
    return port


def stop(cluster_dir: Path) -> None:
    for n in nodes(cluster_dir):
        pid = running_pid(n)
        if pid is not None:
            procs.stop([pid], term_timeout=5, what=n.name)
