# Efoy: `make run` serves the app with its embedded defaults, `make test` runs every test.
# Both set up whatever is missing on a fresh machine (venv, requirements, bun, Chromium) and skip
# what is already done, so a second run starts in seconds.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUN_VERSION := 1.4.5
BUN_STAMP := .tools/.bun-$(BUN_VERSION).stamp
REQ_STAMP := $(VENV)/.requirements.stamp
DEV_STAMP := $(VENV)/.requirements-dev.stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run run-prod test lint screenshots setup setup-dev chromium redis poppler

run: setup
	$(BIN)/python -m efoy_app.launcher

# Production shape on this machine: PostgreSQL, Redis, 3 workers, the Stripe sandbox unless real
# keys are set (README "make run-prod").
run-prod: setup redis
	$(BIN)/python -m efoy_app.run_prod

# The whole suite on SQLite; then, when TEST_DATABASE_URL names a PostgreSQL server (.ci/run sets
# it), the tests that reach the app's database again on PostgreSQL (`make test-pg`).
test: setup-dev chromium redis lint
	$(BIN)/python -m pytest tests
	@if [ -n "$$TEST_DATABASE_URL" ]; then $(MAKE) --no-print-directory test-pg; \
	else echo "make test: TEST_DATABASE_URL is not set: the PostgreSQL pass did not run"; fi

# Integration and e2e servers each on a PostgreSQL database of their own (tests/conftest.py --db):
# all of integration, and the e2e files whose pages write bookings, payments and refunds, Redis and
# several workers included (the whole e2e folder on PostgreSQL would not fit CI's time: run it with
# `make test-pg PG_E2E=tests/e2e`).
# Schemathesis (100 s) runs in the SQLite pass only, to keep CI under its time budget; add it
# with `make test-pg PG_IGNORE=`.
PG_E2E ?= $(addprefix tests/e2e/test_,$(addsuffix .py,booking_flow payments admin several_workers))
PG_IGNORE ?= --ignore=tests/integration/test_schemathesis.py
.PHONY: test-pg
test-pg: setup-dev chromium redis
	$(BIN)/python -m pytest tests/integration $(PG_E2E) $(PG_IGNORE) --db=postgresql

# Retakes the README's screenshots (docs/screenshots); an ordinary test run keeps its own.
screenshots: setup-dev chromium poppler
	EFOY_SCREENSHOTS=1 $(BIN)/python -m pytest tests/e2e/test_accessibility.py tests/e2e/test_doctors.py tests/e2e/test_booking_flow.py tests/e2e/test_payments.py -q
	$(BIN)/python -m bench.receipt_sample

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

setup: $(REQ_STAMP) $(BUN_STAMP)

setup-dev: setup $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(REQ_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): requirements-dev.txt requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

# Reflex's own bun download reaches outside the registries; take bun from npm instead (its
# postinstall script fetches the real binary, so scripts must stay enabled).
$(BUN_STAMP):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund bun@$(BUN_VERSION)
	.tools/node_modules/.bin/bun --version
	touch $@

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; \
	fi

# pdftoppm turns the sample receipt's page 1 into the README's picture.
poppler:
	@if ! command -v pdftoppm >/dev/null; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y poppler-utils; \
	fi

# The several-workers tests share Reflex state through Redis; they start their own from this
# binary when none answers on 127.0.0.1:6379.
redis:
	@if ! command -v redis-server >/dev/null; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server; \
	fi
