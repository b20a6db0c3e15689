"""Test layers: `tests/unit` (pure logic, no I/O), `tests/bus` (a real nats-server on a random
port), `tests/system` (the two-site Ceph lab: real mon/mgr/osd/mds, rbd-mirror, cephfs-mirror)."""
