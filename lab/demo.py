"""`cephdr demo` (`make demo`): the whole story on the lab, with the operator's own commands.

1. the lab up, peered, with an agent per site and the controller (a no-op when it runs);
2. the application's data: the pools, images and directories the group file names, created on
   its primary site (cephdr never creates data) with a little random data written through librbd
   and libcephfs;
3. `cephdr apply -f GROUP.toml --wait`, then waiting until every member is mirrored;
4. `cephdr status`, a planned `cephdr failover` with its live progress, `cephdr status GROUP`,
   and the failback, a planned failover back to the first primary, also live;
5. what to try next.

The operator steps run the real `cephdr` command as a subprocess, so what the demo shows is what
an operator types and sees. Every step has a deadline; the demo stops at the first that fails and
exits with that command's exit code (cli/exit_codes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import model, runner
from lab.cmd import LabError
from schemas.errors import CephDRError, DeadlineExceeded, Unavailable
from schemas.group import GroupSpec
from schemas.ids import SiteName

MIB = 1024 * 1024
IMAGE_MIB = 64
CLI_TIMEOUT = 120.0
MIRROR_TIMEOUT = 600.0
OP_TIMEOUT = 900.0
ROOT = Path(__file__).resolve().parents[1]
GROUP_FILE = ROOT / "deploy" / "demo" / "group.toml"

Say = Callable[[str], None]


@dataclass
class Demo:
    lab_dir: Path
    group_file: Path
    say: Say
    cleanup: bool = False
    info: model.LabInfo | None = None
    spec: GroupSpec | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def env(self) -> dict[str, str]:
        """The `cephdr` commands find the lab through $CEPHDR_LAB_DIR: its URL, the operator's
        credentials and, on a `--tls` lab, the operator's certificate (cli/session.py)."""
        drop = (
            "CEPHDR_NATS",
            "CEPHDR_NATS_URL",
            "CEPHDR_NATS_CREDS",
            "CEPHDR_NATS_TLS_CA",
            "CEPHDR_NATS_TLS_CERT",
            "CEPHDR_NATS_TLS_KEY",
        )
        return {**{k: v for k, v in os.environ.items() if k not in drop}, "CEPHDR_LAB_DIR": str(self.lab_dir)}

    async def connect(self) -> Any:
        """The demo's own connection (its waits), as the operator."""
        assert self.info is not None
        from bus.connect import connect_config

        return await connect_config(
            self.info.nats_config("operator"), name="cephdr-demo", forever=False, connect_timeout=5
        )

    def cephdr(self, *args: str, timeout: float = CLI_TIMEOUT, busy_retries: int = 0) -> None:
        """Run `cephdr ARGS` as the operator would, its output straight to the terminal.
        `busy_retries`: run it again after a refusal (exit 3), e.g. when the controller's periodic
        reconcile holds the group for a moment."""
        self.say(f"$ cephdr {shlex.join(args)}")
        argv = [*cephdr_argv(), *args]
        for attempt in range(busy_retries + 1):
            try:
                rc = subprocess.run(argv, env=self.env, timeout=timeout, check=False).returncode
            except subprocess.TimeoutExpired:
                raise DeadlineExceeded(
                    f"cephdr {args[0]}: no end after {timeout:.0f}s", where=args[0]
                ) from None
            sys.stdout.flush()
            if rc == 0:
                return
            if rc == 3 and attempt < busy_retries:
                self.say("(refused, probably busy with a periodic reconcile: again in 5s)")
                time.sleep(5)
                continue
            raise CommandFailed(f"`cephdr {shlex.join(args)}` exited {rc}", rc)

    def section(self, title: str) -> None:
        self.say("")
        self.say(f"== {title}")

    # ------------------------------------------------------------------ the story
    def run(self) -> None:
        from cli.apply_cmd import load_spec

        logging.getLogger("bus.connect").setLevel(logging.WARNING)  # no "disconnected" at each close
        self.spec = spec = load_spec(str(self.group_file))
        self.section("1. the lab: two Ceph sites, NATS, an agent per site, the controller")
        t = time.monotonic()
        try:
            self.info = runner.up(self.lab_dir, peered=True)
        except LabError as exc:
            # once more: every step of `up` is idempotent, and a peering step can reach a mgr whose
            # mirroring module is still loading (lab/drill.py saw it after a restart)
            self.say(f"lab up failed once ({exc.describe().splitlines()[0]}); again in 10s")
            time.sleep(10)
            try:
                self.info = runner.up(self.lab_dir, peered=True)
            except LabError as again:
                raise Unavailable(f"lab up failed: {again.describe()}", where=str(self.lab_dir)) from None
        self.say(f"lab up at {self.lab_dir} in {time.monotonic() - t:.0f}s; NATS {self.info.nats_url}")
        self.say(
            f"(the commands below run with CEPHDR_LAB_DIR={self.lab_dir}: the lab's NATS, as the operator"
            + (", over mutual TLS" if self.info.tls_dir else "")
            + ")"
        )

        self.section(f"2. the application's data on {spec.primary}: pools, images, directories")
        self.make_data(spec)

        self.section(f"3. protect it: apply {self.group_file.name}, wait until everything is mirrored")
        self.cephdr(
            "apply",
            "-f",
            str(self.group_file),
            "--wait",
            "--wait-timeout",
            str(int(OP_TIMEOUT)),
            timeout=OP_TIMEOUT + 30,
            busy_retries=3,  # a re-run of the demo: the periodic reconcile may hold the group
        )
        primary = asyncio.run(self.wait_mirrored(None))
        self.cephdr("status")
        self.cephdr("status", spec.name)

        other = spec.other(SiteName(primary))
        self.section(f"4. planned failover {primary} -> {other} (RPO 0), live")
        self.cephdr(
            "failover",
            spec.name,
            "--to",
            other,
            "--wait-timeout",
            str(int(OP_TIMEOUT)),
            timeout=OP_TIMEOUT + 30,
        )
        asyncio.run(self.wait_mirrored(other))
        self.cephdr("status", spec.name)

        self.section(f"5. failback: a planned failover back to {primary}, live")
        self.cephdr(
            "failover",
            spec.name,
            "--to",
            primary,
            "--wait-timeout",
            str(int(OP_TIMEOUT)),
            timeout=OP_TIMEOUT + 30,
        )
        asyncio.run(self.wait_mirrored(primary))
        self.cephdr("status", spec.name)
        self.cephdr("ops", "list", "--group", spec.name)
        if self.cleanup:
            self.section("clean-up (--cleanup): the group deleted, its schedules removed")
            asyncio.run(self.remove_group())
        self.section("what to try next")
        self.say(next_steps(self.info, spec, self.group_file))

    def make_data(self, spec: GroupSpec) -> None:
        assert self.info is not None
        sites = {s.name: s for s in runner.existing_sites(self.lab_dir, self.info)}
        prim = sites[spec.primary]
        for pool in sorted({m.pool for m in spec.rbd}):
            for s in sites.values():
                if pool not in s.ceph_json("osd", "pool", "ls", timeout=CLI_TIMEOUT):
                    s.ceph("osd", "pool", "create", pool, "8", "8", timeout=CLI_TIMEOUT)
                    s.rbd("pool", "init", pool, timeout=CLI_TIMEOUT)
                    self.say(f"pool {pool} created on {s.name}")
        for m in spec.rbd:
            have = set(prim.rbd("ls", m.pool, timeout=CLI_TIMEOUT).split())
            for img in m.images:
                if img in have:
                    self.say(f"image {m.pool}/{img} exists on {prim.name}")
                    continue
                # journal mode: the controller turns journaling on (it needs exclusive-lock)
                feats = ["--image-feature", "layering,exclusive-lock"] if m.mode == "journal" else []
                prim.rbd("create", "--size", f"{IMAGE_MIB}M", *feats, f"{m.pool}/{img}", timeout=CLI_TIMEOUT)
                write_image(prim.paths.conf, m.pool, img, 4 * MIB)
                self.say(f"image {m.pool}/{img} created on {prim.name} ({m.mode} mode), 4 MiB written")
        for f in spec.fs:
            for d in f.dirs:
                made = make_dir(prim.paths.conf, f.fs, d)
                self.say(
                    f"directory {f.fs}:{d} "
                    + ("created, 3 files written" if made else "exists")
                    + f" on {prim.name}"
                )

    async def wait_mirrored(self, want: str | None) -> str:
        """Until every member is mirrored from the group's primary (`want`, when given) and no
        alert stands; the primary. Prints what is still missing whenever that changes."""
        assert self.spec is not None and self.info is not None
        from bus.client import request
        from schemas.ctl import FleetStatus

        nc = await self.connect()
        try:
            self.say("waiting until every member is mirrored (images replaying, directory synced)...")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + MIRROR_TIMEOUT
            last = ""
            while True:
                try:
                    st = await request(
                        nc, "cephdr.ctl.status", {"group": self.spec.name}, reply=FleetStatus, timeout=10
                    )
                    missing = not_mirrored(st, want, list(self.spec.sites))
                    primary: str = st.groups[0].primary
                except CephDRError as err:
                    missing, primary = [str(err)], ""
                if not missing:
                    self.say(
                        f"mirrored: every member of {self.spec.name} is on both sites, {primary} primary"
                    )
                    return primary
                now = "; ".join(missing)
                if now != last:
                    self.say(f"  not yet: {now}")
                    last = now
                if loop.time() > deadline:
                    raise DeadlineExceeded(
                        f"{self.spec.name} not mirrored after {MIRROR_TIMEOUT:.0f}s: {now}",
                        where=self.spec.name,
                    )
                await asyncio.sleep(3)
        finally:
            await nc.close()

    async def remove_group(self) -> None:
        """Delete the group, then the schedules it left (a pool's snapshots would go on forever).
        In that order: the controller's periodic reconcile puts schedules back while it manages
        the group, and holds the group (busy) for a moment each time."""
        assert self.spec is not None and self.info is not None
        from bus.client import request
        from schemas.common import Done
        from schemas.errors import Busy

        nc = await self.connect()
        try:
            for attempt in range(10):
                try:
                    done = await request(
                        nc,
                        "cephdr.ctl.group.delete",
                        {
                            "request_id": f"demo-delete-{os.urandom(6).hex()}",
                            "group": self.spec.name,
                            "confirm": self.spec.name,
                            "actor": "cephdr-demo",
                        },
                        reply=Done,
                        timeout=30,
                    )
                    break
                except Busy:
                    if attempt == 9:
                        raise
                    await asyncio.sleep(3)
            self.say(done.message)
        finally:
            await nc.close()
        for s in runner.existing_sites(self.lab_dir, self.info):
            for m in self.spec.rbd:
                for img in m.images:
                    with contextlib.suppress(LabError):
                        s.rbd(
                            "mirror",
                            "snapshot",
                            "schedule",
                            "rm",
                            "--pool",
                            m.pool,
                            "--image",
                            img,
                            timeout=CLI_TIMEOUT,
                        )
            for f in self.spec.fs:
                for d in f.dirs:
                    with contextlib.suppress(LabError):
                        s.ceph("fs", "snap-schedule", "remove", d, "--fs", f.fs, timeout=CLI_TIMEOUT)


