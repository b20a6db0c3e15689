"""The agent's command endpoints, one module per area, all registered on `registry.router`."""
