# Marquee: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck pytest fuzz schema bench clean-data

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

## Start an embedded PostgreSQL, migrate, seed demo data once, serve http://127.0.0.1:8000/graphql
run: $(STAMP)
	$(BIN)/marquee serve --demo

## Lint, type-check and run the whole suite against a real PostgreSQL
test: $(STAMP) check pytest

check: lint typecheck

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

## Throughput, latency and SQL statements per request (see bench/README.md)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean-data:
	rm -rf .marquee
