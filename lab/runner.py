"""`cephdr lab up | down | status`: orchestration of NATS and the two Ceph sites.

`up` is a list of steps run in order (each idempotent): NATS, the sites, peering (optional), an agent
per site, then the controller. `down` stops the controller first, then the agents (both drain on
SIGTERM), then everything else.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bus import identities
from lab import agents, mirror, model, ports, procs
from lab import controller as lab_controller
from lab.cmd import LabError
from lab.conf import short_run_root, site_paths
from lab.nats import NatsPaths
from lab.nats import includes as nats_includes
from lab.nats import running_pid as nats_running_pid
from lab.nats import start as start_nats
from lab.site import CORE_DAEMONS, Aborted, Site

log = logging.getLogger(__name__)

SITE_NAMES = ("site-a", "site-b")
# NATS identities for agents of sites the lab does not run (a test's agent of a dead cluster)
SPARE_AGENT_SITES = ("site-dead",)
# down stops in this order: mirror daemons first (an rbd-mirror whose peer is gone can hang), mon last
STOP_ORDER = ("client.", "mds.", "osd.", "mgr.", "mon.")
LAB_MARKERS = (model.LAB_FILE, ports.PORTS_FILE, "site-a", "nats")


@dataclass
class UpContext:
    dir: Path
    objectstore: str
    peered: bool
    with_agents: bool = True
    tls: bool = False
    sites: list[Site] = field(default_factory=list)
    agents: list[model.AgentInfo] = field(default_factory=list)
    controller: model.ControllerInfo | None = None
    nats_pid: int = 0
    nats_url: str = ""
    credentials: dict[str, str] = field(default_factory=dict)
    tls_dir: str = ""


Step = tuple[str, Callable[[UpContext], None]]


def make_sites(lab_dir: Path, objectstore: str) -> list[Site]:
    base = ports.allocate(lab_dir, len(SITE_NAMES))
    return [Site(site_paths(lab_dir, name), ports.site_ports(base, i), objectstore)
            for i, name in enumerate(SITE_NAMES)]


def existing_sites(lab_dir: Path, info: model.LabInfo) -> list[Site]:
    base = ports.recorded_base(lab_dir) or 0
    return [Site(site_paths(lab_dir, s.name), ports.site_ports(base, i), info.objectstore)
            for i, s in enumerate(info.sites)]


def expected_daemons(site: Site) -> list[str]:
    return [*CORE_DAEMONS, f"client.{mirror.rbd_mirror_id(site)}", f"client.{mirror.cephfs_mirror_id(site)}"]


# ---------------------------------------------------------------------- steps
def step_nats(ctx: UpContext) -> None:
    """nats-server with an identity per role (`cephdr nats-config`'s output, kept across
    restarts) and, with --tls, mutual TLS: every lab client connects as its role."""
    paths = NatsPaths(ctx.dir / "nats")
    gen = identities.generate(paths.creds_dir, [*SITE_NAMES, *SPARE_AGENT_SITES], tap=True,
                              tls_hosts=["127.0.0.1", "localhost"] if ctx.tls else None)
    ctx.credentials = gen.credentials
    ctx.tls_dir = str(paths.creds_dir / "tls") if ctx.tls else ""
    ctx.nats_pid, ctx.nats_url = start_nats(paths, auth=gen.auth_conf, tls=gen.tls_conf)
    if not nats_includes(paths, gen.auth_conf):
        # a server started by an older cephdr, without identities, still runs: say so
        ctx.credentials, ctx.tls_dir = {}, ""


def _site_up(site: Site) -> None:
    site.up()
    mirror.mirror_daemons(site)


def step_sites(ctx: UpContext) -> None:
    """Both sites in parallel (most of the time is each site waiting on its own daemons)."""
    with ThreadPoolExecutor(len(ctx.sites), thread_name_prefix="site") as pool:
        futures = [pool.submit(_site_up, s) for s in ctx.sites]
        wait(futures, return_when=FIRST_EXCEPTION)
        for s in ctx.sites:
            if any(f.done() and f.exception() for f in futures):
                s.abort.set()
        errors = [e for f in futures if (e := f.exception()) is not None and not isinstance(e, Aborted)]
    if errors:
        if len(errors) > 1:
            log.error("also failed: %s", "; ".join(str(e) for e in errors[1:]))
        raise errors[0]


def step_peering(ctx: UpContext) -> None:
    a, b = ctx.sites
    mirror.peer_rbd(a, b)
    mirror.peer_cephfs(a, b)


def step_agents(ctx: UpContext) -> None:
    """One cephdr agent per site, configured from what the lab started (written to lab.json first:
    an agent reads nothing else of the lab)."""
    info = describe(ctx)
    model.save(info)
    ctx.agents = [agents.start(info, s) for s in info.sites]


def step_controller(ctx: UpContext) -> None:
    """The controller, once the agents serve (it learns the sites from their heartbeats)."""
    ctx.controller = lab_controller.start(describe(ctx))


def up_steps(peered: bool, with_agents: bool = True) -> list[Step]:
    """`with_agents` is the agents and the controller (`--no-agents`: neither)."""
    steps: list[Step] = [("nats", step_nats), ("sites", step_sites)]
    if peered:
        steps.append(("peering", step_peering))
    if with_agents:
        steps.append(("agents", step_agents))
        steps.append(("controller", step_controller))
    return steps


# ---------------------------------------------------------------------- up
def problems(lab_dir: Path) -> list[str]:
    """What is wrong with the lab at lab_dir (empty: every daemon of it runs)."""
    try:
        info = model.load(lab_dir)
    except (OSError, ValueError) as e:
        return [f"no lab description: {e}"]
    out = []
    if nats_running_pid(NatsPaths(lab_dir / "nats")) is None:
        out.append("nats-server is not running")
    for site in existing_sites(lab_dir, info):
        out.extend(f"{site.name} {d} is not running" for d in expected_daemons(site) if not site.running(d))
    out.extend(f"cephdr agent of {a.site} is not running"
               for a in info.agents if agents.running_pid(lab_dir, a.site) is None)
    if info.controller is not None and lab_controller.running_pid(lab_dir) is None:
        out.append("cephdr controller is not running")
    return out


def up(
    lab_dir: Path, objectstore: str = "bluestore", peered: bool = False, with_agents: bool = True,
    tls: bool = False,
) -> model.LabInfo:
    lab_dir = lab_dir.resolve()
    existed = (lab_dir / model.LAB_FILE).exists()
    if existed:
        info = model.load(lab_dir)
        has_cephdr = bool(info.agents) and info.controller is not None
        if (not problems(lab_dir) and (info.peered or not peered) and (has_cephdr or not with_agents)
                and (bool(info.tls_dir) or not tls)):
            log.info("lab at %s is already up", lab_dir)
            return info
        if tls and not info.tls_dir:
            raise LabError(f"the lab at {lab_dir} runs without TLS; `cephdr lab down` it first")
        tls = bool(info.tls_dir)
        peered = peered or info.peered
        with_agents = with_agents or bool(info.agents) or info.controller is not None
        objectstore = info.objectstore
    lab_dir.mkdir(parents=True, exist_ok=True)
    ctx = UpContext(dir=lab_dir, objectstore=objectstore, peered=peered, with_agents=with_agents, tls=tls)
    try:
        ctx.sites = make_sites(lab_dir, objectstore)
        for name, step in up_steps(peered, with_agents):
            t0 = time.monotonic()
            step(ctx)
            log.info("step %s done in %.1fs", name, time.monotonic() - t0)
        info = describe(ctx)
        model.save(info)
    except BaseException as e:
        if not existed:
            log.error("lab up failed; stopping what it started and removing %s", lab_dir)
            down(lab_dir)
        if isinstance(e, LabError):
            raise
        if isinstance(e, Exception):
            raise LabError(f"lab up failed: {e!r}") from e
        raise
    return info


def describe(ctx: UpContext) -> model.LabInfo:
    sites = []
    for s in ctx.sites:
        p = s.paths
        sites.append(model.SiteInfo(
            name=s.name, conf=str(p.conf), keyring=str(p.keyring), fsid=s.fsid, mon_host=s.ports.mon_host,
            dir=str(p.dir), run_dir=str(p.run_dir),
            rbd_mirror_asok=str(p.asok(f"client.{mirror.rbd_mirror_id(s)}")),
            cephfs_mirror_asok=str(p.asok(f"client.{mirror.cephfs_mirror_id(s)}")),
            daemons=s.daemons(),
        ))
    return model.LabInfo(dir=str(ctx.dir), nats_url=ctx.nats_url, nats_pid=ctx.nats_pid,
                         objectstore=ctx.sites[0].objectstore if ctx.sites else ctx.objectstore,
                         sites=sites, agents=list(ctx.agents), controller=ctx.controller, peered=ctx.peered,
                         credentials=dict(ctx.credentials), tls_dir=ctx.tls_dir)


# ---------------------------------------------------------------------- down
def _pid_files(lab_dir: Path) -> list[tuple[str, Path]]:
    """(daemon name, pid file) for every pid file of the lab, in stop order."""
    files = [(f.name.removesuffix(".pid"), f) for f in short_run_root(lab_dir).glob("site-*/*.pid")]
    files.sort(key=lambda nf: next((i for i, pre in enumerate(STOP_ORDER) if nf[0].startswith(pre)),
                                   len(STOP_ORDER)))
    files.append(("nats-server", lab_dir / "nats" / "nats.pid"))
    return files


def down(lab_dir: Path) -> None:
    """Stop every process of the lab by PID (SIGKILL: its state is deleted anyway), remove all its state."""
    lab_dir = lab_dir.resolve()
    if lab_dir.exists() and not any((lab_dir / m).exists() for m in LAB_MARKERS):
        raise LabError(f"{lab_dir} does not look like a lab directory; not touching it")
    marker = f"{lab_dir}/"
    # the controller first, then the agents: they drain (finish running operations, flush events)
    # on SIGTERM, and the controller's operations call the agents
    lab_controller.stop(lab_dir)
    agents.stop_all(lab_dir)
    for name, pid_file in _pid_files(lab_dir):
        pid = procs.read_pid(pid_file)
        if pid and procs.alive(pid):
            if procs.is_lab_process(pid, marker):
                procs.stop([pid], term_timeout=0, what=name)
            else:
                log.warning("pid %d (%s) is not a lab process any more; leaving it", pid, name)
    # daemons whose pid file is gone (crashed mid-start, respawned mgr...) are found by command line
    stray = procs.find_lab_processes(marker)
    if stray:
        log.info("stopping processes found by command line: %s", stray)
        procs.stop(stray, term_timeout=0, what="stray")
    left = procs.find_lab_processes(marker)
    if left:
        raise LabError(f"processes of the lab survived SIGKILL: {left}")
    ports.release(lab_dir)
    shutil.rmtree(short_run_root(lab_dir), ignore_errors=True)
    shutil.rmtree(lab_dir, ignore_errors=True)
    log.info("lab at %s is down and removed", lab_dir)


# ---------------------------------------------------------------------- status
def _proc(name: str, pid: int | None) -> dict[str, Any]:
    return {"name": name, "pid": pid, "alive": procs.alive(pid), "rss": procs.rss_bytes(pid)}


def status(lab_dir: Path) -> dict[str, Any]:
    lab_dir = lab_dir.resolve()
    info = model.load(lab_dir)
    nats_pid = procs.read_pid(lab_dir / "nats" / "nats.pid")
    sites = existing_sites(lab_dir, info)
    # health of both sites at once: each call may take its full timeout when a site is down
    with ThreadPoolExecutor(max(1, len(sites))) as pool:
        healths = list(pool.map(lambda s: s.health(), sites))
    out_sites = []
    for s, si, health in zip(sites, info.sites, healths, strict=True):
        daemons = [_proc(n, s.pid(n)) for n in expected_daemons(s)]
        out_sites.append({"name": s.name, "conf": si.conf, "keyring": si.keyring, "fsid": si.fsid,
                          "mon_host": si.mon_host, "health": health, "daemons": daemons})
    out_agents = [
        {"site": a.site, "config": a.config, "log": a.log, **_proc(f"cephdr-agent {a.site}",
                                                                    agents.running_pid(lab_dir, a.site))}
        for a in info.agents
    ]
    out_controller = None
    if info.controller is not None:
        out_controller = {"config": info.controller.config, "log": info.controller.log,
                          "metrics_url": info.controller.metrics_url,
                          **_proc("cephdr-controller", lab_controller.running_pid(lab_dir))}
    return {"dir": str(lab_dir), "nats_url": info.nats_url, "nats": _proc("nats-server", nats_pid),
            "credentials": info.credentials, "tls_dir": info.tls_dir,
            "objectstore": info.objectstore, "peered": info.peered, "sites": out_sites,
            "agents": out_agents, "controller": out_controller}


def status_ok(st: dict[str, Any]) -> bool:
    procs_ok = (
        st["nats"]["alive"]
        and all(d["alive"] for s in st["sites"] for d in s["daemons"])
        and all(a["alive"] for a in st.get("agents", []))
        and (st.get("controller") or {}).get("alive", True)
    )
    return bool(procs_ok) and all(s["health"] in ("HEALTH_OK", "HEALTH_WARN") for s in st["sites"])


def total_rss(st: dict[str, Any]) -> int:
    return (
        int(st["nats"]["rss"] or 0)
        + sum(int(d["rss"] or 0) for s in st["sites"] for d in s["daemons"])
        + sum(int(a["rss"] or 0) for a in st.get("agents", []))
        + int((st.get("controller") or {}).get("rss") or 0)
    )
