"""Running a long-lived cephdr process from the CLI (agent, controller): load and check the
config, log to the journal under systemd, serve until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from agent.runtime import sdnotify
from schemas.errors import CephDRError

C = TypeVar("C")


def run_daemon(
    args: argparse.Namespace,
    *,
    what: str,
    load: Callable[[str], C],
    unit: Callable[[C], str],
    serve: Callable[[C], int],
    describe: Callable[[C], str] = lambda cfg: "",
) -> int:
    try:
        cfg = load(args.config)
    except CephDRError as err:
        print(f"cephdr {what}: {err.message}", file=sys.stderr)
        return 2
    if args.check:
        detail = describe(cfg)
        print(f"{args.config}: ok" + (f" ({detail})" if detail else ""))
        return 0
    handler = sdnotify.journal_handler(unit(cfg))
    if handler is not None:
        logging.getLogger().handlers[:] = [handler]
    return serve(cfg)
