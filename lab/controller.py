"""The lab's cephdr controller: one per lab, started after the agents.

It is a `cephdr controller --config LAB/controller/controller.toml` process (the same entry point as
the systemd unit), logging to LAB/controller/controller.log. Ready means it logged
`serving <prefix>.ctl.>` in this run (the log is appended to across restarts, so only what this
start wrote counts). It talks only to NATS; its timings are short so tests see sites come and go
within seconds.

Tests use `start(info)`, `stop(lab_dir)` and `running_pid(lab_dir)` to kill and restart it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import msgspec

from bus.config import NatsConfig
from controller import config as controller_config
from lab import model, procs
from lab.cmd import DaemonFailed, wait_until

log = logging.getLogger(__name__)

# a SIGTERM'd controller stops serving, stops its loops, flushes events and drains NATS
STOP_TIMEOUT = 20.0
# systemd/supervisor variables a lab child must not inherit (it would log to the journal or notify)
_UNINHERITED = frozenset(
    {"NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"}
)


def controller_dir(lab_dir: Path) -> Path:
    return lab_dir / "controller"


def config_path(lab_dir: Path) -> Path:
    return controller_dir(lab_dir) / "controller.toml"


def log_path(lab_dir: Path) -> Path:
    return controller_dir(lab_dir) / "controller.log"


def _pid_file(lab_dir: Path) -> Path:
    return controller_dir(lab_dir) / "controller.pid"


def config_for(info: model.LabInfo) -> controller_config.ControllerConfig:
    return controller_config.ControllerConfig(
        nats=NatsConfig(servers=[info.nats_url]),
        controller=controller_config.ControllerSection(
            site_timeout=10.0,  # lab agents heartbeat every 2 s
            poll_interval=1.0,
            reconcile_interval=60.0,
            alert_interval=5.0,
        ),
    )


def is_controller(pid: int, lab_dir: Path) -> bool:
    """PID runs `cephdr controller` with a config of this lab (not a recycled PID, not another lab's)."""
    argv = procs.cmdline(pid)
    marker = str(controller_dir(lab_dir)) + "/"
    return "controller" in argv and any(marker in a for a in argv)


def find_pids(lab_dir: Path) -> list[int]:
    """Every live controller of this lab, by command line (also those whose pid file is gone)."""
    lab_dir = lab_dir.resolve()
    me = os.getpid()
    return sorted(
        int(e) for e in os.listdir("/proc")
        if e.isdigit() and int(e) != me and procs.alive(int(e)) and is_controller(int(e), lab_dir)
    )


def running_pid(lab_dir: Path) -> int | None:
    lab_dir = lab_dir.resolve()
    pid = procs.read_pid(_pid_file(lab_dir))
    if pid and procs.alive(pid) and is_controller(pid, lab_dir):
        return pid
    return None


def start(info: model.LabInfo, *, timeout: float = 60.0) -> model.ControllerInfo:
    """Start the lab's controller unless it runs; wait until it serves. Recorded in lab.json."""
    lab_dir = Path(info.dir).resolve()
    d = controller_dir(lab_dir)
    d.mkdir(parents=True, exist_ok=True)
    conf, log_file = config_path(lab_dir), log_path(lab_dir)
    pid = running_pid(lab_dir)
    if pid is None:
        cfg = config_for(info)
        conf.write_text(controller_config.dump(cfg))
        offset = log_file.stat().st_size if log_file.exists() else 0
        log.info("start cephdr controller")
        env = {k: v for k, v in os.environ.items() if k not in _UNINHERITED}
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "controller", "--config", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                env={**env, "PYTHONUNBUFFERED": "1"},
            )
        pid = proc.pid
        _pid_file(lab_dir).write_text(f"{pid}\n")
        serving_line = f"serving {cfg.nats.prefix}.ctl."

        def failed() -> DaemonFailed:
            return DaemonFailed(
                f"cephdr controller did not come up (exit {proc.poll()})",
                daemon="cephdr controller",
                log_tail=procs.tail(log_file, 40),
            )

        def serving() -> bool:
            if proc.poll() is not None:
                raise failed()
            return serving_line in _since(log_file, offset)

        wait_until(serving, timeout, "controller serving", interval=0.2, on_timeout=failed)
    ci = model.ControllerInfo(pid=pid, config=str(conf), log=str(log_file))
    _record(lab_dir, ci)
    return ci


def _since(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _record(lab_dir: Path, ci: model.ControllerInfo) -> None:
    """Keep lab.json's pid true when a test restarts the controller (`up` writes it too)."""
    try:
        info = model.load(lab_dir)
    except (OSError, ValueError):
        return  # `up` is still making the lab: it saves the description at the end
    if info.controller != ci:
        model.save(msgspec.structs.replace(info, controller=ci))


def stop(lab_dir: Path, *, term_timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM (it drains), SIGKILL after term_timeout (0: at once); strays found by command line."""
    lab_dir = lab_dir.resolve()
    pids = set(find_pids(lab_dir))
    pid = running_pid(lab_dir)
    if pid is not None:
        pids.add(pid)
    procs.stop(sorted(pids), term_timeout=term_timeout, what="cephdr controller")
    _pid_file(lab_dir).unlink(missing_ok=True)