class CommandFailed(CephDRError):
    """A `cephdr` command of the demo exited non-zero; `rc` is its exit code."""

    code = "command_failed"

    def __init__(self, message: str, rc: int) -> None:
        super().__init__(message, where="demo")
        self.rc = rc


def cephdr_argv() -> list[str]:
    """The `cephdr` beside this interpreter (the venv's), else the module."""
    exe = Path(sys.executable).parent / "cephdr"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cli.main"]


def not_mirrored(st: Any, want: str | None, sites: list[str]) -> list[str]:
    """What keeps the group from being fully mirrored (empty: it is). Pure."""
    if not st.groups:
        return ["the controller has no such group"]
    g = st.groups[0]
    out: list[str] = []
    if want is not None and g.primary != want:
        out.append(f"primary is {g.primary}, not {want}")
    if g.active_op:
        out.append(f"operation {g.active_op} running")
    other = next((s for s in sites if s != g.primary), None)
    for m in g.members:
        mine = m.sites.get(g.primary)
        theirs = m.sites.get(other) if other else None
        if m.kind == "rbd":
            if mine is None or mine.role != "primary":
                out.append(f"{m.name}: not primary on {g.primary}")
            elif theirs is None or theirs.state != "replaying":
                out.append(f"{m.name}: {theirs.state if theirs else 'absent'} on {other}")
        elif mine is None or mine.state != "idle":
            out.append(f"{m.name}: {mine.state if mine else 'not reported'} on {g.primary}")
    out += [f"alert {a.kind}" for a in g.alerts]
    return out


