"""One Ceph site of the lab: mon, mgr, osd, mds, the `rbd` pool and the `cephfs` filesystem.

A port of ceph-lab/lab.sh site_up. Every step is idempotent (markers and existence checks), so `up` on a lab
that is already there only restarts what is dead.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from typing import Any

from lab import procs
from lab.cmd import DaemonFailed, LabError, run, wait_until
from lab.conf import SitePaths, render_ceph_conf
from lab.model import DaemonInfo
from lab.ports import SitePorts

log = logging.getLogger(__name__)

RBD_POOL = "rbd"
FS_NAME = "cephfs"
CORE_DAEMONS = ("mon.a", "mgr.x", "osd.0", "mds.a")
ADMIN_CAPS = ["--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mds", "allow *", "--cap", "mgr",
              "allow *"]


class Aborted(DaemonFailed):
    """This site's bring-up was stopped because another part of `up` failed."""


class Site:
    def __init__(self, paths: SitePaths, ports: SitePorts, objectstore: str,
                 abort: threading.Event | None = None) -> None:
        self.paths = paths
        self.ports = ports
        self.objectstore = objectstore
        # set when the other site failed: stop at the next daemon start or poll instead of finishing
        self.abort = abort or threading.Event()

    def check_abort(self) -> None:
        if self.abort.is_set():
            raise Aborted(f"{self.name}: bring-up abandoned (another step failed)")

    @property
    def name(self) -> str:
        return self.paths.name

    @property
    def letter(self) -> str:
        return self.name.removeprefix("site-")

    # ------------------------------------------------------------------ CLI
    def ceph(self, *args: str, timeout: float = 120, input: bytes | None = None) -> str:
        cp = run(["ceph", "-c", str(self.paths.conf), "--connect-timeout", str(int(min(timeout, 30))), *args],
                 timeout=timeout, input=input)
        return cp.stdout.decode()

    def ceph_json(self, *args: str, timeout: float = 120) -> Any:
        return json.loads(self.ceph(*args, "--format", "json", timeout=timeout) or "null")

    def rbd(self, *args: str, timeout: float = 120, input: bytes | None = None) -> str:
        # librbd can block forever when PGs are inactive: the timeout is what saves us
        cp = run(["rbd", "-c", str(self.paths.conf), *args], timeout=timeout, input=input)
        return cp.stdout.decode()

    # ------------------------------------------------------------------ daemons
    def pid(self, daemon: str) -> int | None:
        return procs.read_pid(self.paths.pid_file(daemon))

    def running(self, daemon: str) -> bool:
        pid = self.pid(daemon)
        return pid is not None and procs.alive(pid) and procs.is_lab_process(pid, str(self.paths.dir))

    def daemon_error(self, daemon: str, message: str) -> DaemonFailed:
        lines = [ln for ln in procs.tail(self.paths.log_file(daemon)) if ln.strip()]
        # the start command's output repeats the log (err_to_stderr) except for errors before the log opened
        lines += [ln for ln in procs.tail(self.paths.out_file(daemon)) if ln.strip() and ln not in lines]
        return DaemonFailed(f"{self.name} {daemon}: {message}", daemon=f"{self.name} {daemon}",
                            log_tail=lines[-20:])

    def start_daemon(self, daemon: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Start a self-daemonizing Ceph daemon unless it runs; wait for its pid file."""
        if self.running(daemon):
            return
        self.check_abort()
        log.info("%s: start %s", self.name, daemon)
        self.paths.pid_file(daemon).unlink(missing_ok=True)
        try:
            run(argv, timeout=90, env=env, stdout_path=self.paths.out_file(daemon))
        except LabError as e:
            raise self.daemon_error(daemon, f"failed to start ({e})") from e
        wait_until(lambda: self.running(daemon), 30, f"{self.name} {daemon} pid file",
                   on_timeout=lambda: self.daemon_error(daemon, "did not write a live pid file"))

    def wait_for(self, daemon: str, probe: Any, timeout: float, what: str) -> Any:
        """Poll probe with a deadline, failing fast (with the daemon's log) if the daemon died meanwhile."""
        def checked() -> Any:
            self.check_abort()
            if not self.running(daemon):
                raise self.daemon_error(daemon, f"died while waiting for {what}")
            return probe()
        return wait_until(checked, timeout, f"{self.name} {what}", interval=0.3,
                          on_timeout=lambda: self.daemon_error(daemon, f"timeout ({timeout:.0f}s): {what}"))

    def daemons(self) -> list[DaemonInfo]:
        out = []
        for f in sorted(self.paths.run_dir.glob("*.pid")):
            name = f.name.removesuffix(".pid")
            pid = procs.read_pid(f)
            if pid is None:
                continue
            asok = self.paths.asok(name) if name.startswith("client.") else \
                self.paths.run_dir / f"ceph-{name}.asok"
            out.append(DaemonInfo(name=name, pid=pid, log=str(self.paths.log_file(name)), asok=str(asok)))
        return out

    def all_pids(self) -> list[int]:
        return [d.pid for d in self.daemons()]

    # ------------------------------------------------------------------ bring-up
    def prepare(self) -> None:
        p = self.paths
        for sub in (p.data, p.log_dir, p.dir / "crash", p.run_dir):
            sub.mkdir(parents=True, exist_ok=True)
        fsid_file = p.dir / "fsid"
        if not fsid_file.exists():
            fsid_file.write_text(str(uuid.uuid4()) + "\n")
        # the objectstore is fixed at creation; a later `up` keeps it whatever it is asked for
        store_file = p.dir / "objectstore"
        if not store_file.exists():
            store_file.write_text(self.objectstore + "\n")
        self.objectstore = store_file.read_text().strip()
        p.conf.write_text(render_ceph_conf(p, self.fsid, self.ports, self.objectstore))

    @property
    def fsid(self) -> str:
        return (self.paths.dir / "fsid").read_text().strip()

    def up(self) -> None:
        t0 = time.monotonic()
        self.prepare()
        self.mon()
        self.mgr()
        self.osd()
        self.mgr_modules()
        self.mds()
        log.info("%s: core up in %.1fs", self.name, time.monotonic() - t0)
        self.rbd_pool()
        self.filesystem()
        log.info("%s: pools ready in %.1fs", self.name, time.monotonic() - t0)

    def mon(self) -> None:
        p = self.paths
        mon_dir = p.data / "mon.a"
        if not (mon_dir / "done").exists():
            log.info("%s: mkfs mon.a", self.name)
            shutil.rmtree(mon_dir, ignore_errors=True)
            p.keyring.unlink(missing_ok=True)
            run(["ceph-authtool", "--create-keyring", str(p.keyring), "--gen-key", "-n", "mon.",
                 "--cap", "mon", "allow *"], timeout=30)
            run(["ceph-authtool", str(p.keyring), "--gen-key", "-n", "client.admin", *ADMIN_CAPS], timeout=30)
            p.keyring.chmod(0o600)
            monmap = p.dir / "monmap"
            run(["monmaptool", "--create", "--clobber", "--fsid", self.fsid,
                 "--addv", "a", self.ports.mon_host, str(monmap)], timeout=30)
            try:
                run(["ceph-mon", "-c", str(p.conf), "--mkfs", "-i", "a", "--monmap", str(monmap),
                     "--keyring", str(p.keyring)], timeout=60, stdout_path=p.out_file("mon.a"))
            except LabError as e:
                raise self.daemon_error("mon.a", f"mkfs failed ({e})") from e
            (mon_dir / "done").touch()
        self.start_daemon("mon.a", ["ceph-mon", "-c", str(p.conf), "-i", "a"])
        self.wait_for("mon.a", lambda: self.ceph("mon", "stat", timeout=15), 60, "mon.a quorum")

    def mgr(self) -> None:
        keyring = self.paths.data / "mgr.x" / "keyring"
        if not keyring.exists() or keyring.stat().st_size == 0:
            keyring.parent.mkdir(parents=True, exist_ok=True)
            self.ceph("auth", "get-or-create", "mgr.x", "mon", "allow profile mgr", "osd", "allow *",
                      "mds", "allow *", "-o", str(keyring))
            keyring.chmod(0o600)  # `ceph ... -o` writes 0644: a key file is for its owner only
        self.start_daemon("mgr.x", ["ceph-mgr", "-c", str(self.paths.conf), "-i", "x"])

    def osd(self) -> None:
        p = self.paths
        osd_dir = p.data / "osd.0"
        if not (osd_dir / "done").exists():
            log.info("%s: mkfs osd.0 (%s)", self.name, self.objectstore)
            shutil.rmtree(osd_dir, ignore_errors=True)
            osd_dir.mkdir(parents=True)
            osd_uuid = str(uuid.uuid4())
            secret = run(["ceph-authtool", "--gen-print-key"], timeout=30).stdout.decode().strip()
            # the secret goes through stdin, never argv
            got = self.ceph("osd", "new", osd_uuid, "-i", "-",
                            input=json.dumps({"cephx_secret": secret}).encode()).strip()
            if got != "0":
                raise LabError(f"{self.name}: expected osd id 0, got {got!r} (stale cluster? run lab down)")
            # `ceph-osd --mkfs --key` does not write the keyring file; the [osd] keyring path of the conf
            # finds this one, so the secret never shows on a command line
            keyring = osd_dir / "keyring"
            keyring.write_text(f"[osd.0]\n\tkey = {secret}\n")
            keyring.chmod(0o600)
            try:
                run(["ceph-osd", "-c", str(p.conf), "-i", "0", "--mkfs", "--osd-uuid", osd_uuid,
                     ], timeout=120, stdout_path=p.out_file("osd.0"))
            except LabError as e:
                raise self.daemon_error("osd.0", f"mkfs failed ({e})") from e
            (osd_dir / "done").touch()
        self.start_daemon("osd.0", ["ceph-osd", "-c", str(p.conf), "-i", "0"])

        def osd_up() -> bool:
            dump = self.ceph_json("osd", "dump", timeout=15)
            return any(o.get("osd") == 0 and o.get("up") == 1 for o in dump.get("osds", []))
        self.wait_for("osd.0", osd_up, 120, "osd.0 up")

    def mgr_modules(self) -> None:
        """mirroring is on from mgr_initial_modules, rbd_support is always on; snap_schedule by command."""
        enabled = self.ceph_json("mgr", "module", "ls", timeout=30).get("enabled_modules", [])
        if "snap_schedule" not in enabled:
            old = self.pid("mgr.x")
            self.ceph("mgr", "module", "enable", "snap_schedule")
            # the mgr re-execs with a NEW pid on module enable: wait for it so lab.json records the right one
            try:
                wait_until(lambda: self.pid("mgr.x") != old and self.running("mgr.x"), 20, "mgr.x respawn")
            except LabError:
                log.warning("%s: mgr.x did not respawn after module enable", self.name)
        self.ceph("config", "set", "mgr", "mgr/snap_schedule/allow_m_granularity", "true")

    def mds(self) -> None:
        keyring = self.paths.data / "mds.a" / "keyring"
        if not keyring.exists() or keyring.stat().st_size == 0:
            keyring.parent.mkdir(parents=True, exist_ok=True)
            self.ceph("auth", "get-or-create", "mds.a", "mon", "allow profile mds",
                      "osd", "allow rw tag cephfs *=*", "mds", "allow", "mgr", "allow profile mds",
                      "-o", str(keyring))
            keyring.chmod(0o600)
        self.start_daemon("mds.a", ["ceph-mds", "-c", str(self.paths.conf), "-i", "a"])

    def rbd_pool(self) -> None:
        pools = self.ceph("osd", "pool", "ls").split()
        if RBD_POOL not in pools:
            self.ceph("osd", "pool", "create", RBD_POOL, "8", "8")
        info = json.loads(self.rbd("mirror", "pool", "info", RBD_POOL, "--format", "json"))
        if info.get("mode") == "disabled":
            self.rbd("pool", "init", RBD_POOL)
            self.rbd("mirror", "pool", "enable", "--site-name", self.name, RBD_POOL, "image")

    def filesystem(self) -> None:
        names = [f.get("name") for f in self.ceph_json("fs", "ls")]
        if FS_NAME not in names:
            # "no MDS daemons created": mds.a is ours
            self.ceph("fs", "volume", "create", FS_NAME)

        def active() -> bool:
            fs = self.ceph_json("fs", "get", FS_NAME, timeout=15)
            return any(i.get("state") == "up:active" for i in fs["mdsmap"]["info"].values())
        self.wait_for("mds.a", active, 90, f"fs {FS_NAME} active")

    # ------------------------------------------------------------------ status
    def health(self) -> str:
        """HEALTH_OK / HEALTH_WARN / HEALTH_ERR, or "unreachable" (a dead site must not hang status)."""
        try:
            h = json.loads(run(["ceph", "-c", str(self.paths.conf), "--connect-timeout", "5", "health",
                                "--format", "json"], timeout=10).stdout)
        except (LabError, ValueError):
            return "unreachable"
        return str(h.get("status", "unknown"))

