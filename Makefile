# One verb per task, the same for people and CI.
SHELL := /bin/bash
VENV := .venv/bin
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup up down test test-fast lint bench migration clean

setup:
	@scripts/setup.sh

## make up: set up, then run a complete one-machine region in the foreground
up: setup
	$(VENV)/hexagone up

## make down: stop the one-machine region of this checkout (control plane, agent, guests, host
## network) and remove what it created on the host; data (.data) is kept. Not a set-up command.
down:
	@if [ -x $(VENV)/hexagone ]; then $(VENV)/hexagone down; else echo "down: nothing to stop (no .venv)"; fi

## make test: set up, then the whole suite on SQLite and on a real PostgreSQL
test: setup
	@PGURL=$$(scripts/pg-start.sh) && \
	HEXAGONE_TEST_PG_URL=$$PGURL $(VENV)/python -m pytest -q $(PYTEST_ARGS)

## the fast set: pure and contract tests only
test-fast: setup
	$(VENV)/python -m pytest -q -m "unit or contract"

lint: setup
	$(VENV)/ruff check src tests bench
	$(VENV)/mypy
	$(VENV)/lint-imports

bench: setup
	@PGURL=$$(scripts/pg-start.sh) && HEXAGONE_TEST_PG_URL=$$PGURL $(VENV)/python -m bench

## regenerate the migration after a model change (see docs/operations.md)
migration: setup
	$(VENV)/python -m hexagone.db.autogen "$(MSG)"

clean: down
	rm -rf .data .pytest_cache build *.egg-info

## make tempest: the selected Tempest tests against a fresh one-machine region (fake driver), with
## TEMPEST_SETUP=project (default) or customer-domain; see
## docs/openstack-compatibility.md. Not part of `make test` (too slow).
.PHONY: tempest
tempest: setup
	tests/e2e/tempest/run.sh $(TEMPEST_ARGS)
