"""The agent's X25519 identity and NaCl Box sealing between agents.

A bootstrap token carries a cephx key. It leaves the creating agent only as a Box sealed with that
agent's secret key and the receiving agent's public key, so the controller relays a blob it cannot
read, and the receiver can tell the blob came from the expected agent (Box is authenticated).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import stat
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey

from schemas.errors import InvalidRequest

log = logging.getLogger(__name__)


def _public_key(b64: str, where: str) -> PublicKey:
    try:
        raw = base64.b64decode(b64, validate=True)
        return PublicKey(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidRequest("not a base64 X25519 public key (32 bytes)", where=where) from exc
    except Exception as exc:  # nacl raises its own TypeError subclasses for bad lengths
        raise InvalidRequest("not a base64 X25519 public key (32 bytes)", where=where) from exc


class Identity:
    def __init__(self, secret: PrivateKey) -> None:
        self._secret = secret

    @classmethod
    def load_or_create(cls, path: str | Path) -> Identity:
        """Read the key file, or make one (mode 0600) at first start."""
        p = Path(path)
        if p.exists():
            mode = stat.S_IMODE(p.stat().st_mode)
            if mode & 0o077:
                log.warning("identity key %s had mode %o; tightening to 0600", p, mode)
                p.chmod(0o600)
            return cls(PrivateKey(base64.b64decode(p.read_bytes().strip())))
        p.parent.mkdir(parents=True, exist_ok=True)
        secret = PrivateKey.generate()
        # O_EXCL: two agents started at once on one key path must not both write it
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(bytes(secret)) + b"\n")
        log.info("created agent identity %s", p)
        return cls(secret)

    @property
    def public_key(self) -> str:
        return base64.b64encode(bytes(self._secret.public_key)).decode()

    def seal(self, plaintext: bytes, recipient_public_key: str) -> str:
        box = Box(self._secret, _public_key(recipient_public_key, "$.recipient_public_key"))
        return base64.b64encode(bytes(box.encrypt(plaintext))).decode()

    def open(self, blob: str, sender_public_key: str) -> bytes:
        box = Box(self._secret, _public_key(sender_public_key, "$.sender_public_key"))
        try:
            return bytes(box.decrypt(base64.b64decode(blob, validate=True)))
        except (CryptoError, binascii.Error, ValueError) as exc:
            raise InvalidRequest(
                "sealed blob failed authentication: not sealed by that sender for this agent, or altered",
                where="$.sealed",
            ) from exc
