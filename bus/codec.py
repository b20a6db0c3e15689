"""Decoding requests with errors a caller can act on."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from schemas.errors import InvalidRequest, RequestTooLarge

T = TypeVar("T")

MAX_REQUEST_BYTES = 64 * 1024
_AT = re.compile(r" - at `([^`]*)`$")

_encoder = msgspec.json.Encoder()


def encode(obj: object) -> bytes:
    return _encoder.encode(obj)


def decode_request(data: bytes, typ: type[T], *, max_bytes: int = MAX_REQUEST_BYTES) -> T:
    """Decode and validate; the error names the JSON path (`where`) msgspec found at fault."""
    if len(data) > max_bytes:
        raise RequestTooLarge(f"request is {len(data)} bytes; the limit is {max_bytes}", where="$")
    if not data.strip():
        data = b"{}"  # `nats req SUBJ ''` means "no arguments"
    try:
        return msgspec.json.decode(data, type=typ)
    except msgspec.ValidationError as exc:
        text = str(exc)
        m = _AT.search(text)
        where = m.group(1) if m else "$"
        message = _AT.sub("", text)
        raise InvalidRequest(f"invalid request: {message}", where=where) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"malformed JSON: {exc}", where="$") from None
