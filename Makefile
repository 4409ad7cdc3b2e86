PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt bench chaos clean migration

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## run: set up and start Interlink (API + worker) on the embedded SQLite database under ./var/
run: $(STAMP)
	@mkdir -p var
	$(BIN)/interlink serve

## test: set up and run the whole suite (SQLite, and PostgreSQL when reachable; required when CI=true)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

## bench: every benchmark scenario, ratios to the same run's baselines (QUICK=1: under 2 minutes)
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

## chaos: SIGKILL random API and worker processes on PostgreSQL; check nothing accepted is lost
chaos: $(STAMP)
	$(BIN)/python -m chaos $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## migration: autogenerate a migration from model changes (REV=0002 NAME="what changed")
migration: $(STAMP)
	$(BIN)/python tools/new_migration.py "$(REV)" "$(NAME)"
