# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/optin serve $(if $(CONFIG),--config $(CONFIG))

lint: $(STAMP)
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# axe-core, injected by the widget's accessibility test.
widget/node_modules/.package-lock.json: widget/package-lock.json
	npm ci --prefix widget --no-audit --no-fund --silent

unit: $(STAMP) widget/node_modules/.package-lock.json
	$(BIN)/pytest -q $(PYTEST_ARGS)

# Debian packages the browser, plugin and PostgreSQL tests drive; CI machines may start without them.
system-deps:
	@command -v chromium >/dev/null && command -v php >/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium php-cli >/dev/null; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test: system-deps lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench.subscribe
	$(BIN)/python bench/verify.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
