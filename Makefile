# The few commands people type. `make test` and `make dev` build the virtual environment themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer the Lambda runtime's interpreter (python3.13), found on PATH or under pyenv, else python3.
PYTHON_BOOT ?= $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13 python3; do \
	"$$p" -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# SAM CLI (and the template tools) only for validate/build/invoke-*, installed on their first use.
SAM_STAMP := $(VENV)/.sam-installed
# `make build` needs Lambda's own runtime, python3.13 (on PATH or under pyenv); nothing else does.
PYTHON_313 ?= $(shell for p in python3.13 $$(pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13; do \
	"$$p" -c '' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
export SAM_CLI_TELEMETRY := 0
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: help install test test-all lint typecheck unit integration slow dynamodb-local-tier dev demo send bench build validate clean
.PHONY: connections resign-events invoke-webhook invoke-stream reliability bench-reconcile table container-runtime python313 lint-template
.PHONY: bench-check

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml layers/shared/requirements.txt
	@test -n "$(PYTHON_BOOT)" || { echo "no Python 3.11+ interpreter found" >&2; exit 1; }
	@echo "creating $(VENV) with $(PYTHON_BOOT) ($$($(PYTHON_BOOT) --version))"
	$(PYTHON_BOOT) -m venv $(VENV)
	@echo "upgrading pip in $(VENV)"
	$(PY) -m pip install --quiet --upgrade pip
	@echo "installing the runtime and test dependencies into $(VENV) (boto3, Powertools, moto, svix, pytest, ruff, mypy;"
	@echo "  1-3 minutes the first time; SAM CLI comes later, on the first make validate, build or invoke-*)"
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@
	@echo "$(VENV) is ready"

$(SAM_STAMP): $(STAMP)
	@echo "installing SAM CLI and the template tools into $(VENV) (first use of validate/build/invoke-*; about a minute)"
	$(PY) -m pip install --quiet -e '.[dev,sam]'
	@touch $@

install: $(STAMP) ## create .venv with the runtime and test dependencies (SAM CLI: on first validate/build/invoke)

lint: $(STAMP) ## ruff (lint + format check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## mypy --strict on the code
	$(VENV)/bin/mypy

# Tiers (docs/architecture.md#tests): unit and integration on moto are fast; the slow tier and DynamoDB Local run in CI.
FAST_TIERS := tests/unit tests/integration tests/infrastructure

test: lint typecheck ## ruff, mypy, unit and integration tests on moto (a few minutes)
	$(PY) -m pytest $(FAST_TIERS) -m "not slow"

test-all: test validate lint-template build slow dynamodb-local-tier ## everything CI runs: `make test`, sam validate/build, template lint, the slow tier, DynamoDB Local

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

dev: $(STAMP) ## run the service locally, no AWS account or Docker (PORT=3000, JSON=1 for raw log lines)
	$(PY) -m devtools.local_stack --port $(PORT) $(if $(JSON),--json)

demo: $(STAMP) ## a guided, self-checking run of the service on a local stack
	$(PY) -m devtools.demo

send: $(STAMP) ## sign + POST to `make dev`: EXAMPLE=created|updated|deleted [USER_ID=..] [LATE=1], FILE=.., or REPEAT=1
	$(PY) -m devtools.send $(if $(URL),--url $(URL)) $(if $(REPEAT),--repeat,$(if $(FILE),$(FILE),\
		--example $(or $(EXAMPLE),created) --user $(or $(USER_ID),user_local) $(if $(LATE),--late)))

connections: $(STAMP) ## a user's connections on `make dev`: USER_ID=.. (TABLE=.. [ENDPOINT_URL=..]: another table)
	$(VENV)/bin/clerk-connections connections $(or $(USER_ID),user_local) $(if $(TABLE),--table $(TABLE)) \
		$(if $(ENDPOINT_URL),--endpoint-url $(ENDPOINT_URL)) $(if $(or $(TABLE),$(ENDPOINT_URL)),,--local)

table: $(STAMP) ## every item of the running `make dev`'s table, one readable line each
	$(VENV)/bin/clerk-connections table

# sam local runs the built functions in Lambda's container image: the invoke targets need Docker.
# ENV_VARS: a copy of events/env.json with a deployed stack's values, kept out of git (docs/local-development.md).
ENV_VARS ?= events/env.json

resign-events: $(STAMP) ## re-sign events/apigw.*.json now, secret from ENV_VARS=events/env.json (valid 5 min)
	$(PY) -m devtools.sam_events --env-vars $(ENV_VARS)

# Checked before the build: sam local invoke runs the function in Lambda's container image.
container-runtime:
	@docker info >/dev/null 2>&1 || finch info >/dev/null 2>&1 || { \
		echo "make invoke-* needs a running container runtime (Docker or Finch) for sam local invoke; none answered" >&2; \
		echo "(docker info / finch info). Start one, or use make dev, which needs none (docs/troubleshooting.md)." >&2; \
		exit 1; }

invoke-webhook: container-runtime build ## sam local invoke ClerkWebhookFunction, needs Docker: EVENT=user.created|user.updated|user.deleted
	@# Signed after the build, just before the invoke: a signature older than 5 minutes is refused.
	$(PY) -m devtools.sam_events --env-vars $(ENV_VARS) $(or $(EVENT),user.created)
	$(VENV)/bin/sam local invoke ClerkWebhookFunction -e events/apigw.$(or $(EVENT),user.created).json \
		--env-vars $(ENV_VARS)

invoke-stream: container-runtime build ## sam local invoke ConnectionStreamFunction, needs Docker: EVENT=user-deleted|connection-error
	$(VENV)/bin/sam local invoke ConnectionStreamFunction -e events/stream.$(or $(EVENT),user-deleted).json \
		--env-vars $(ENV_VARS)

BENCH_SIZE ?= default

bench: $(STAMP) ## measure B1-B4 (1-2 min): one table with pass/miss, JSON in .bench/ (BENCH_SIZE=quick|default|full)
	$(PY) -m devtools.bench --size $(BENCH_SIZE)

bench-check: $(STAMP) ## the same, failing when a budget is missed
	$(PY) -m devtools.bench --size $(BENCH_SIZE) --check

bench-reconcile: $(STAMP) ## reconciliation at 10,000 users on the fake Clerk API and moto; JSON in .bench/
	$(PY) -m devtools.bench_reconcile

reliability: $(STAMP) ## reliability suite, bigger budget (RELIABILITY_EXAMPLES=2000): report in .reliability/ (PUBLISH=1: docs)
	$(PY) -m devtools.reliability_report --examples $(or $(RELIABILITY_EXAMPLES),2000) $(if $(PUBLISH),--publish)

validate: $(SAM_STAMP) ## sam validate --lint (offline)
	$(VENV)/bin/sam validate --lint

# checkov pins its own boto3 and packaging, which clash with the dev tools: its pyproject group gets a venv of its own.
TEMPLATE_LINT_VENV := .venv-template-lint
$(TEMPLATE_LINT_VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON_BOOT)" || { echo "no Python 3.11+ interpreter found" >&2; exit 1; }
	$(PYTHON_BOOT) -m venv $(TEMPLATE_LINT_VENV)
	$(TEMPLATE_LINT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TEMPLATE_LINT_VENV)/bin/python -m pip install --quiet --group template-lint
	@touch $@

lint-template: $(TEMPLATE_LINT_VENV)/.installed ## cfn-lint and checkov on template.yaml (offline; skips reasoned in .checkov.yaml)
	$(TEMPLATE_LINT_VENV)/bin/cfn-lint template.yaml
	$(TEMPLATE_LINT_VENV)/bin/checkov --config-file .checkov.yaml

# Checked before anything is installed or built: sam build refuses another interpreter than the functions' runtime.
python313:
	@test -n "$(PYTHON_313)" || { \
		echo "make build needs python3.13, Lambda's runtime for these functions, and found none on PATH or under pyenv." >&2; \
		echo "Install it (pyenv install 3.13, or your system's python3.13 package) and run make build again." >&2; \
		echo "make dev, make test and make demo work with any Python 3.11+." >&2; exit 1; }

build: python313 $(SAM_STAMP) ## sam build with a python3.13 interpreter (its Makefiles ship bytecode; needs python3.13)
	PATH="$$(dirname $$(readlink -f $(PYTHON_313))):$$PATH" $(VENV)/bin/sam build

clean: ## remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .reliability $(TEMPLATE_LINT_VENV)
