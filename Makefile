# Two commands on a fresh machine: `make demo` runs the service, `make test` runs the tests.
# Both create .venv and install the project (with its dev and embedded extras) when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SIZE ?= M
# more options of the benchmark, e.g. BENCH_ARGS="--profile --scenarios csv-local"
BENCH_ARGS ?=
# parallel test workers: most of the suite waits on workers, servers and leases, not on the CPU, so
# four share two cores well
WORKERS ?= 4

.PHONY: demo test test-multihost lint bench install lock clean

# Every install is the hash-pinned lock (`make lock` writes it from pyproject.toml's ranges);
# `pip check` fails a lock that no longer covers pyproject.toml.
LOCK_DEV := requirements-dev.lock
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

# pip prints each package as it goes: the first install takes a minute or two, and says so
$(STAMP): pyproject.toml $(LOCK_DEV)
	@echo "==> installing sis-sync into $(VENV) (the first time takes a minute or two)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --progress-bar on --require-hashes -r $(LOCK_DEV)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)
	@echo "==> installed"

lock: $(STAMP)
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev --extra embedded -o $(LOCK_DEV) pyproject.toml
	$(PIP_COMPILE) --only-build-deps --build-deps-for wheel -o requirements-build.lock pyproject.toml

install: $(STAMP)

demo: $(STAMP)
	APP_ENV=$${APP_ENV:-development} $(BIN)/sis-sync demo

test: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup

# three hosts made of network namespaces (tests/multihost): needs root; skips elsewhere, fails in CI
test-multihost: $(STAMP)
	$(BIN)/pytest -m multihost tests/multihost

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench --size $(SIZE) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
