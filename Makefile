# The README's commands. Every target sets up .venv first (Python 3.10 + tfx[kfp]==1.16.0 from
# constraints.txt); re-running is cheap once it exists.
DATA ?= https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
OUTPUT_DIR ?= $(HOME)/imdb-lstm-tfx
ARGS ?=
VENV := .venv

.PHONY: setup browser run test test-fast test-e2e

setup:
	@bash scripts/bootstrap.sh

browser:
	@bash scripts/install_browser.sh

run: setup
	$(VENV)/bin/imdb-lstm run --data "$(DATA)" --output-dir "$(OUTPUT_DIR)" $(ARGS)

# One worker per CPU (pytest-xdist; most of a pipeline run is single-threaded Python). A test
# file's tests share a worker, so that its module fixtures are built once.
PYTEST := $(VENV)/bin/python -m pytest -n auto --dist loadfile

# Both tiers: what CI runs.
test: setup browser
	$(PYTEST) tests $(ARGS)

# Unit and component tests, for editing: a few minutes.
test-fast: setup
	$(PYTEST) tests -m "not e2e" $(ARGS)

# Whole-pipeline runs on generated data, and the report in a real browser.
test-e2e: setup browser
	$(PYTEST) tests -m e2e $(ARGS)
