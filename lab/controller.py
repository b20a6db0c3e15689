"""The lab's cephdr controller: one per lab, started after the agents; tests may add standbys.

It is a `cephdr controller --config LAB/controller/controller.toml` process (the same entry point as
the systemd unit), logging to LAB/controller/controller.log. Ready means it logged
`serving <prefix>.ctl.>` in this run (the log is appended to across restarts, so only what this
start wrote counts), or, while another controller of the lab runs, that it stands by for the
lease. It talks only to NATS; its timings are short so tests see sites come and go, and a standby
take over, within seconds.

Tests use `start(info)`, `stop(lab_dir)` and `running_pid(lab_dir)` to kill and restart it, and
`index=1, 2, ...` for more controllers of the same lab (same config; `controller-<i>.log`/`.pid`
in the same directory, so `stop(lab_dir)` and `lab down` find them all by command line).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import msgspec

from controller import config as controller_config
from lab import model, ports, procs
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


def _name(index: int) -> str:
    return "controller" if index == 0 else f"controller-{index}"


def log_path(lab_dir: Path, index: int = 0) -> Path:
    return controller_dir(lab_dir) / f"{_name(index)}.log"


def _pid_file(lab_dir: Path, index: int = 0) -> Path:
    return controller_dir(lab_dir) / f"{_name(index)}.pid"


def config_for(info: model.LabInfo) -> controller_config.ControllerConfig:
    return controller_config.ControllerConfig(
        nats=info.nats_config("controller"),
        controller=controller_config.ControllerSection(
            site_timeout=10.0,  # lab agents heartbeat every 2 s
            poll_interval=1.0,
            reconcile_interval=60.0,
            alert_interval=5.0,
            lease_ttl=8.0,  # a killed leader's standby (or restart) takes over within ~9 s
            lease_renew=2.0,
            metrics_listen=metrics_listen(info),
        ),
    )


def metrics_listen(info: model.LabInfo) -> str:
    """Controller 0's /metrics on the lab's port block; more controllers of the lab share the
    config, find the port taken and run without (the controller logs it)."""
    base = ports.recorded_base(info.dir)
    return "" if base is None else f"127.0.0.1:{ports.metrics_port(base)}"


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


def running_pid(lab_dir: Path, index: int = 0) -> int | None:
    lab_dir = lab_dir.resolve()
    pid = procs.read_pid(_pid_file(lab_dir, index))
    if pid and procs.alive(pid) and is_controller(pid, lab_dir):
        return pid
    return None


def start(info: model.LabInfo, *, index: int = 0, timeout: float = 60.0) -> model.ControllerInfo:
    """Start the lab's controller `index` unless it runs; wait until it serves, or stands by while
    another of the lab's controllers runs. Controller 0 is recorded in lab.json."""
    lab_dir = Path(info.dir).resolve()
    d = controller_dir(lab_dir)
    d.mkdir(parents=True, exist_ok=True)
    conf, log_file = config_path(lab_dir), log_path(lab_dir, index)
    pid = running_pid(lab_dir, index)
    if pid is None:
        cfg = config_for(info)
        conf.write_text(controller_config.dump(cfg))
        offset = log_file.stat().st_size if log_file.exists() else 0
        log.info("start cephdr controller %d", index)
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
        _pid_file(lab_dir, index).write_text(f"{pid}\n")
        serving_line = f"serving {cfg.nats.prefix}.ctl."
        standby_line = "standing by for the leader lease"

        def failed() -> DaemonFailed:
            return DaemonFailed(
                f"cephdr controller did not come up (exit {proc.poll()})",
                daemon="cephdr controller",
                log_tail=procs.tail(log_file, 40),
            )

        def serving() -> bool:
            if proc.poll() is not None:
                raise failed()
            text = _since(log_file, offset)
            if serving_line in text:
                return True
            # with another controller leading, standing by is all this one can do
            return standby_line in text and any(p != proc.pid for p in find_pids(lab_dir))

        wait_until(serving, timeout, "controller serving", interval=0.2, on_timeout=failed)
    listen = controller_config.load(conf).controller.metrics_listen
    ci = model.ControllerInfo(
        pid=pid, config=str(conf), log=str(log_file), metrics_url=f"http://{listen}/metrics" if listen else ""
    )
    if index == 0:
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


def stop(lab_dir: Path, *, index: int | None = None, term_timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM (it drains), SIGKILL after term_timeout (0: at once). Every controller of the lab
    (strays found by command line), or only controller `index`."""
    lab_dir = lab_dir.resolve()
    if index is not None:
        pid = running_pid(lab_dir, index)
        procs.stop([pid] if pid else [], term_timeout=term_timeout, what=f"cephdr controller {index}")
        _pid_file(lab_dir, index).unlink(missing_ok=True)
        return
    pids = set(find_pids(lab_dir))
    pid = running_pid(lab_dir)
    if pid is not None:
        pids.add(pid)
    procs.stop(sorted(pids), term_timeout=term_timeout, what="cephdr controller")
    for f in controller_dir(lab_dir).glob("controller*.pid"):
        f.unlink(missing_ok=True)
