# Two commands on a fresh clone: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
NODE_STAMP := bench/node/node_modules/.installed

.PHONY: run test check lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(TEST_STAMP): $(STAMP) requirements-test.txt
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

# The bench's second socket client (bench/node/client.js, the cross-check): Node's `ws`, as
# pinned in package-lock.json. Order-only below: a new lock reruns npm ci, not pip.
$(NODE_STAMP): bench/node/package.json bench/node/package-lock.json
	npm ci --prefix bench/node --no-audit --no-fund
	touch $@

# The test suite runs a tiny smoke of every benchmark, so it needs the bench clients too.
$(BENCH_STAMP): $(STAMP) bench/requirements.txt | $(NODE_STAMP)
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@

run: $(STAMP)
	$(BIN)/bridge serve

test: $(TEST_STAMP) $(BENCH_STAMP) check
	$(BIN)/python -m pytest

# Bounded (a few minutes on 2 cores); writes bench/results.json and docs/performance.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

check: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) bench/.peer-venv bench/node/node_modules .pytest_cache .mypy_cache .ruff_cache
