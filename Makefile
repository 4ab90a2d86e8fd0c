# Two entry points (see README): `make start` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install start test bench lint

$(BIN)/kb: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: any other torch request pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/kb

install: $(BIN)/kb

start: install
	$(BIN)/kb start

# The PostgreSQL storage tests run against a real server: KB_TEST_POSTGRES_URL if set, else a local
# one that scripts/pg-test-server.sh installs and starts (as root); without either they are skipped.
# The browser test needs Debian's chromium, which scripts/browser-test-deps.sh installs (as root);
# without it that test is skipped, or fails when KB_REQUIRE_BROWSER=1 (CI).
# Layout rules (import-linter contracts in pyproject.toml) and ruff run first: they take seconds.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	@url="$${KB_TEST_POSTGRES_URL:-$$(bash scripts/pg-test-server.sh 2>.pg-test-server.log || true)}"; \
	if [ -n "$$url" ]; then echo "PostgreSQL tests: $$url"; \
	else echo "PostgreSQL tests: no server (skipped):"; tail -n 5 .pg-test-server.log 2>/dev/null; fi; \
	if bash scripts/browser-test-deps.sh; then echo "Browser test: /usr/bin/chromium"; else echo "Browser test: no chromium (skipped)"; fi; \
	if axe="$$(bash scripts/axe-deps.sh)"; then echo "Accessibility test: $$axe"; else echo "Accessibility test: no axe-core (skipped)"; fi; \
	KB_TEST_POSTGRES_URL="$$url" $(BIN)/pytest -rs

bench: install
	$(BIN)/kb bench

lint: install
	$(BIN)/kb lint
	$(BIN)/ruff check .
	$(BIN)/lint-imports
