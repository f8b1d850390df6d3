# terrane — developer entry points.
#
#   make build               debug build of the terrane binary
#   make run                 serve (TERRANE_LISTEN, TERRANE_DATABASE_URL, ...; extra flags in RUN_ARGS)
#   make test                the full test suite (cargo-nextest, or cargo test without it)
#   make lint                rustfmt check + clippy with warnings as errors
#   make openapi             regenerate openapi/openapi.json from the code
#   make bench               HTTP benchmark on SQLite and PostgreSQL (scripts/bench.sh)
#   make browser-deps        Python venv .venv with playwright (the browser tests use Debian's chromium)
#   make contract-deps       schemathesis (pinned in tests/contract/requirements.txt) into .venv
#   make contract            schemathesis against the real binary on SQLite and PostgreSQL (scripts/contract.sh)
#   make screenshots         PNGs of the dashboard's main views in docs/screenshots (headless Chromium)
#   make client-deps         openapi-python-client in the venv .venv (tests/client/requirements.txt)
#   make client-smoke        a Python client generated from openapi/openapi.json drives the real binary (SQLite, PostgreSQL)
#   make check-domain-deps   terrane-domain must not depend on actix, diesel or utoipa

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

CARGO ?= cargo

# Extra flags for `make run`, e.g. RUN_ARGS='--database-url postgres://postgres@127.0.0.1:5432/terrane'.
# Without them terrane reads TERRANE_* from the environment, else its defaults
# (127.0.0.1:8080, sqlite://terrane.db).
RUN_ARGS ?=

# The test command. `make test` is what the README and .ci/run use.
# Extra arguments (a test filter, say) go in TEST_ARGS: make test TEST_ARGS=postgres
TEST_ARGS ?=
NEXTEST_CMD := $(CARGO) nextest run --workspace --no-fail-fast
CARGO_TEST_CMD := $(CARGO) test --workspace --no-fail-fast

# Crates the domain must never pull in (normal dependencies only).
DOMAIN_FORBIDDEN := actix|diesel|utoipa

# The Python the browser tests, screenshots and the client smoke run with (the venv .venv,
# holding playwright and openapi-python-client).
BROWSER_PYTHON ?= .venv/bin/python

# The binary the client smoke starts. Unset, `make client-smoke` builds it first; CI passes the
# one `make test` built.
SMOKE_BIN ?=
# Backends the client smoke runs on (PostgreSQL: a database of its own on the server of
# TERRANE_TEST_DATABASE_URL, made and dropped with psql).
SMOKE_BACKENDS ?= sqlite postgres

.PHONY: all build run test lint fmt-check clippy openapi bench check-domain-deps help browser-deps screenshots client-deps client-smoke contract-deps contract

all: build

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

build:
	$(CARGO) build -p terrane

run:
	$(CARGO) run -p terrane -- serve $(RUN_ARGS)

test:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "+ $(NEXTEST_CMD) $(TEST_ARGS)"; \
		$(NEXTEST_CMD) $(TEST_ARGS); \
	else \
		echo "cargo-nextest not found: falling back to cargo test" >&2; \
		echo "+ $(CARGO_TEST_CMD) $(TEST_ARGS)"; \
		$(CARGO_TEST_CMD) $(TEST_ARGS); \
	fi

lint: fmt-check clippy

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Written through a temporary file so a failed run leaves the committed spec intact.
openapi:
	@mkdir -p openapi
	$(CARGO) run -q -p terrane -- openapi > openapi/openapi.json.tmp \
		|| { rm -f openapi/openapi.json.tmp; exit 1; }
	@mv openapi/openapi.json.tmp openapi/openapi.json
	@echo "wrote openapi/openapi.json"

bench:
	bash scripts/bench.sh

# Playwright drives Debian's chromium (/usr/bin/chromium): nothing downloads a browser.
browser-deps:
	@[ -x $(BROWSER_PYTHON) ] || python3 -m venv .venv
	$(BROWSER_PYTHON) -m pip install -q -r tests/browser/requirements.txt

# Settings: tests/contract/schemathesis.toml. CONTRACT_BACKENDS='sqlite' runs one backend.
CONTRACT_BACKENDS ?= sqlite postgres

contract-deps:
	@[ -x $(BROWSER_PYTHON) ] || python3 -m venv .venv
	$(BROWSER_PYTHON) -m pip install -q -r tests/contract/requirements.txt

contract: contract-deps
	bash scripts/contract.sh $(CONTRACT_BACKENDS)

screenshots: build
	$(BROWSER_PYTHON) tests/browser/dashboard.py --serve target/debug/terrane --screenshots docs/screenshots

client-deps:
	@[ -x $(BROWSER_PYTHON) ] || python3 -m venv .venv
	$(BROWSER_PYTHON) -m pip install -q -r tests/client/requirements.txt

client-smoke: client-deps
	@bin="$(SMOKE_BIN)"; \
	if [ -z "$$bin" ]; then $(CARGO) build -p terrane; bin=target/debug/terrane; fi; \
	for backend in $(SMOKE_BACKENDS); do \
		$(BROWSER_PYTHON) tests/client/smoke.py --serve "$$bin" --backend "$$backend"; \
	done

check-domain-deps:
	@tree="$$($(CARGO) tree -p terrane-domain -e normal)"; \
	if bad="$$(grep -Ei '$(DOMAIN_FORBIDDEN)' <<<"$$tree")"; then \
		echo "terrane-domain depends on forbidden crates ($(DOMAIN_FORBIDDEN)):" >&2; \
		echo "$$bad" >&2; \
		exit 1; \
	fi; \
	echo "terrane-domain: no $(DOMAIN_FORBIDDEN) in its normal dependencies"
