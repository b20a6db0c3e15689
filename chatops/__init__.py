"""ChatOps: the `!dr` errbot plugin (dr.plug / dr.py) over pure parts: rules (parsing, allow-list,
confirmations), render (chat text), desk (one message -> one controller request), settings, and the
bus bridge (NATS on its own asyncio loop thread)."""
