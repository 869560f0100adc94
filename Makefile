# sopdesk developer tasks. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= $(CURDIR)/.sopdesk
HOST ?= 127.0.0.1
PORT ?= 8000

.DEFAULT_GOAL := help
.PHONY: help demo test lint fmt bench bench-web clean chromium

help: #: list the targets
	@grep -E '^[a-z-]+:.*#:' $(MAKEFILE_LIST) | sed -E 's/:.*#:/\t/'

HTMX := src/sopdesk/web/static/vendor/htmx.min.js

# htmx comes from the npm registry (package-lock.json), copied next to our own static files.
$(HTMX): package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(@D)
	cp node_modules/htmx.org/dist/htmx.min.js $@

# The browser tests drive Debian's Chromium; install it when missing and we are root.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && apt-get install -y -qq chromium; fi

$(BIN)/.installed: pyproject.toml $(HTMX)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed-dev: pyproject.toml $(HTMX) | chromium
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/.installed $@

demo: $(BIN)/.installed #: install, load and publish the SOP library into SQLite, serve on http://127.0.0.1:8000
	SOPDESK_DATA_DIR=$(DATA_DIR) $(BIN)/sopdesk init
	SOPDESK_DATA_DIR=$(DATA_DIR) $(BIN)/sopdesk demo --if-new
	SOPDESK_DATA_DIR=$(DATA_DIR) $(BIN)/sopdesk serve --host $(HOST) --port $(PORT)

lint: $(BIN)/.installed-dev #: ruff check and format check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

fmt: $(BIN)/.installed-dev #: apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

test: $(BIN)/.installed-dev lint #: lint, then run every test (SQLite and PostgreSQL)
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

BENCH_OUT ?= bench-results

bench: $(BIN)/.installed-dev #: business time, intake, timers, routing at full size (about 10 min; peers in temporary venvs; PostgreSQL at SOPDESK_TEST_PG_URL); JSON in bench-results/
	mkdir -p $(BENCH_OUT)
	$(BIN)/python benchmarks/business_time.py --json $(BENCH_OUT)/business_time.json
	$(BIN)/python benchmarks/intake.py --json $(BENCH_OUT)/intake.json
	$(BIN)/python benchmarks/timers.py --json $(BENCH_OUT)/timers.json
	$(BIN)/python benchmarks/routing.py | tee $(BENCH_OUT)/routing.txt

bench-web: $(BIN)/.installed-dev #: the web benchmark at 1,000,000 cases on both databases (about 40 min)
	mkdir -p $(BENCH_OUT)
	$(BIN)/python benchmarks/web.py --json $(BENCH_OUT)/web.json

clean: #: remove the virtualenv and local data
	rm -rf $(VENV) $(DATA_DIR) build dist
