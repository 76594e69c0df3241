# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean system-deps

# pip is quiet, so say what is happening: the first install takes a minute or two.
$(STAMP): pyproject.toml
	@echo "make: setting up $(VENV), a virtual environment for optin (a minute or two the first time)"
	@echo "make:   creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@echo "make:   upgrading pip"
	@$(BIN)/pip install -qq --upgrade pip
	@echo "make:   installing optin and its dependencies from pyproject.toml (pip shows only problems)"
	@$(BIN)/pip install -qq -e '.[dev]'
	@touch $(STAMP)
	@echo "make: $(VENV) is ready"

# `make run CONFIG=optin.toml` uses a settings file; without one, $$OPTIN_CONFIG or the development defaults.
run: $(STAMP)
	@echo "make: starting optin: $(BIN)/optin serve$(if $(CONFIG), --config $(CONFIG))"
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
	$(BIN)/pytest -q -n 3 $(PYTEST_ARGS)

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
