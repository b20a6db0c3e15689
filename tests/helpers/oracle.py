"""The `rbd` and `ceph` CLIs as an independent oracle for system tests (the product never shells out).

Every call has a timeout: librbd blocks forever when PGs are inactive.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from typing import Any

from lab.model import SiteInfo

CLI_TIMEOUT = 60.0


class CliError(AssertionError):
    def __init__(self, argv: list[str], rc: int, stderr: str) -> None:
        super().__init__(f"exit {rc}: {' '.join(argv)}: {stderr.strip()[-2000:]}")
        self.rc = rc
        self.stderr = stderr


def _run(argv: list[str], timeout: float, json_out: bool, input: bytes | None = None) -> Any:
    if json_out:
        argv = [*argv, "--format", "json"]
    cp = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, check=False)
    if cp.returncode != 0:
        raise CliError(argv, cp.returncode, cp.stderr.decode(errors="replace"))
    out = cp.stdout.decode(errors="replace")
    if json_out:
        return json.loads(out) if out.strip() else None
    return out


def rbd(site: SiteInfo, *args: str, json: bool = False, timeout: float = CLI_TIMEOUT) -> Any:
    return _run(["rbd", "-c", site.conf, *args], timeout, json)


def ceph(site: SiteInfo, *args: str, json: bool = False, timeout: float = CLI_TIMEOUT) -> Any:
    connect = str(int(min(timeout, 30)))
    return _run(["ceph", "-c", site.conf, "--connect-timeout", connect, *args], timeout, json)


def image_sha256(site: SiteInfo, spec: str, timeout: float = CLI_TIMEOUT) -> str:
    """sha256 of `rbd export SPEC -` (test images are small: held in memory once)."""
    argv = ["rbd", "-c", site.conf, "export", "--no-progress", spec, "-"]
    cp = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    if cp.returncode != 0:
        raise CliError(argv, cp.returncode, cp.stderr.decode(errors="replace"))
    return hashlib.sha256(cp.stdout).hexdigest()


def mirror_image_status(site: SiteInfo, spec: str) -> dict[str, Any]:
    st: dict[str, Any] = rbd(site, "mirror", "image", "status", spec, json=True)
    return st


def unique_name(prefix: str) -> str:
    """A name no other test (or earlier run against a reused lab) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
