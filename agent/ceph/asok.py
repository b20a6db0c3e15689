"""A pure-Python client for Ceph admin sockets (the `ceph --admin-daemon` protocol, no subprocess).

Protocol (src/pybind/ceph_daemon.py `admin_socket()`): connect to the AF_UNIX socket, send the JSON
command followed by a NUL byte, read a 4-byte big-endian length, then that many bytes of output.
A failed command still answers with a length and `ERROR: (<errno>) <strerror>\\n<message>`.

Daemons register some commands with their arguments baked into the prefix: cephfs-mirror serves
`{"prefix": "fs mirror status myfs@1"}`, not `{"prefix": "fs mirror status", "fs_spec": ...}`
(measured on 16.2.15: the split form answers `unknown command prefix`).
"""

from __future__ import annotations

import errno as E
import json
import re
import socket
import struct
import time
from typing import Any

from agent.ceph.cluster import parse_json
from agent.ceph.errmap import map_errno
from agent.ceph.executor import CephExecutor
from schemas.errors import CephDRError, DeadlineExceeded, Internal, NotFound, Unavailable

_ERROR = re.compile(r"^ERROR: \((\d+)\) [^\n]*\n?(.*)$", re.S)
# a daemon's help text is small; this only guards against a corrupt length prefix
MAX_REPLY = 64 * 1024 * 1024


def _recv_exact(sock: socket.socket, n: int, deadline_at: float) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < n:
        left = deadline_at - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise ConnectionError(f"admin socket closed after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def admin_command_raw(path: str, cmd: dict[str, Any], *, timeout: float) -> bytes:
    """Blocking: send one command, return the daemon's raw output. Raises the cephdr error tree.

    `timeout` bounds the whole exchange (connect, send, read), so a stopped (SIGSTOP) daemon
    cannot hold the calling thread.
    """
    where = f"asok {path}: {cmd.get('prefix')}"
    deadline_at = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except FileNotFoundError:
            raise NotFound("admin socket does not exist (daemon not running?)", where=where) from None
        except ConnectionRefusedError:
            raise Unavailable("admin socket refused the connection (daemon dead?)", where=where) from None
        except PermissionError:
            raise Unavailable("no permission to open the admin socket", where=where) from None
        sock.sendall(json.dumps(cmd).encode() + b"\0")
        (length,) = struct.unpack(">I", _recv_exact(sock, 4, deadline_at))
        if length > MAX_REPLY:
            raise Internal(f"admin socket announced {length} bytes", where=where)
        out = _recv_exact(sock, length, deadline_at)
    except TimeoutError:
        raise DeadlineExceeded(f"no answer from the admin socket within {timeout:g}s", where=where) from None
    except CephDRError:
        raise
    except OSError as exc:
        raise Unavailable(f"admin socket I/O failed: {exc.strerror or exc}", where=where) from None
    finally:
        sock.close()
    m = _ERROR.match(out.decode("utf-8", "replace"))
    if m:
        n = int(m.group(1))
        text = m.group(2).strip() or E.errorcode.get(n, "error")
        raise map_errno(n, f"admin socket: {text}", where=where)
    return out


def admin_json(path: str, cmd: dict[str, Any], *, timeout: float) -> Any:
    """Blocking: a command answered in JSON (`format` is added)."""
    out = admin_command_raw(path, {**cmd, "format": "json"}, timeout=timeout)
    return parse_json(out, cmd.get("prefix"), f"asok {path}")


class AdminSocket:
    """One daemon's admin socket; every exchange runs in the Ceph executor with a deadline."""

    def __init__(self, path: str, executor: CephExecutor) -> None:
        self.path = path
        self.executor = executor

    async def json(self, prefix: str, *, deadline: float = 5.0, **args: Any) -> Any:
        cmd = {"prefix": prefix, **args}
        # the socket's own timeout sits just under the executor's so the thread frees itself
        return await self.executor.call(
            lambda: admin_json(self.path, cmd, timeout=max(0.1, deadline * 0.9)),
            deadline=deadline,
            what=f"asok {prefix}",
        )
