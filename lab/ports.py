"""Port blocks for labs, so that two labs (or a lab and a test run) on one machine never collide.

A lab takes one block of BLOCK_SIZE ports below the kernel's ephemeral range (32768+): a mon port inside that
range can be taken at random as the local port of an outgoing connection (FINDINGS gotcha 4). Site i of the
lab uses base + i*SITE_STRIDE: mon v2 there, mon v1 at +1, every other daemon binds in +10..+99.

A block is claimed by a file CLAIM_DIR/<base>.claim naming the lab dir; the claim is taken under an flock so
two concurrent `lab up` cannot pick the same block, and it is stale (reusable) once the lab dir no longer
records that base (the lab was removed without `down`).
"""

from __future__ import annotations

import fcntl
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

FIRST_BASE = 20000
EPHEMERAL_START = 32768
BLOCK_SIZE = 200
SITE_STRIDE = 100
MS_BIND_OFFSET_MIN = 10
MS_BIND_OFFSET_MAX = 99
METRICS_OFFSET = 2  # the controller's /metrics: between site 0's mon v1 port and its bind range
CLAIM_DIR = Path("/tmp/cephdr-lab-ports")
PORTS_FILE = "ports.json"  # in the lab dir: {"base": N}


@dataclass(frozen=True)
class SitePorts:
    mon_v2: int
    mon_v1: int
    bind_min: int
    bind_max: int

    @property
    def mon_host(self) -> str:
        return f"[v2:127.0.0.1:{self.mon_v2},v1:127.0.0.1:{self.mon_v1}]"

    def all_ports(self) -> list[int]:
        return [self.mon_v2, self.mon_v1, *range(self.bind_min, self.bind_max + 1)]


def site_ports(base: int, index: int) -> SitePorts:
    b = base + index * SITE_STRIDE
    return SitePorts(b, b + 1, b + MS_BIND_OFFSET_MIN, b + MS_BIND_OFFSET_MAX)


def candidate_bases(first: int = FIRST_BASE, limit: int = EPHEMERAL_START) -> Iterator[int]:
    base = first
    while base + BLOCK_SIZE <= limit:
        yield base
        base += BLOCK_SIZE


def block_ports(base: int, n_sites: int) -> list[int]:
    return [p for i in range(n_sites) for p in site_ports(base, i).all_ports()] + [metrics_port(base)]


def metrics_port(base: int) -> int:
    return base + METRICS_OFFSET


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def recorded_base(lab_dir: str | Path) -> int | None:
    try:
        return int(json.loads(Path(lab_dir, PORTS_FILE).read_text())["base"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def claim_is_live(claim_text: str, base: int, base_of: Callable[[str], int | None] = recorded_base) -> bool:
    lab_dir = claim_text.strip()
    return bool(lab_dir) and base_of(lab_dir) == base


def choose_base(
    taken: Callable[[int], bool],
    ports_free: Callable[[int], bool],
    bases: Iterator[int] | None = None,
) -> int:
    """First base that no live claim holds and whose ports are all bindable now."""
    for base in bases if bases is not None else candidate_bases():
        if not taken(base) and ports_free(base):
            return base
    raise RuntimeError(f"no free port block of {BLOCK_SIZE} below {EPHEMERAL_START}")


def allocate(lab_dir: Path, n_sites: int = 2) -> int:
    """The lab's base port: the one it already recorded, else a freshly claimed free block."""
    existing = recorded_base(lab_dir)
    if existing is not None:
        return existing
    CLAIM_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
    with open(CLAIM_DIR / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)

        def taken(base: int) -> bool:
            try:
                text = (CLAIM_DIR / f"{base}.claim").read_text()
            except OSError:
                return False
            return claim_is_live(text, base)

        base = choose_base(taken, lambda b: all(port_free(p) for p in block_ports(b, n_sites)))
        (CLAIM_DIR / f"{base}.claim").write_text(f"{lab_dir}\n")
        Path(lab_dir, PORTS_FILE).write_text(json.dumps({"base": base}) + "\n")
    return base


def release(lab_dir: Path) -> None:
    base = recorded_base(lab_dir)
    if base is None:
        return
    claim = CLAIM_DIR / f"{base}.claim"
    try:
        if claim.read_text().strip() == str(lab_dir):
            claim.unlink()
    except OSError:
        pass
