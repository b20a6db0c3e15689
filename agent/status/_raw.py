"""Defensive readers for the loosely typed dicts Ceph's bindings and mgr commands return.

A status scanner must never crash on one odd field: every reader here returns `None` (or a
default) for a missing or mistyped value instead of raising.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

# seconds_until_synced was 644014746713980928 with bytes_per_second 0 (FINDINGS B.3): any
# duration above a year is an artefact of a division by ~0, not an estimate.
MAX_PLAUSIBLE_SECONDS = 365 * 24 * 3600.0


def as_dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def duration(value: object) -> float | None:
    """A non-negative, plausible duration in seconds, or None."""
    f = as_float(value)
    if f is None or f < 0 or f > MAX_PLAUSIBLE_SECONDS:
        return None
    return f


def timestamp(value: object) -> float | None:
    """Unix seconds from what Ceph gives for a point in time, or None when it means "never".

    Accepts: a naive `datetime` (rbd.pyx builds it with `utcfromtimestamp`, so naive means UTC), an
    aware one, a number of unix seconds, and the strings the CLI and mgr print
    (`"2026-11-21 05:51:23"`, ISO 8601 with or without offset; naive is taken as UTC, which is what
    the lab and Ceph's own `utcfromtimestamp` use). `""`, 0 and the epoch mean "never".
    """
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        secs = when.timestamp()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        secs = float(value)
    elif isinstance(value, str):
        parsed = _parse_time_str(value)
        if parsed is None:
            return None
        secs = parsed
    else:
        return None
    if not math.isfinite(secs) or secs <= 0:
        return None
    return secs


def _parse_time_str(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    # ceph prints "+0000" offsets; fromisoformat (3.11) wants "+00:00"
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit() and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def lag(now: float, since: float | None) -> float | None:
    """Seconds from `since` to `now`, never negative (clocks of two sites are not in step)."""
    if since is None:
        return None
    return max(0.0, now - since)
