"""The bot under test, spoken to as one user or another (see conftest.py)."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any

from errbot.backends.test import TestBot

CHANNEL = "#dr"
CONFIRM_S = 10.0
USERS = {"@alice": ["force"], "@carol": ["force"], "@bob": ["operate"], "@vic": ["view"]}


@dataclass
class Chat:
    """The running bot, spoken to as one user or another."""

    tb: TestBot
    channel: queue.Queue[str] = field(default_factory=queue.Queue)
    history: list[str] = field(default_factory=list)

    def say(self, user: str, text: str, timeout: float = 30) -> str:
        backend: Any = self.tb.bot
        backend.sender = backend.build_identifier(user)
        backend.push_message(text)
        reply: str = backend.pop_message(timeout=timeout)
        return reply

    def posted(self, wanted: str, timeout: float) -> list[str]:
        """Every channel post since the bot started, once one contains `wanted` (waiting for it up
        to `timeout`), or AssertionError."""
        deadline = time.monotonic() + timeout
        while not any(wanted in p for p in self.history):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"nothing with {wanted!r} posted to {CHANNEL} in {timeout:g}s; saw {self.history}"
                )
            try:
                self.history.append(self.channel.get(timeout=left))
            except queue.Empty:
                continue
        return list(self.history)