def write_image(conf: Path, pool: str, image: str, length: int) -> None:
    """The application: random data at the start of the image, through librbd."""
    import rados
    import rbd

    c = rados.Rados(conffile=str(conf), conf={"rados_mon_op_timeout": "30", "rados_osd_op_timeout": "30"})
    c.connect(timeout=30)
    try:
        with c.open_ioctx(pool) as ioctx, rbd.Image(ioctx, image) as img:
            img.write(os.urandom(length), 0)
            img.flush()
    finally:
        c.shutdown()


def make_dir(conf: Path, fs_name: str, path: str) -> bool:
    """The directory (parents too) with three small files, through libcephfs; False if it existed."""
    import cephfs

    fs = cephfs.LibCephFS(conffile=str(conf))
    fs.conf_set("client_mount_timeout", "30")
    fs.mount(filesystem_name=fs_name.encode())
    try:
        try:
            fs.stat(path.encode())
            return False
        except cephfs.ObjectNotFound:
            pass
        fs.mkdirs(path.encode(), 0o755)
        for i in range(3):
            fd = fs.open(f"{path}/file-{i}".encode(), os.O_CREAT | os.O_WRONLY, 0o644)
            try:
                fs.write(fd, os.urandom(64 * 1024), 0)
                fs.fsync(fd, 0)
            finally:
                fs.close(fd)
        return True
    finally:
        fs.unmount()
        fs.shutdown()


