"""The site agent: one per Ceph site. It alone touches a cluster (`agent.ceph`), turns what it reads
into typed status (`agent.status`), and serves commands on `cephdr.agent.<site>.…` (`agent.service`)."""
