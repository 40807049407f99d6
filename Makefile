# metarep: the book and its tests. Everything runs inside .venv, created on demand.
#
#   make book          execute the chapters not in the execution cache, build the HTML
#                      (warnings are errors)
#   make test          unit tests, every chapter executed (shared execution cache), figures
#   make browser-test  the built book in headless Chromium (run `make book` first)
#   make baselines     regenerate figure baselines and fingerprints (deliberately!)
#   make lab           JupyterLab on book/, chapters (.md) open as notebooks (jupytext)
#   make readme-figure regenerate docs/overview.png (the README's figure) with the CLI
#   make publish       build the book and print how it is published (GitHub Pages)
#   make clean         remove build outputs (keeps .venv; `make distclean` removes it too)

SHELL      := /bin/bash
PYTHON     ?= python3
VENV       := .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.metarep-installed
BROWSER_STAMP := $(VENV)/.browser-installed
LAB_STAMP  := $(VENV)/.lab-installed
BUILD      := _build
WORKERS    ?= 2
PIP        := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: venv book test baselines browser-deps browser-test lab readme-figure publish clean distclean

# The environment: created if missing; reinstalled only when the pins or the package
# metadata change (the stamp inside .venv records the last successful install).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	@touch $@

venv: $(STAMP)

# The HTML book. Every chapter is executed unless the execution cache holds it for the same
# chapter source, library source, pins and platform (_ext/chapters.py; `make test` fills it).
book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "The book: $(CURDIR)/$(BUILD)/html/index.html"

# All tests in one pytest run on $(WORKERS) workers (--dist worksteal: idle workers take
# pending tests from busy ones):
#  - unit tests of metarep (tests/),
#  - every chapter executed in its own kernel (tests/test_chapters.py), each cell without
#    error, the chapters' hidden assert cells doing the checking; executions are stored in
#    the keyed execution cache that `make book` reuses (_ext/chapters.py),
#  - figure images against tests/baseline/ (--mpl) and fingerprints (tests/fingerprints.json).
test: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist worksteal --durations=30 \
	    --mpl --mpl-results-path=$(BUILD)/mpl-results tests

baselines: $(STAMP)
	rm -f tests/baseline/*.png tests/fingerprints.json
	$(BIN)/pytest tests/test_figures.py -k "image or fingerprint" \
	    --mpl-generate-path=tests/baseline --update-fingerprints
	@echo "Regenerated tests/baseline/ and tests/fingerprints.json: review and commit them."

# Browser test: Playwright (requirements-browser.txt) drives Debian's chromium; nothing is
# downloaded by Playwright. Installing chromium needs root (as in CI) and Debian's registry.
$(BROWSER_STAMP): requirements-browser.txt $(STAMP)
	$(PIP) install -r requirements-browser.txt -c requirements.txt
	@touch $@

browser-deps: $(BROWSER_STAMP)
	@command -v chromium >/dev/null || { \
	    test "$$(id -u)" = 0 || { echo "install Debian's chromium: apt-get install chromium" >&2; exit 1; }; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

browser-test: browser-deps
	@test -f $(BUILD)/html/index.html || $(MAKE) book
	$(BIN)/pytest tests/browser --browser
	@echo "Screenshots of every page: $(CURDIR)/$(BUILD)/screenshots/"

# JupyterLab with jupytext: a double click opens a chapter (.md) as a notebook. The setting
# is written inside .venv (a config folder JupyterLab reads), so nothing outside the project
# changes.
$(LAB_STAMP): requirements-lab.txt $(STAMP)
	$(PIP) install -r requirements-lab.txt -c requirements.txt
	$(BIN)/jupytext-config --settings-file $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json \
	    set-default-viewer markdown myst
	@touch $@

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

# The README's figure: the theory for examples/basic.toml, drawn by the command line.
readme-figure: $(STAMP)
	@mkdir -p docs
	MPLBACKEND=Agg $(BIN)/python -m metarep ode --config examples/basic.toml --plot docs/overview.png --force

# Publishing: .github/workflows/pages.yml runs `make book` and deploys _build/html to GitHub
# Pages on every push to main. By hand, copy _build/html to any static web server.
publish: book
	@echo "Publish $(CURDIR)/$(BUILD)/html: push to main (GitHub Pages workflow), or copy it to a web server."

clean:
	rm -rf $(BUILD) .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