def next_steps(info: model.LabInfo, spec: GroupSpec, group_file: Path) -> str:
    creds = info.creds("operator")
    # natscli takes an nkey seed with --nkey; the operator role may read only its own inbox prefix
    auth = f" --{'nkey' if creds.endswith('.nk') else 'creds'} {creds} --inbox-prefix _INBOX_operator"
    venv = Path(sys.executable).parent
    g = spec.name

    def cmd(line: str, why: str = "") -> str:
        return f"  {line.ljust(40)}# {why}" if why else f"  {line}"

    cli = [
        cmd(f"export CEPHDR_LAB_DIR={info.dir}", "the CLI finds the lab's NATS and credentials"),
        cmd(f"export PATH={venv}:$PATH"),
        "",
        '  # the operator CLI (README: "The cephdr CLI"); --json on any of them for scripts',
        cmd("cephdr status", "sites and groups: state, primary, RPO lag, alerts"),
        cmd(f"cephdr status {g}", "each member on each site"),
        cmd(f"cephdr failover {g}", "planned, to the other site, live"),
        cmd(f"cephdr failover {g} --force", "the primary is lost: you type the name"),
        cmd("cephdr ops", "then: cephdr ops show ID"),
        cmd(f"cephdr events --since 30m --group {g}"),
        cmd("cephdr events --follow --kind alert"),
        cmd("cephdr pause --reason maintenance", "hold automatic failover; cephdr resume"),
        cmd(f"cephdr apply -f {group_file}", "idempotent"),
        "",
        '  # the same with the NATS CLI, if you have it (README: "Driving cephdr with the NATS CLI")',
        f"  alias nats='nats --server {info.nats_url}{auth if creds else ''}'",
        f'  nats req cephdr.ctl.status \'{{"group":"{g}"}}\'',
        f'  nats req cephdr.ctl.failover \'{{"request_id":"fo-{g}-0001","group":"{g}"}}\'',
        f'  nats req cephdr.ctl.op.list \'{{"group":"{g}","limit":5}}\'',
        "  nats micro ls",
        "",
        "  # take the lab down (stops every process, removes all state)",
        f"  cephdr lab down --dir {info.dir}",
    ]
    return f"The group {g} is protected and back on {spec.primary}. Try:\n\n" + "\n".join(cli)


def run_demo(lab_dir: Path, group_file: Path, say: Say, *, cleanup: bool = False) -> None:
    Demo(lab_dir=lab_dir.resolve(), group_file=group_file, say=say, cleanup=cleanup).run()
