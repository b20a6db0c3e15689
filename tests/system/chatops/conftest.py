"""ChatOps end to end: the `!dr` plugin loaded by a real errbot (6.2.1, its TEST backend: the
chat server is the only thing not real) against the lab's real nats-server and real controller,
which drives the lab's real agents on two real Ceph clusters.

Real: errbot's plugin loader, command dispatch and worker threads; the plugin's NATS bridge with
the lab's "chatops" credentials (none until the lab requires them); every `cephdr.ctl.*` request
and every `cephdr.ctl.evt.*` event. The test checks outcomes through the controller itself
(operator requests: `auto.get`, `op.get`).

Not real: the chat network. errbot's TEST backend takes messages from a queue and puts replies on
another; `chat` below only wraps its `send_message` so posts to the configured channel land on a
queue of their own (the backend's one outgoing queue cannot tell a reply from a channel post).
Which user speaks is the backend's `sender`, set before each message.

The lab is tests/system's session lab (one lab per test session): $CEPHDR_LAB_DIR when it runs
(`cephdr lab up --dir X --peered`), else a fresh one.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_bot import CHANNEL, CONFIRM_S, USERS, Chat
from errbot.backends.test import TestBot
from errbot.core import ErrBot
from helpers.ctl import Ctl
from helpers.lab_bus import lab_nats

from lab.model import LabInfo

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
async def ctl(lab: LabInfo) -> AsyncIterator[Ctl]:
    assert lab.controller is not None, "the lab runs no controller"
    nc = await lab_nats(lab, "operator")
    yield Ctl(nc)
    await nc.close()


@pytest.fixture(scope="module")
def chat(lab: LabInfo) -> Iterator[Chat]:
    config = {
        "BOT_ADMINS": ("@alice",),
        "CEPHDR_CHATOPS": {
            "nats": lab.nats_url,
            "creds": lab.creds("chatops"),
            "channel": CHANNEL,
            "users": USERS,
            "confirm_timeout": CONFIRM_S,
            "request_timeout": 20,
        },
    }
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))  # TestBot logs to a file through the root logger
    tb = TestBot(extra_plugin_dir=str(ROOT / "chatops"), loglevel=logging.INFO, extra_config=config)
    c = Chat(tb)
    backend: Any = None

    def send_message(msg: Any) -> None:
        if str(msg.to) != CHANNEL:
            type(backend).send_message(backend, msg)
            return
        ErrBot.send_message(backend, msg)  # what the TEST backend does, minus its shared queue
        c.channel.put(backend.md.convert(msg.body))

    tb.start(timeout=10)
    backend = tb.bot
    backend.send_message = send_message
    plugin = backend.plugin_manager.get_plugin_obj_by_name("Dr")
    assert plugin is not None, "errbot did not load chatops/dr.plug"
    assert plugin.bridge.wait_connected(30), "the plugin did not connect to the lab's NATS"
    try:
        yield c
    finally:
        tb.stop()
        for h in root.handlers:
            if h not in saved[1]:
                root.removeHandler(h)
                h.close()
        root.setLevel(saved[0])
        shutil.rmtree(tb.bot_config.BOT_DATA_DIR, ignore_errors=True)
