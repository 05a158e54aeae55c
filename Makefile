# Two commands do all the set-up: `make test` and `make demo` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The unit tests and the notebooks (fast mode) run on each of these Keras backends in turn, each
# pass on TEST_WORKERS processes (pytest-xdist): small models leave a core idle in one process.
TEST_BACKENDS ?= tensorflow jax torch
TEST_WORKERS ?= 2
# The cores shared out between the workers: PyTorch's OpenMP threads spin-wait, and two workers with
# a thread per core each made the PyTorch notebooks several times slower on 2 cores.
test notebook-tests: export OMP_NUM_THREADS ?= $(shell n=$$(( $$(nproc) / $(TEST_WORKERS) )); echo $$(( n > 0 ? n : 1 )))
# JAX keeps what XLA compiled on disk, bounded to 1 GB with a file lock for the parallel workers: the
# tests and notebooks compile the same training steps again and again, in one run and from run to run
# (docs/benchmarks.md: a JAX notebook 40 s cold, 25 s warm).
test notebook-tests: export JAX_COMPILATION_CACHE_DIR ?= $(HOME)/.cache/tlkeras-jax-compilation
test notebook-tests: export JAX_COMPILATION_CACHE_MAX_SIZE ?= 1073741824
test notebook-tests: export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS ?= 0
NOTEBOOKS := $(wildcard notebooks/[0-9][0-9]_*.ipynb)
# On the backends after the first, nbmake runs each notebook on one of them, the one it runs faster on
# (docs/benchmarks.md), and 09 (scaling out: its code takes another path on each backend) on both: every notebook
# runs on TensorFlow and at least one other backend, every library function on all three (the unit tests). All of
# them everywhere: `make notebook-tests NOTEBOOKS_jax='notebooks/[0-9]*.ipynb' NOTEBOOKS_torch='notebooks/[0-9]*.ipynb'`.
notebooks_numbered = $(foreach n,$(1),$(filter notebooks/$(n)_%,$(NOTEBOOKS)))
NOTEBOOKS_jax ?= $(call notebooks_numbered,00 03 04 06 07 09)
NOTEBOOKS_torch ?= $(call notebooks_numbered,01 02 05 08 09)

.PHONY: setup lock lint test notebook-tests demo results notebook-results notebooks book exercises clean

setup:
	PYTHON=$(PYTHON) VENV=$(VENV) TEST_BACKENDS="$(TEST_BACKENDS)" sh scripts/bootstrap.sh

# requirements.lock: the exact versions (with hashes) make setup installs. After a change to
# pyproject.toml, `make lock` resolves it again, keeping every pin it can; `make lock LOCK_FLAGS=--upgrade`
# moves to the newest versions (then rerun the published results: `make results`).
lock: setup
	$(BIN)/python -m uv pip compile pyproject.toml --extra test --extra notebooks --generate-hashes \
	  --python-version 3.11.7 --python-platform x86_64-manylinux_2_28 -o requirements.lock --quiet $(LOCK_FLAGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Backend-independent tests (marked any_backend) and the docstring examples run on the first backend only.
test: setup lint
	@set -e; for backend in $(TEST_BACKENDS); do \
	  echo "== unit tests on the $$backend backend =="; \
	  if [ $$backend = $(firstword $(TEST_BACKENDS)) ]; then only=""; else only="-m 'not notebooks and not any_backend' --ignore=tlkeras"; fi; \
	  eval KERAS_BACKEND=$$backend $(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=10 $$only; \
	done
	$(MAKE) notebook-tests

# Every notebook, executed in fast mode on each backend, with a per-notebook timeout. On the first
# backend the nbgrader round trip executes them (tests/test_course.py: each solution autograded to
# full marks without an error, each untouched student version to 0) and the rendered course is
# opened in headless Chromium (tests/test_book.py); on the others, nbmake.
GRADING_BACKEND = $(firstword $(TEST_BACKENDS))
notebook-tests: setup
	@set -e; for backend in $(TEST_BACKENDS); do \
	  echo "== notebooks on the $$backend backend =="; \
	  if [ $$backend = $(GRADING_BACKEND) ]; then \
	    TLKERAS_FAST=1 KERAS_BACKEND=$$backend $(BIN)/python -m pytest \
	      -n $(TEST_WORKERS) -m notebooks -p no:cacheprovider tests/test_course.py tests/test_book.py; \
	  else \
	    case $$backend in jax) notebooks="$(NOTEBOOKS_jax)";; torch) notebooks="$(NOTEBOOKS_torch)";; \
	      *) notebooks="$(NOTEBOOKS)";; esac; \
	    TLKERAS_FAST=1 KERAS_BACKEND=$$backend $(BIN)/python -m pytest -n $(TEST_WORKERS) --nbmake \
	      --nbmake-timeout=600 -p no:cacheprovider $$notebooks; \
	  fi; \
	done

demo: setup
	$(BIN)/python -m tlkeras demo $(DEMO_ARGS)

# Every published run of results/runs.json again, into results/NAME/; prints each verdict that moved.
results: setup
	$(BIN)/python -m tlkeras results rerun --all

# Every notebook that shows results, executed in full mode: what each shows goes to results/notebooks/NAME.json,
# which its quick run prints beneath its own lines (scripts/course.py record; the tests compare its code hash).
# `make notebook-results NOTEBOOK_NAMES="04_fine_tune 05_clustering_and_generation"` runs only those.
notebook-results: setup
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python scripts/course.py record $(NOTEBOOK_NAMES)

# Full-mode handouts for teachers: the notebooks executed into build/executed/ (their figures also
# land in notebooks/outputs/), then the rendered course, static HTML, in build/book/. Each notebook
# runs in fast mode first (build/executed-fast/; the full run's figures are the ones kept), so that
# the cache (TLKERAS_CACHE_DIR, a class's shared one) holds the autoencoders of both modes.
notebooks: setup
	mkdir -p build/executed build/executed-fast
	for nb in $(NOTEBOOKS); do \
	  TLKERAS_FAST=1 $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1200 \
	    --output-dir build/executed-fast "$$nb" || exit 1; \
	  $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=1200 \
	    --output-dir build/executed "$$nb" || exit 1; \
	done

book: notebooks
	$(BIN)/python scripts/book.py build/executed/*.ipynb --output build/book

# The student versions in notebooks/exercises/, released by nbgrader from the notebooks.
exercises: setup
	$(BIN)/python scripts/course.py release

clean:
	rm -rf build runs notebooks/outputs .pytest_cache
