# Halyard: `make run` runs the main job on a local cluster, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run lint test test-provision unit bench clean system-packages test-packages provision-packages

install: $(STAMP)

# Debian packages, installed when missing (as root, or with a passwordless sudo; otherwise the
# script names them and stops): what building the venv and `make run` need, and for `make test`
# what the tests use besides. minimesos/up installs the local cluster's own.
system-packages:
	@build-support/system-packages.sh run

test-packages:
	@build-support/system-packages.sh test

provision-packages:
	@build-support/system-packages.sh provision

# A virtualenv with Halyard (editable) and its test tools. pymesos' dependency http-parser does
# not build on CPython >= 3.11 as published; setup.py builds a working wheel first (see there).
$(STAMP): setup.cfg setup.py pyproject.toml build-support/http-parser-wheel.sh | system-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -c "import halyard, pymesos, kazoo, http_parser.parser"
	touch $@

# The main job: a local Mesos cluster, the scheduler in the foreground, examples/hello.yaml deployed.
# HA=1: on 3 ZooKeeper servers and 3 masters, with 3 schedulers (one leads, two stand by).
run: install
	HA='$(HA)' scripts/run-local.sh

# make run TLS=1: the same with TLS on (minimesos/up --tls; the API over HTTPS, ZooKeeper over TLS).
ifeq ($(TLS),1)
run: export HALYARD_TLS = 1
endif

# ruff (pyflakes, import order, pyupgrade) and mypy over framework/ and executor/; their settings
# are in pyproject.toml. `make test` runs them first.
lint: install
	$(VENV)/bin/ruff check framework executor
	$(VENV)/bin/mypy

# Three workers (tests/conftest.py): the tests that share the local cluster in order on one; the
# soaks and the HA control plane's tests (their own clusters) on another; the unit tests and the
# other modules that bring up their own cluster (or the simulator) on the third. The cluster's
# packages and launcher are installed first, so that the workers' clusters start on a warm cache.
test: test-packages install lint
	$(PYTHON) minimesos/install.py >/dev/null
	$(PY) -m pytest -ra -n 3 --dist loadgroup --durations=25 tests --ignore=tests/provision

# vagrant/provision.sh run in a Debian 12 root made by debootstrap, its master and agent started in
# network namespaces (tests/provision/): about 4 minutes warm, 5 the first time, so not in `make test`.
test-provision: provision-packages install
	$(PY) -m pytest -ra tests/provision

unit: install
	$(PY) -m pytest -q tests/unit

bench: install
	$(PY) bench/placement.py

clean:
	rm -rf $(VENV) .wheelhouse build *.egg-info framework/*.egg-info .pytest_cache .hypothesis
