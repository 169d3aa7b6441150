# Thin entry points over the Python tools in tools/. Every target creates what it needs.
#   make demo                 run the whole pipeline locally (embedded AWS emulator, no account needed)
#   make test                 every test session (nox)
#   make deploy ENV=<suffix>  package, render variables, policy gate, preflight, (account bootstrap),
#                             plan, IAM lint, apply (asks first)
#   make replay ENV=<suffix>  re-drive the failure queues into the pipeline (DRY_RUN=1: only show)
#   make subscriptions ENV=<suffix>  who the alert topics reach (confirm-subscription LINK=... confirms one)
#   make labels ENV=<suffix> FILE=...   chargebacks and disputes into the labels; make lists, make quality
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
ENV    ?= dev
PROFILE ?=
FILE   ?=
ONCE   ?=
AUTO_APPROVE ?=
SESSIONS ?=
SHADOW ?=
DRY_RUN ?=
LOCAL  ?=
ALERT_EMAIL ?=
OPS_EMAIL ?=
SET    ?=
BENCH ?=
SINCE  ?=
UNTIL  ?=
LABELS ?=
EMR    ?=
LIVE   ?=
CONFIRM ?=
LINK ?=
ARGS ?=
CHECK ?=

# tfvars flags: the profile, the alert addresses (kept for later renders) and KEY=VALUE overrides (SET="a=1 b=2").
TFVARS_ARGS := $(if $(PROFILE),--profile $(PROFILE),) $(if $(ALERT_EMAIL),--alert-email $(ALERT_EMAIL),) \
	$(if $(OPS_EMAIL),--ops-email $(OPS_EMAIL),) $(foreach assignment,$(SET),--set $(assignment))
# The AWS provider's lock file for every platform a user or CI runs on (needs the registry).
LOCK_PLATFORMS := linux_amd64 linux_arm64 darwin_amd64 darwin_arm64

.PHONY: help venv test lint fmt demo package tfvars policy preflight plan deploy bootstrap state-bootstrap destroy output subscriptions confirm-subscription rules model train export features train-table train-at-scale replay labels lists quality docs lock simulate backtest bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (the Lambda runtime); set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed ## create the project virtualenv

test: venv ## run every test session (SESSIONS="unit tools" for a subset)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/nox $(if $(SESSIONS),--sessions $(SESSIONS),)

lint: venv ## ruff (lint and format check), mypy and vulture (dead code), as CI's lint session runs them
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/nox --sessions lint

fmt: venv ## format the code: ruff format, ruff's safe fixes, terraform fmt
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	terraform fmt -recursive

demo: venv ## deploy into the embedded emulator and run traffic through the pipeline (ONCE=1 to exit after the summary, PROFILE=prod for the production shape)
	$(PY) -m tools.emulator.demo $(if $(ONCE),--once,) $(if $(PROFILE),--profile $(PROFILE),)

package: venv ## build the deterministic Lambda zips into build/dist
	$(PY) -m tools.deploy.package

tfvars: venv ## render build/$(ENV)/terraform.tfvars.json (ALERT_EMAIL=, OPS_EMAIL=, SET="key=value ...")
	$(PY) -m tools.deploy.tfvars --env $(ENV) $(TFVARS_ARGS)

policy: venv ## checkov gate over modules/ and terraform/ (own virtualenv, offline)
	$(PY) -m tools.deploy.policy

preflight: tfvars ## what would make a deploy of ENV fail, read from the account (LOCAL=1: the emulator)
	$(PY) -m tools.deploy.preflight --env $(ENV) $(if $(LOCAL),--local,)

plan: package tfvars ## terraform plan for ENV into build/$(ENV)/plan.json (LOCAL=1: against the emulator, no account)
	$(PY) -m tools.deploy.tf plan --env $(ENV) $(if $(LOCAL),--local,)

deploy: package tfvars policy ## preflight, account bootstrap if needed, plan, IAM lint, apply ENV (AUTO_APPROVE=1: no questions)
	$(PY) -m tools.deploy.tf deploy --env $(ENV) $(if $(AUTO_APPROVE),--auto-approve,)

bootstrap: tfvars ## apply the account bootstrap (API Gateway's CloudWatch Logs role) for ENV's account and region
	$(PY) -m tools.deploy.tf bootstrap --env $(ENV) $(if $(AUTO_APPROVE),--auto-approve,)

state-bootstrap: venv ## make or check the account's Terraform state bucket (versioned, CMK, TLS only); prints TF_STATE_BUCKET
	$(PY) -m tools.deploy.state_bucket --env $(ENV)

