# Thin entry points over the Python tools in tools/. Every target creates what it needs.
#   make demo                 run the whole pipeline locally (embedded AWS emulator, no account needed)
#   make test                 every test session (nox)
#   make deploy ENV=<suffix>  package, render variables, policy gate, plan, apply (asks first)
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
BENCH ?=

PROFILE_ARG := $(if $(PROFILE),--profile $(PROFILE),)

.PHONY: help venv test demo package tfvars policy plan deploy apply destroy output rules simulate backtest bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (the Lambda runtime); set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed ## create the project virtualenv

test: venv ## run every test session (SESSIONS="unit tools" for a subset)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/nox $(if $(SESSIONS),--sessions $(SESSIONS),)

demo: venv ## deploy into the embedded emulator and run traffic through the pipeline (ONCE=1 to exit after the summary)
	$(PY) -m tools.emulator.demo $(if $(ONCE),--once,)

package: venv ## build the deterministic Lambda zips into build/dist
	$(PY) -m tools.deploy.package

tfvars: venv ## render build/$(ENV)/terraform.tfvars.json
	$(PY) -m tools.deploy.tfvars --env $(ENV) $(PROFILE_ARG)

policy: venv ## checkov gate over modules/ and terraform/ (own virtualenv, offline)
	$(PY) -m tools.deploy.policy

plan: package tfvars ## terraform plan for ENV, written to build/$(ENV)/plan.tfplan and plan.json
	$(PY) -m tools.deploy.tf plan --env $(ENV)

deploy: package tfvars policy ## plan and apply ENV (asks for confirmation unless AUTO_APPROVE=1)
	$(PY) -m tools.deploy.tf deploy --env $(ENV) $(if $(AUTO_APPROVE),--auto-approve,)

destroy: venv ## destroy ENV (asks for confirmation unless AUTO_APPROVE=1)
	$(PY) -m tools.deploy.tf destroy --env $(ENV) $(if $(AUTO_APPROVE),--auto-approve,)

output: venv ## print the Terraform outputs of ENV
	$(PY) -m tools.deploy.tf output --env $(ENV)

rules: venv ## upload a rules document to ENV's SSM parameter without a redeploy (FILE=path.json)
	$(PY) -m tools.detection.rules --env $(ENV) --file $(FILE)

simulate: venv ## write simulated labeled traffic (see python -m tools.detection.simulate --help)
	$(PY) -m tools.detection.simulate --help

backtest: venv ## backtest the default rules on the labeled training data
	$(PY) -m tools.detection.backtest ../shared/data/sparkov_train_150cards.csv.gz --report build/backtest/report.md

bench: venv ## the benchmark: imports and engine (BENCH=emulator for the local cloud, BENCH=all for every section)
	$(PY) -m tools.bench $(BENCH)

clean: ## remove build outputs and virtualenvs
	rm -rf build .nox $(VENV) .venv-policy
