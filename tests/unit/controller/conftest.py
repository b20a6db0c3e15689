"""Controller unit tests: pure logic, no I/O. Nothing here is real: no nats-server, no agents, no
Ceph, no KV store. Site statuses, heartbeats, group records and operation records are hand-built
msgspec Structs (builders in `ctl_unit_build.py`); the clock of `controller.sites.Sites` is injected;
"persisting" an operation is a msgspec JSON encode/decode round trip, as the store would do.

What is under test is the controller's pure layer: the operation machine and plans
(`controller/ops`), the failover checks (`controller/checks.py`), the status view
(`controller/view.py`), the heartbeat bookkeeping (`controller/sites.py`) and the protection-group
schema (`schemas/group.py`)."""