destroy: venv ## destroy ENV (asks unless AUTO_APPROVE=1; staging and prod also need CONFIRM=<its name>)
	$(PY) -m tools.deploy.tf destroy --env $(ENV) $(if $(AUTO_APPROVE),--auto-approve,) $(if $(CONFIRM),--confirm $(CONFIRM),)

output: venv ## print the Terraform outputs of ENV
	$(PY) -m tools.deploy.tf output --env $(ENV)

subscriptions: venv ## each topic's subscriptions and their state; fails while staging/prod alerts reach no one
	$(PY) -m tools.deploy.subscriptions report --env $(ENV)

confirm-subscription: venv ## confirm an e-mail subscription with authenticated unsubscribe (LINK='<link of the e-mail>')
	$(PY) -m tools.deploy.subscriptions confirm --env $(ENV) '$(LINK)'

rules: venv ## upload a rules document to ENV's SSM parameter without a redeploy (FILE=path.json)
	$(PY) -m tools.detection.rules --env $(ENV) --file $(FILE)

model: venv ## validate a model artifact and make it ENV's live model, no redeploy (FILE=path.json, SHADOW=1: as shadow)
	$(PY) -m tools.detection.model --env $(ENV) push $(FILE) $(if $(SHADOW),--shadow,)

train: venv ## train the default model (models/default.json) on the labeled data and simulated traffic
	$(PY) -m tools.detection.train --output models/default.json --report build/train/report.md

export: venv ## DynamoDB's export of ENV's table into its exports bucket, labels beside it, a local copy (SINCE=, UNTIL=, LABELS=file)
	$(PY) -m tools.training.export --env $(ENV) $(if $(SINCE),--since $(SINCE),) $(if $(UNTIL),--until $(UNTIL),) $(if $(LABELS),--labels $(LABELS),)

features: venv ## the feature table of ENV's newest export on Spark local[2] (needs Java; EMR=1: on EMR Serverless)
	$(PY) -m tools.training.features --env $(ENV) $(if $(EMR),--emr,)

train-table: venv ## train on ENV's newest feature table; report beside the live model (LIVE=artifact) and the rules
	$(PY) -m tools.training.fit --env $(ENV) $(if $(LIVE),--live-model $(LIVE),)

train-at-scale: venv ## the whole training path in the local cloud, one command (ENV=train-local unless given)
	$(PY) -m tools.training.local $(if $(filter command line,$(origin ENV)),--env $(ENV),)

replay: venv ## re-drive what ENV's failure and dead-letter queues hold, idempotently (DRY_RUN=1: show only)
	$(PY) -m tools.deploy.replay --env $(ENV) $(if $(DRY_RUN),--dry-run,)

labels: venv ## import chargebacks and disputes into ENV's labels (FILE=x.csv or x.jsonl; CHECK=1: check the file only)
	$(PY) -m tools.cases.labels --env $(ENV) import $(FILE) $(if $(CHECK),--check,)

lists: venv ## ENV's block and allow lists (no ARGS: show them; ARGS="add block device_id d-1 --reason '...'", remove, export, import)
	$(PY) -m tools.cases.lists --env $(ENV) $(or $(ARGS),show)

quality: venv ## precision per rule and model per week and recall from chargebacks, from ENV's cases and labels
	$(PY) -m tools.cases.quality --env $(ENV)

docs: venv ## regenerate the Inputs/Outputs tables of every module README from the .tf files
	$(PY) -m tools.deploy.docs

lock: ## write terraform/.terraform.lock.hcl for linux and darwin, amd64 and arm64 (needs the Terraform registry)
	TF_DATA_DIR=$(CURDIR)/build/lock/.terraform terraform -chdir=terraform get
	TF_DATA_DIR=$(CURDIR)/build/lock/.terraform terraform -chdir=terraform providers lock $(foreach platform,$(LOCK_PLATFORMS),-platform=$(platform))
	@echo "commit it with: git add -f terraform/.terraform.lock.hcl (it is ignored so that local inits never commit a one-platform file)"

simulate: venv ## write simulated labeled traffic (see python -m tools.detection.simulate --help)
	$(PY) -m tools.detection.simulate --help

backtest: venv ## backtest the default rules on the labeled training data
	$(PY) -m tools.detection.backtest ../shared/data/sparkov_train_150cards.csv.gz --report build/backtest/report.md

bench: venv ## the benchmark: imports, engine, model, card-numbers (BENCH=card-numbers for one section, BENCH=emulator for the local cloud, BENCH=peer for the local cloud beside MiniStack, BENCH=all for every section)
	$(PY) -m tools.bench $(BENCH)

clean: ## remove build outputs and virtualenvs
	rm -rf build .nox $(VENV) .venv-policy
