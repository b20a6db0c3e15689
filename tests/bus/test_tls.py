"""NATS over mutual TLS, as `cephdr nats-config --tls` sets it up and `cephdr lab up --tls` runs it:
a REAL nats-server with the generated CA, server certificate and auth block; real nats-py clients.
A client with its role's certificate and credentials gets through; plaintext, or TLS without a
client certificate, is refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus import identities
from bus.config import NatsConfig
from bus.connect import connect_config, tls_context
from lab import nats as labnats
from lab import procs
from schemas.errors import InvalidRequest


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[str, identities.Generated]]:
    with tempfile.TemporaryDirectory(prefix="cephdr-tls-") as d:
        paths = labnats.NatsPaths(Path(d))
        gen = identities.generate(paths.creds_dir, ["site-a"], tls_hosts=["127.0.0.1", "localhost"])
        pid, url = labnats.start(paths, auth=gen.auth_conf, tls=gen.tls_conf)
        try:
            yield url, gen
        finally:
            procs.stop([pid], term_timeout=5, what="nats-server")


def _cfg(url: str, gen: identities.Generated, role: str, *, cert: bool = True) -> NatsConfig:
    assert gen.client_tls is not None
    files = gen.client_tls[role]
    return NatsConfig(servers=[url.replace("nats://", "tls://")], credentials=gen.credentials[role],
                      tls_ca=files.ca, tls_cert=files.cert if cert else "", tls_key=files.key if cert else "")


async def test_mutual_tls_with_credentials_connects(tls_server: tuple[str, identities.Generated]) -> None:
    url, gen = tls_server
    nc = await connect_config(_cfg(url, gen, "operator"), name="tls-operator", forever=False)
    try:
        assert nc.is_connected and nc.connected_url is not None
        await nc.flush()
        info = await nc.jetstream(timeout=3).account_info()
        assert info is not None
    finally:
        await nc.close()


async def test_plaintext_is_refused(tls_server: tuple[str, identities.Generated]) -> None:
    """A raw plaintext client (nats-py would upgrade to TLS by itself): the server announces TLS
    as required and never answers a plaintext CONNECT + PING with PONG."""
    url, _ = tls_server
    host, port = url.split("://")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        info = await asyncio.wait_for(reader.readline(), timeout=5)
        assert info.startswith(b"INFO ") and json.loads(info[5:])["tls_required"] is True
        writer.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        await writer.drain()
        rest = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(4096), timeout=5):
                rest += chunk
        assert b"PONG" not in rest
    finally:
        writer.close()


async def test_tls_without_a_client_certificate_is_refused(
    tls_server: tuple[str, identities.Generated],
) -> None:
    url, gen = tls_server
    with pytest.raises(Exception):  # noqa: B017
        await connect_config(_cfg(url, gen, "operator", cert=False), name="no-cert", forever=False,
                             connect_timeout=3)


def test_generated_secrets_are_private(tls_server: tuple[str, identities.Generated]) -> None:
    _, gen = tls_server
    assert gen.tls is not None and gen.client_tls is not None
    secrets = [*gen.credentials.values(), gen.tls.key, *(f.key for f in gen.client_tls.values()),
               str(Path(gen.tls.ca).with_name("ca.key"))]
    for path in secrets:
        assert Path(path).stat().st_mode & 0o777 == 0o600, path
    # the server's config holds public keys and file names only
    text = gen.auth_conf.read_text() + (gen.tls_conf.read_text() if gen.tls_conf else "")
    for seed in gen.credentials.values():
        assert Path(seed).read_text().strip() not in text


def test_a_bad_tls_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot load TLS files"):
        tls_context(str(tmp_path / "missing-ca.pem"))
    assert isinstance(tls_context(""), ssl.SSLContext)


async def test_the_labs_nats_step_with_tls_serves_each_role(tmp_path: Path) -> None:
    """`cephdr lab up --tls`'s NATS step (the Ceph steps are not needed for this): mutual TLS on
    a tls:// URL, and each role connects with what `LabInfo.nats_config(role)` gives it."""
    from lab import runner
    from lab.model import LabInfo

    ctx = runner.UpContext(dir=tmp_path, objectstore="bluestore", peered=False, tls=True)
    runner.step_nats(ctx)
    try:
        assert ctx.nats_url.startswith("tls://") and ctx.tls_dir
        info = LabInfo(dir=str(tmp_path), nats_url=ctx.nats_url, nats_pid=ctx.nats_pid,
                       credentials=ctx.credentials, tls_dir=ctx.tls_dir)
        for role in ("operator", "controller", "agent-site-a"):
            nc = await connect_config(info.nats_config(role), name=f"lab-{role}", forever=False)
            try:
                await nc.flush()
            finally:
                await nc.close()
    finally:
        procs.stop([ctx.nats_pid], term_timeout=5, what="nats-server")
