# The README's commands. CI runs `make test`, exactly as a developer does.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install lint bench faults services browser peers clean

run: install  ## web + worker + beat on the embedded default (SQLite, no services needed)
	$(BIN)/coach run

test: install services browser peers lint  ## the whole suite, SQLite and PostgreSQL
	CI=$${CI:-} $(BIN)/pytest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

services:  ## start PostgreSQL and Redis when they are installed but down
	@bash scripts/ensure-services

browser:  ## Debian's Chromium, for the browser tests
	@bash scripts/ensure-chromium

peers:  ## Prism (npm, into .peers/), which serves Twilio's API spec to the tests
	@bash scripts/ensure-peers

bench: install services  ## throughput and sweep cost on PostgreSQL + Redis (see bench/README.md)
	$(BIN)/python -m bench

faults: install services  ## the fault suite: kill, stop, flush, disconnect; prints each ledger
	COACH_FAULTS=1 CI=$${CI:-} $(BIN)/pytest tests/faults

clean:
	rm -rf $(VENV) .peers var .pytest_cache .ruff_cache .mypy_cache
