"""The agent process: wiring of Ceph, bus, scanner, heartbeats and self-fencing (all I/O)."""
