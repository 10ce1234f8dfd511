# The README's commands. Every target sets up .venv first (Python 3.10 + tfx[kfp]==1.16.0 from
# constraints.txt); re-running is cheap once it exists.
DATA ?= https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz
OUTPUT_DIR ?= $(HOME)/imdb-lstm-tfx
ARGS ?=
VENV := .venv

.PHONY: setup browser run test

setup:
	@bash scripts/bootstrap.sh

browser:
	@bash scripts/install_browser.sh

run: setup
	$(VENV)/bin/imdb-lstm run --data "$(DATA)" --output-dir "$(OUTPUT_DIR)" $(ARGS)

test: setup browser
	$(VENV)/bin/python -m pytest tests $(ARGS)
