# Marquee: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# The tool that writes the lock (kept apart from the project's own packages).
UV_VERSION := 0.13.9
UV := $(VENV)/uv-tool/bin/uv

.PHONY: run test check lint typecheck layers pytest fuzz schema bench soak clean-data lock vendor

# Every install is the lock: exact versions, each file checked against its hash. The project
# itself is installed last, without dependencies and with the locked setuptools.
$(STAMP): $(LOCK) pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

## Re-resolve requirements.lock from pyproject.toml (runtime + dev + build), keeping the
## current pins where they still fit; `make lock UPGRADE=1` moves everything to the newest.
lock:
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	test -x $(UV) || $(BIN)/pip install -q --target $(VENV)/uv-tool uv==$(UV_VERSION)
	$(UV) pip compile pyproject.toml --extra dev --group build --generate-hashes --universal \
		--python-version 3.11 --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) \
		-q -o $(LOCK)

## Start an embedded PostgreSQL, migrate, seed demo data once, serve http://127.0.0.1:8000/graphql
run: $(STAMP)
	$(BIN)/marquee serve --demo

## Lint, type-check and run the whole suite against a real PostgreSQL
test: $(STAMP) check pytest

check: lint typecheck layers

## The layer rules of docs/architecture.md (graph holds no SQL; db and migrations never import graph)
layers: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider tests/core/test_layers.py

lint: $(STAMP)
	$(BIN)/ruff check graph db migrations tests bench
	$(BIN)/ruff format --check graph db migrations tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

## Long, random fuzz of the whole schema (make test runs a short derandomized one);
## FUZZ_EXAMPLES examples per root field and role (docs/security.md)
FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -m fuzz tests/fuzz $(PYTEST_ARGS)

## Regenerate the committed schema.graphql
schema: $(STAMP)
	$(BIN)/marquee export-schema > schema.graphql

## Refresh the vendored browser modules (graph/web/static/vendor) from the npm registry
vendor: $(STAMP)
	$(BIN)/python -m graph.web.vendor

## Throughput, latency and SQL statements per request (see bench/README.md)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## Load and faults for 10 minutes on two instances, then the invariants (docs/reliability.md);
## e.g. make soak SOAK_ARGS="--short" or SOAK_ARGS="--duration 300 --seed 42"
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean-data:
	rm -rf .marquee
