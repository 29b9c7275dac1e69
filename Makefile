# Halyard: `make run` runs the main job on a local cluster, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test unit bench clean

install: $(STAMP)

# A virtualenv with Halyard (editable) and its test tools. pymesos' dependency http-parser does
# not build on CPython >= 3.11 as published: build-support/http-parser-wheel.sh makes a wheel
# (parser.c regenerated with Cython 3) that pip then takes from .wheelhouse/.
$(STAMP): setup.cfg pyproject.toml build-support/http-parser-wheel.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=64" wheel "Cython>=3,<4"
	PYTHON=$(PY) build-support/http-parser-wheel.sh
	$(PY) -m pip install -q --find-links .wheelhouse -e '.[test]'
	$(PY) -c "import halyard, pymesos, kazoo, http_parser.parser"
	touch $@

run: install
	$(VENV)/bin/halyard validate examples/hello.yaml --env production
	$(VENV)/bin/halyard plan --cluster examples/cluster.yaml examples/hello.yaml --env production

test: install
	$(PY) -m pytest -ra tests

unit: install
	$(PY) -m pytest -q tests/unit

bench: install
	$(PY) bench/placement.py

clean:
	rm -rf $(VENV) .wheelhouse build *.egg-info framework/*.egg-info .pytest_cache .hypothesis
