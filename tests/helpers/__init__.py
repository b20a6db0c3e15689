"""Shared test helpers: polling with a deadline (wait), CLI oracles for Ceph (oracle), unique names."""
