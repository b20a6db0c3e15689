"""The errbot plugin: `!dr ...` (see chatops/rules.py). Kept thin because errbot has no type
hints; everything it calls is typed and tested without errbot (chatops.desk, chatops.bridge)."""

from __future__ import annotations

from typing import Any

from errbot import BotPlugin, botcmd

from bus.connect import tls_context
from chatops.bridge import Bridge
from chatops.desk import Desk
from chatops.rules import Confirmations
from chatops.settings import load


class Dr(BotPlugin):  # type: ignore[misc]
    """cephdr disaster recovery."""

    def activate(self) -> None:
        self.settings = load(getattr(self.bot_config, "CEPHDR_CHATOPS", None))
        s = self.settings
        self.bridge = Bridge(
            s.nats,
            credentials=s.creds,
            tls=tls_context(s.tls_ca, s.tls_cert, s.tls_key) if s.tls_ca or s.tls_cert else None,
            role=s.role,
            prefix=s.prefix,
            timeout=s.request_timeout,
            steps=s.steps,
        )
        self.desk = Desk(
            caller=self.bridge,
            allow=s.allow,
            confirmations=Confirmations(ttl=s.confirm_timeout),
            channel=s.channel,
            ops_limit=s.ops_limit,
        )
        self.bridge.start(post=self._post if s.channel else None)
        super().activate()

    def deactivate(self) -> None:
        self.bridge.stop()
        super().deactivate()

    def _post(self, text: str) -> None:
        self.send(self.build_identifier(self.settings.channel), text)

    @botcmd  # type: ignore[misc,untyped-decorator]
    def dr(self, msg: Any, args: str) -> str:
        """cephdr: !dr status|ops|failover|confirm|failback|pause|resume|help"""
        return self.desk.handle(str(msg.frm.aclattr), args)
