"""The admin socket client against a fake AF_UNIX daemon (the real daemons are the system-test proof)."""

from __future__ import annotations

import json
import os
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator

import pytest

from agent.ceph.asok import AdminSocket, admin_command_raw, admin_json
from agent.ceph.executor import CephExecutor
from schemas.errors import DeadlineExceeded, InvalidRequest, NotFound, Unavailable

Reply = Callable[[dict[str, object]], bytes | None]


@pytest.fixture
def fake_daemon() -> Iterator[Callable[[Reply], str]]:
    tmp = tempfile.mkdtemp(prefix="asok-")
    servers: list[socket.socket] = []

    def start(reply: Reply) -> str:
        path = os.path.join(tmp, f"d{len(servers)}.asok")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(4)
        servers.append(srv)

        def serve() -> None:
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                with conn:
                    buf = b""
                    while not buf.endswith(b"\0"):
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        buf += chunk
                    out = reply(json.loads(buf[:-1]))
                    if out is None:  # a hung daemon: never answer
                        conn.recv(1)
                        continue
                    conn.sendall(struct.pack(">I", len(out)) + out)

        threading.Thread(target=serve, daemon=True).start()
        return path

    yield start
    for s in servers:
        s.close()


def test_json_command_roundtrip(fake_daemon: Callable[[Reply], str]) -> None:
    seen: list[dict[str, object]] = []

    def reply(cmd: dict[str, object]) -> bytes:
        seen.append(cmd)
        return json.dumps({"snap_dirs": {"dir_count": 1}, "big": "x" * 300_000}).encode()

    path = fake_daemon(reply)
    out = admin_json(path, {"prefix": "fs mirror status cephfs@1"}, timeout=2)
    assert out["snap_dirs"] == {"dir_count": 1}
    assert len(out["big"]) == 300_000  # read across many recv() calls
    assert seen == [{"prefix": "fs mirror status cephfs@1", "format": "json"}]


def test_error_reply_maps_errno(fake_daemon: Callable[[Reply], str]) -> None:
    path = fake_daemon(lambda c: b"ERROR: (22) Invalid argument\nunknown command prefix bogus\n")
    with pytest.raises(InvalidRequest, match="unknown command prefix bogus"):
        admin_command_raw(path, {"prefix": "bogus"}, timeout=2)


def test_missing_socket_is_not_found(tmp_path: object) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        admin_command_raw("/nonexistent/dir/x.asok", {"prefix": "help"}, timeout=1)


def test_dead_socket_is_unavailable() -> None:
    path = os.path.join(tempfile.mkdtemp(prefix="asok-"), "dead.asok")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens: what a crashed daemon leaves behind
    with pytest.raises(Unavailable, match="refused"):
        admin_command_raw(path, {"prefix": "help"}, timeout=1)


def test_hung_daemon_hits_the_deadline(fake_daemon: Callable[[Reply], str]) -> None:
    path = fake_daemon(lambda c: None)
    with pytest.raises(DeadlineExceeded):
        admin_command_raw(path, {"prefix": "help"}, timeout=0.3)


async def test_admin_socket_runs_in_executor(fake_daemon: Callable[[Reply], str]) -> None:
    path = fake_daemon(lambda c: b'{"pool_replayers": []}')
    ex = CephExecutor(max_workers=2, max_pending=4)
    try:
        assert await AdminSocket(path, ex).json("rbd mirror status", deadline=2) == {"pool_replayers": []}
        hung = fake_daemon(lambda c: None)
        with pytest.raises(DeadlineExceeded):
            await AdminSocket(hung, ex).json("rbd mirror status", deadline=0.3)
    finally:
        ex.shutdown()
