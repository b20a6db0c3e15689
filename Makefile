# cephdr: `make demo` runs the main job, `make test` passes the tests. Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PKGS := ceph-mon ceph-osd ceph-mgr ceph-mds rbd-mirror cephfs-mirror ceph-common \
	ceph-mgr-modules-core python3-rados python3-rbd python3-cephfs \
	python3-venv python3-dev gcc pkg-config libsystemd-dev uuid-runtime \
	prometheus docker-compose systemd
LAB_DIR ?= $(CURDIR)/.lab
PYTEST_ARGS ?=

.PHONY: setup apt venv npm test test-unit test-bus test-system lint typecheck schemas demo bench faults lab-up lab-down lab-status clean

## setup: Debian packages, the venv (from /usr/bin/python3 so it sees python3-rados/rbd/cephfs), the project
setup: apt venv npm

apt:
	@missing=$$(dpkg-query -W -f='$${Package} $${Status}\n' $(APT_PKGS) 2>/dev/null | grep -v 'install ok installed' | cut -d' ' -f1; \
	  for p in $(APT_PKGS); do dpkg-query -W $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing Debian packages: $$(echo $$missing | tr '\n' ' ')"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PKGS) >/dev/null; \
	fi

$(PY):
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --upgrade pip

# re-install only when pyproject.toml changed (the stamp is newer otherwise)
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

# the npm `nats` client of the compatibility test (tests/npm), exactly as locked. Node and npm come
# from Debian only when missing: Debian's `npm` package conflicts with an installed NodeSource nodejs
NPM_DIR := tests/npm
$(NPM_DIR)/node_modules/.installed: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "setup: installing Debian packages: nodejs npm"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	fi
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

npm: $(NPM_DIR)/node_modules/.installed

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-bus: setup
	$(PY) -m pytest tests/bus $(PYTEST_ARGS)

test-system: setup
	$(PY) -m pytest tests/system $(PYTEST_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy agent controller schemas bus lab cli chatops

schemas: setup
	$(PY) -m schemas.export

## demo: the lab up (two Ceph sites, NATS, agents, controller), a protection group (RBD snapshot and journal
## images, a CephFS directory) applied and mirrored, a planned failover and back with live progress (lab/demo.py)
demo: setup
	$(VENV)/bin/cephdr demo --dir $(LAB_DIR)

lab-up: setup
	$(VENV)/bin/cephdr lab up --dir $(LAB_DIR)

lab-status: setup
	$(VENV)/bin/cephdr lab status --dir $(LAB_DIR)

lab-down: setup
	$(VENV)/bin/cephdr lab down --dir $(LAB_DIR)

## bench: cephdr against Ceph's own tools on the lab at LAB_DIR (brought up, or reused when it runs);
## options in BENCH_ARGS, e.g. make bench BENCH_ARGS="--only P2 --p2-n 50"; table on stdout, JSON in bench/results/
bench: setup
	$(VENV)/bin/cephdr lab up --dir $(LAB_DIR) --peered
	CEPHDR_LAB_DIR=$(LAB_DIR) $(PY) -m bench --lab-dir $(LAB_DIR) $(BENCH_ARGS)

## faults: every fault drill on the lab (tests/system/faults), FAULT_TRIALS trials each; prints the table
FAULT_TRIALS ?= 3
faults: setup
	CEPHDR_FAULTS=1 CEPHDR_FAULT_TRIALS=$(FAULT_TRIALS) $(PY) -m pytest tests/system/faults $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
