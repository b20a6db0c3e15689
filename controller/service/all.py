"""Importing this registers every controller endpoint on `registry.router`."""

from controller.service import auto, failover, groups, ops, peers, status  # noqa: F401
