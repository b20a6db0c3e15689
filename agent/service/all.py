"""Importing this registers every agent endpoint on `agent.service.registry.router`."""

from __future__ import annotations

import importlib
import pkgutil

import agent.service

_SKIP = {"all", "registry", "guards"}

for _mod in pkgutil.iter_modules(agent.service.__path__):
    if _mod.name not in _SKIP and not _mod.name.startswith("_"):
        importlib.import_module(f"agent.service.{_mod.name}")
