# The few commands people type. `make test` and `make dev` build the virtual environment themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer the Lambda runtime's interpreter (python3.13), found on PATH or under pyenv, else python3.
PYTHON_BOOT ?= $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 python3; do \
	"$$p" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: help install test test-all lint typecheck unit integration slow dynamodb-local-tier dev demo send bench build validate clean
.PHONY: connections resign-events invoke-webhook invoke-stream reliability bench-reconcile

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml layers/shared/requirements.txt
	@test -n "$(PYTHON_BOOT)" || { echo "no Python 3.11+ interpreter found" >&2; exit 1; }
	@echo "creating $(VENV) with $(PYTHON_BOOT) ($$($(PYTHON_BOOT) --version))"
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv and install runtime + dev dependencies

lint: $(STAMP) ## ruff (lint + format check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## mypy --strict on the code
	$(VENV)/bin/mypy

# Tiers (docs/architecture.md#tests): unit and integration on moto are fast; the slow tier and DynamoDB Local run in CI.
FAST_TIERS := tests/unit tests/integration tests/infrastructure

test: lint typecheck ## ruff, mypy, unit and integration tests on moto (a few minutes)
	$(PY) -m pytest $(FAST_TIERS) -m "not slow"

test-all: test validate build slow dynamodb-local-tier ## everything CI runs: `make test`, sam validate/build, the slow tier, DynamoDB Local

unit: $(STAMP) ## unit tests only (milliseconds each, no AWS)
	$(PY) -m pytest tests/unit -m "not slow"

integration: $(STAMP) ## integration tests on moto
	$(PY) -m pytest tests/integration -m "not slow"

slow: $(STAMP) ## the slow tier: reliability suite, benchmark smoke, sam validate, the demo
	$(PY) -m pytest -m slow

dynamodb-local-tier: $(STAMP) ## the integration tests again on Amazon's DynamoDB Local (needs Java 17 and npm)
	DYNAMODB=local $(PY) -m pytest tests/integration -m "not slow and not moto_only"

# Local runs: moto in server mode and both functions in one process, all on 127.0.0.1 (docs/local-development.md).
PORT ?= 3000

dev: $(STAMP) ## run the service locally, no AWS account or Docker (PORT=3000)
	$(PY) -m devtools.local_stack --port $(PORT)

demo: $(STAMP) ## a guided, self-checking run of the service on a local stack
	$(PY) -m devtools.demo

send: $(STAMP) ## sign + POST to `make dev`: EXAMPLE=created|updated|deleted USER_ID=.. or FILE=..
	$(PY) -m devtools.send --url http://127.0.0.1:$(PORT)/webhooks/clerk \
		$(if $(FILE),$(FILE),--example $(or $(EXAMPLE),created) --user $(or $(USER_ID),user_local))

connections: $(STAMP) ## a user's connections as a table: USER_ID=.. [TABLE=..] [ENDPOINT_URL=moto URL from make dev]
	$(VENV)/bin/clerk-connections connections $(or $(USER_ID),user_local) $(if $(TABLE),--table $(TABLE)) \
		$(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL))

# sam local runs the built functions in Lambda's container image: the invoke targets need Docker.
# ENV_VARS: a copy of events/env.json with a deployed stack's values, kept out of git (docs/local-development.md).
ENV_VARS ?= events/env.json

resign-events: $(STAMP) ## re-sign events/apigw.*.json now, secret from ENV_VARS=events/env.json (valid 5 min)
	$(PY) -m devtools.sam_events --env-vars $(ENV_VARS)

invoke-webhook: build ## sam local invoke ClerkWebhookFunction, needs Docker: EVENT=user.created|user.updated|user.deleted
	@# Signed after the build, just before the invoke: a signature older than 5 minutes is refused.
	$(PY) -m devtools.sam_events --env-vars $(ENV_VARS) $(or $(EVENT),user.created)
	$(VENV)/bin/sam local invoke ClerkWebhookFunction -e events/apigw.$(or $(EVENT),user.created).json \
		--env-vars $(ENV_VARS)

invoke-stream: build ## sam local invoke ConnectionStreamFunction, needs Docker: EVENT=user-deleted|connection-error
	$(VENV)/bin/sam local invoke ConnectionStreamFunction -e events/stream.$(or $(EVENT),user-deleted).json \
		--env-vars $(ENV_VARS)

bench: $(STAMP) ## measure against the design's budgets: one table, JSON in .bench/ (docs/performance.md)
	$(PY) -m devtools.bench

bench-reconcile: $(STAMP) ## reconciliation at 10,000 users on the fake Clerk API and moto; JSON in .bench/
	$(PY) -m devtools.bench_reconcile

reliability: $(STAMP) ## reliability suite, bigger budget (RELIABILITY_EXAMPLES=2000); rewrites docs/reliability.md figures
	$(PY) -m devtools.reliability_report --examples $(or $(RELIABILITY_EXAMPLES),2000)

validate: $(STAMP) ## sam validate --lint (offline)
	$(VENV)/bin/sam validate --lint

build: $(STAMP) ## sam build with a python3.13 interpreter, plus bytecode
	PATH="$$(dirname $$(readlink -f $(PYTHON_BOOT))):$$PATH" $(VENV)/bin/sam build
	@# sam build leaves bytecode out and Lambda's code is read-only: without this every cold start compiles the layer.
	$(PYTHON_BOOT) -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

clean: ## remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
