# Fleet telemetry platform — every set-up step lives here, so a fresh clone needs two commands:
#   make dev    # venv + install + Dagster UI on embedded defaults (sandbox providers, local DuckDB + Parquet)
#   make test   # venv + install + the whole test suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DAGSTER_PORT ?= 3000
INGEST_PORT ?= 8700
ANALYTICS_PORT ?= 8701

export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export FLEET_DATA_DIR ?= $(CURDIR)/data

.PHONY: help install dev test test-fast validate bench sandbox analytics-sandbox ingest-server deployed-services clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml protocol/pyproject.toml edge_collector/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (python-OBD needs Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./protocol -e './edge_collector[test]' -e '.[test]'
	touch $@

install: $(STAMP)  ## create .venv and install all three distributions (editable) with test extras

dev: install  ## start the Dagster UI (and the trip ingest server) on embedded defaults
	DAGSTER_PORT=$(DAGSTER_PORT) INGEST_PORT=$(INGEST_PORT) ANALYTICS_PORT=$(ANALYTICS_PORT) BIN=$(BIN) bash scripts/dev.sh

test: install  ## run the whole test suite (what CI runs)
	$(BIN)/python -m pytest

test-fast: install  ## the suite without tests marked slow
	$(BIN)/python -m pytest -m "not slow"

validate: install  ## check that the code location loads
	$(BIN)/dagster definitions validate -w workspace.yaml

bench: install  ## run every benchmark (see benchmarks/RESULTS.md); BENCH_ARGS=--quick for smoke sizes
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

sandbox: install  ## serve the Motive/Samsara wire-format sandbox on loopback
	$(BIN)/fleet-sandbox serve --port 8600

analytics-sandbox: install  ## serve the IcsAnalytics GraphQL sandbox backend (the embedded one's data) on loopback
	$(BIN)/python -m fleet_assets.analytics.sandbox.cli --port $(ANALYTICS_PORT) --store "$(FLEET_DATA_DIR)/analytics_sandbox.sqlite"

ingest-server: install  ## serve the trip-chunk ingest API on loopback
	$(BIN)/fleet-ingest-server --port $(INGEST_PORT) --data-dir "$(FLEET_DATA_DIR)" --keys-file "$(FLEET_DATA_DIR)/ingest_keys.json"

deployed-services: install  ## serve PostgreSQL (pgserver) and S3 (moto) on loopback for trying deployed mode; prints the exports
	$(BIN)/python scripts/local_services.py

clean:  ## remove the venv, local Dagster home and local data
	rm -rf $(VENV) .dagster_home data .pytest_cache
