# Siyu: the two commands of the quick start are `make demo` and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
TSTAMP  := $(VENV)/.installed-test
HOST    ?= 127.0.0.1
PORT    ?= 8000
CUSTOMERS ?= 20000
SEED    ?= 42
PYTEST_ARGS ?=

.PHONY: demo test install test-deps pg-deps browser-deps java-deps pg-start pg-stop serve bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

install: $(STAMP)

# Build the simulated brand into the embedded SQLite database and serve it.
demo: $(STAMP)
	$(BIN)/siyu db upgrade
	$(BIN)/siyu demo --customers $(CUSTOMERS) --seed $(SEED) --reset
	$(BIN)/siyu serve --host $(HOST) --port $(PORT)

serve: $(STAMP)
	$(BIN)/siyu serve --host $(HOST) --port $(PORT)

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# PostgreSQL server binaries from Debian (the tests start their own throwaway cluster).
pg-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing PostgreSQL from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

# Chromium and a CJK font from Debian for the browser tests (Playwright drives /usr/bin/chromium;
# never `playwright install`, which downloads a browser build).
BROWSER_DEBS := chromium fonts-wqy-microhei
browser-deps:
	@if ! dpkg -s $(BROWSER_DEBS) >/dev/null 2>&1; then \
	  echo "installing $(BROWSER_DEBS) from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_DEBS) >/dev/null; \
	fi

# A Java runtime from Debian for PySpark (the Spark engine's tests run it in local mode).
java-deps:
	@if ! command -v java >/dev/null 2>&1; then \
	  echo "installing openjdk-17-jre-headless from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	fi

test-deps: $(TSTAMP) pg-deps browser-deps java-deps

pg-start: pg-deps
	@scripts/postgres.sh start

pg-stop:
	@scripts/postgres.sh stop

# Every test, SQLite and PostgreSQL both.
test: test-deps
	SIYU_TEST_POSTGRES_URL=$$(scripts/postgres.sh start) $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(TSTAMP) pg-deps
	SIYU_BENCH_POSTGRES_URL=$$(scripts/postgres.sh start) $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf var .pytest_cache tests/artifacts
