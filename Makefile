# ccflare (Django edition). `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help install install-dev run tui test lint typecheck fmt bench migrate image-test stack-test

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed ## Create .venv and install the runtime dependencies

install-dev: $(VENV)/.installed-dev ## Install the test and tooling dependencies too

migrate: install ## Apply database migrations
	$(PY) manage.py migrate --noinput

run: migrate ## Set up everything and start the server on HOST:PORT (default 127.0.0.1:8080)
	$(PY) manage.py collectstatic --noinput -v 0
	$(PY) manage.py ensure_admin
	$(PY) -m ccflare_site.serve

# ARGS passes options on: make tui ARGS="--url http://10.0.0.5:8080 --token cct_..."
tui: install ## Open the terminal UI against the running server (the local one by default)
	$(PY) manage.py tui $(ARGS)

lint: install-dev ## ruff, formatting, the type checker and the migrations check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(TYPECHECK)
	$(PY) manage.py makemigrations --check --dry-run

# mypy's django plugin imports the settings, which read the environment and write to
# DATA_DIR: run it on an empty environment and a throwaway DATA_DIR, so the caller's
# variables (or .env) cannot change its result and ./data is not touched.
TYPECHECK = tmp=$$(mktemp -d) && env -i PATH="$$PATH" DATA_DIR="$$tmp" CCFLARE_IGNORE_DOTENV=1 \
	$(VENV)/bin/mypy; status=$$?; rm -rf "$$tmp"; exit $$status

typecheck: install-dev ## mypy with django-stubs (configured in pyproject.toml)
	@$(TYPECHECK)

fmt: install-dev ## Format and fix what ruff can
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint ## Install what the tests need, lint, and run the whole suite
	bash .ci/ensure-chromium.sh
	$(VENV)/bin/pytest

bench: install-dev ## Benchmark the proxy against the direct path (BENCH_ARGS="--compare URL ...")
	$(PY) bench/bench.py $(BENCH_ARGS)

# Both need root and podman (installed from Debian packages when missing); docs/deployment.md.
image-test: install-dev ## Build the container image with podman and check it running
	bash .ci/ensure-podman.sh
	$(PY) -m tests.deploy.image_check

stack-test: install-dev ## Bring the compose stack up with podman and check both replicas
	bash .ci/ensure-podman.sh
	$(PY) -m tests.deploy.stack_check
