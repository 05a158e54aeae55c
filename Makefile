# Two commands do all the set-up: `make test` and `make demo` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The test suite runs on these Keras backends, one after the other.
TEST_BACKENDS ?= tensorflow jax

.PHONY: setup test unit lint demo notebooks clean

setup:
	PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/bootstrap.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	@set -e; for backend in $(TEST_BACKENDS); do \
	  echo "== tests on the $$backend backend =="; \
	  KERAS_BACKEND=$$backend $(BIN)/python -m pytest; \
	done

demo: setup
	$(BIN)/python -m tlkeras demo $(DEMO_ARGS)

clean:
	rm -rf build runs .pytest_cache
