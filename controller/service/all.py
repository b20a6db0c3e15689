"""Importing this registers every controller endpoint on `registry.router`."""

from controller.service import failover, groups, ops, peers, status  # noqa: F401
