"""The version every cephdr process reports (heartbeats, micro service INFO)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def cephdr_version() -> str:
    try:
        return version("cephdr")
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0"
