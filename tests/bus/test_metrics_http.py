"""The controller's /metrics HTTP adapter (controller/metrics_http.py) on a real loopback socket,
driven by a real HTTP client (urllib) and raw sockets. The text it serves comes from an injected
`collect` (what it renders is tested in tests/unit/controller/test_ctl_metrics.py, and on the lab in
tests/system/controller/test_ctl_metrics_scrape.py): here, only the HTTP side and its deadlines."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest

from controller import metrics, metrics_http

TEXT = "# HELP cephdr_x x\n# TYPE cephdr_x gauge\ncephdr_x 1\n"


def fetch(url: str, method: str = "GET") -> tuple[int, str, str]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


@pytest.fixture
async def server() -> AsyncIterator[metrics_http.MetricsServer]:
    gate = asyncio.Event()
    gate.set()

    async def collect() -> str:
        await gate.wait()
        return TEXT

    srv = metrics_http.MetricsServer("127.0.0.1", 0, collect, collect_timeout=0.5)
    srv.gate = gate  # type: ignore[attr-defined]
    await srv.start()
    yield srv
    await srv.stop()


async def test_get_metrics_serves_the_exposition_format(server: metrics_http.MetricsServer) -> None:
    code, ctype, body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics")
    assert (code, ctype, body) == (200, metrics.CONTENT_TYPE, TEXT)
    code, _, body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics", "HEAD")
    assert (code, body) == (200, "")


async def test_other_paths_and_methods_are_refused(server: metrics_http.MetricsServer) -> None:
    code, _, body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/")
    assert code == 404 and "/metrics" in body
    code, _, _ = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics", "POST")
    assert code == 405


async def test_a_slow_store_answers_503_not_a_hang(server: metrics_http.MetricsServer) -> None:
    server.gate.clear()  # type: ignore[attr-defined]
    code, _, body = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics")
    assert code == 503 and "took over" in body
    server.gate.set()  # type: ignore[attr-defined]
    code, _, _ = await asyncio.to_thread(fetch, f"http://127.0.0.1:{server.port}/metrics")
    assert code == 200


def _raw(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(payload)
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_a_client_that_never_finishes_its_request_is_dropped(
    server: metrics_http.MetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_http, "READ_TIMEOUT", 0.2)
    got = await asyncio.to_thread(_raw, server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    assert got.startswith(b"HTTP/1.1 400 ")
    # and the listener keeps serving
    got = await asyncio.to_thread(_raw, server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(TEXT.encode())


async def test_a_taken_port_leaves_the_controller_running_without_metrics(
    server: metrics_http.MetricsServer,
) -> None:
    got = await metrics_http.serve(f"127.0.0.1:{server.port}", None, is_leader=lambda: True,  # type: ignore[arg-type]
                                   decisions=metrics.Decisions(), timeout=1)
    assert got is None
    assert await metrics_http.serve("", None, is_leader=lambda: True,  # type: ignore[arg-type]
                                    decisions=metrics.Decisions(), timeout=1) is None
