# cephdr agent image: Debian 12, whose python3-rados/rbd/cephfs are the bindings cephdr uses
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ceph-common python3-rados python3-rbd python3-cephfs python3-venv python3-dev \
      gcc pkg-config libsystemd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/cephdr
COPY pyproject.toml README.md ./
COPY agent agent
COPY bus bus
COPY cli cli
COPY controller controller
COPY lab lab
COPY schemas schemas
# --system-site-packages: the Ceph bindings exist only as Debian packages for /usr/bin/python3
RUN /usr/bin/python3 -m venv --system-site-packages /opt/cephdr/venv \
 && /opt/cephdr/venv/bin/pip install --no-cache-dir .
ENTRYPOINT ["/opt/cephdr/venv/bin/cephdr"]
