# metarep: the book and its tests. Everything runs inside .venv, created on demand.
#
#   make book       execute every chapter from scratch, build the HTML (warnings are errors)
#   make test       unit tests, every chapter as a notebook (nbval), figure regression
#   make baselines  regenerate figure baselines and fingerprints (deliberately!)
#   make clean      remove build outputs (keeps .venv; `make distclean` removes it too)

SHELL      := /bin/bash
PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.metarep-installed
BUILD      := _build
NBTEST     := $(BUILD)/nbtest
WORKERS    ?= 2
PIP        := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: venv book test baselines clean distclean

# The environment: created if missing; reinstalled only when the pins or the package
# metadata change (the stamp inside .venv records the last successful install).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	@touch $@

venv: $(STAMP)

# The HTML book, every chapter executed from scratch (execute_notebooks: force in _config.yml).
book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "The book: $(CURDIR)/$(BUILD)/html/index.html"

# All tests in one pytest run on $(WORKERS) workers:
#  - unit tests of metarep (tests/),
#  - every executed chapter, converted by jupytext into $(NBTEST)/ and run by nbval
#    (--nbval-lax: converted .md chapters carry no stored outputs to compare, so each cell
#    must run without error and the chapters' hidden assert cells do the checking),
#  - figure images against tests/baseline/ (--mpl) and fingerprints (tests/fingerprints.json).
# Notebook cells stay together on one worker (see tests/conftest.py).
test: $(STAMP)
	$(BIN)/python tests/chapters.py convert $(NBTEST)
	$(BIN)/pytest -n $(WORKERS) \
	    --mpl --mpl-results-path=$(BUILD)/mpl-results \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
	    tests $(NBTEST)

baselines: $(STAMP)
	rm -f tests/baseline/*.png tests/fingerprints.json
	$(BIN)/pytest tests/test_figures.py -k "image or fingerprint" \
	    --mpl-generate-path=tests/baseline --update-fingerprints
	@echo "Regenerated tests/baseline/ and tests/fingerprints.json: review and commit them."

clean:
	rm -rf $(BUILD) .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
