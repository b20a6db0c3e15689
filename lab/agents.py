"""The lab's cephdr agents: one per site, configured from what the lab started.

Each agent is a `cephdr agent --config LAB/agents/<site>.toml` process (the same entry point as
the systemd unit), logging to LAB/agents/<site>.log. Ready means its micro service answers; the
agent itself says READY to systemd only after its first good scan, which the tests wait for on
the bus instead.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from agent import config as agent_config
from lab import model, procs
from lab.cmd import DaemonFailed, wait_until

log = logging.getLogger(__name__)

# lab agents scan often so tests see changes within seconds (production default: 5 s)
LAB_SCAN_INTERVAL = 2.0


def agents_dir(lab_dir: Path) -> Path:
    return lab_dir / "agents"


def config_for(info: model.LabInfo, site: model.SiteInfo) -> agent_config.AgentConfig:
    d = agents_dir(Path(info.dir))
    return agent_config.AgentConfig(
        site=site.name,  # type: ignore[arg-type]
        nats=info.nats_config(f"agent-{site.name}"),
        ceph=agent_config.CephConfig(
            conf=site.conf,
            client="client.admin",
            keyring=site.keyring,
            rbd_mirror_asok=site.rbd_mirror_asok,
            cephfs_mirror_asok=site.cephfs_mirror_asok,
        ),
        status=agent_config.StatusConfig(
            interval=LAB_SCAN_INTERVAL,
            pools=[],  # every mirrored pool: tests make their own
            filesystems=[site.fs_name],  # type: ignore[list-item]
        ),
        agent=agent_config.AgentSection(
            identity_file=str(d / f"{site.name}.key"), heartbeat_interval=2.0, peer_probe_interval=5.0
        ),
    )


def _pid_file(lab_dir: Path, site: str) -> Path:
    return agents_dir(lab_dir) / f"{site}.pid"


def is_agent(pid: int, lab_dir: Path) -> bool:
    argv = procs.cmdline(pid)
    marker = str(agents_dir(lab_dir)) + "/"
    return "agent" in argv and any(marker in a for a in argv)


def running_pid(lab_dir: Path, site: str) -> int | None:
    pid = procs.read_pid(_pid_file(lab_dir, site))
    if pid and procs.alive(pid) and is_agent(pid, lab_dir):
        return pid
    return None


def start(info: model.LabInfo, site: model.SiteInfo, *, timeout: float = 60.0) -> model.AgentInfo:
    lab_dir = Path(info.dir)
    d = agents_dir(lab_dir)
    d.mkdir(parents=True, exist_ok=True)
    conf = d / f"{site.name}.toml"
    log_file = d / f"{site.name}.log"
    pid = running_pid(lab_dir, site.name)
    if pid is None:
        conf.write_text(agent_config.dump(config_for(info, site)))
        log.info("start cephdr agent for %s", site.name)
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "agent", "--config", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        pid = proc.pid
        _pid_file(lab_dir, site.name).write_text(f"{pid}\n")

        def failed() -> DaemonFailed:
            return DaemonFailed(
                f"cephdr agent for {site.name} did not come up",
                daemon=f"agent {site.name}",
                log_tail=procs.tail(log_file),
            )

        def serving() -> bool:
            if proc.poll() is not None:
                raise failed()
            return any("serving cephdr.agent." in line for line in procs.tail(log_file, 200))

        wait_until(serving, timeout, f"agent {site.name} serving", interval=0.2, on_timeout=failed)
    return model.AgentInfo(site=site.name, pid=pid, config=str(conf), log=str(log_file))


def stop_all(lab_dir: Path) -> None:
    """SIGTERM (agents drain in well under 30 s), SIGKILL fallback; strays found by command line."""
    pids = []
    for f in agents_dir(lab_dir).glob("*.pid"):
        pid = procs.read_pid(f)
        if pid and procs.alive(pid) and is_agent(pid, lab_dir):
            pids.append(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in pids and int(entry) != os.getpid():
            pid = int(entry)
            if procs.alive(pid) and is_agent(pid, lab_dir):
                pids.append(pid)
    procs.stop(pids, term_timeout=10, what="cephdr agent")
