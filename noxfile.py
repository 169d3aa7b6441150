"""Test sessions. `make test` runs them all inside the project virtualenv that make created.

Sessions run with ``venv_backend="none"``: make owns the environment (one install from pyproject.toml),
nox only names and orders the suites. The policy gate builds its own virtualenv (checkov's pins clash
with ours), see tools/deploy/policy.py.
"""

import sys

import nox

nox.options.sessions = ["lint", "unit", "tools", "terraform", "policy", "quality", "training", "e2e", "console"]
nox.options.error_on_external_run = False

# The interpreter nox itself runs in: the project virtualenv, whether nox is called through make,
# an activated venv or .venv/bin/nox directly.
PYTHON = sys.executable


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff (lint and format check), mypy and vulture (dead code), configured in pyproject.toml: the habits CI runs."""
    session.run(PYTHON, "-m", "ruff", "check", ".")
    session.run(PYTHON, "-m", "ruff", "format", "--check", ".")
    session.run(PYTHON, "-m", "mypy")
    session.run(PYTHON, "-m", "vulture")


@nox.session(venv_backend="none")
def unit(session: nox.Session) -> None:
    """Fraud engine, validation and the four handlers against moto."""
    session.run(PYTHON, "-m", "pytest", "tests/unit", *session.posargs)


@nox.session(venv_backend="none")
def tools(session: nox.Session) -> None:
    """Packaging, tfvars rendering and the other Python tools."""
    session.run(PYTHON, "-m", "pytest", "tests/tools", *session.posargs)


@nox.session(venv_backend="none")
def terraform(session: nox.Session) -> None:
    """terraform fmt, validate, plan assertions over the profiles and switches (parliament over each
    plan's IAM policies), input validation."""
    session.run(PYTHON, "-m", "pytest", "tests/terraform", "tests/modules", *session.posargs)


@nox.session(venv_backend="none")
def policy(session: nox.Session) -> None:
    """The checkov gate (fails on any failed check); `-- --plan build/<suffix>/plan.json` adds parliament."""
    session.run(PYTHON, "-m", "tools.deploy.policy", *session.posargs)


@nox.session(venv_backend="none")
def quality(session: nox.Session) -> None:
    """Simulator and backtest: detection quality of the default rules."""
    session.run(PYTHON, "-m", "pytest", "tests/quality", *session.posargs)


@nox.session(venv_backend="none")
def training(session: nox.Session) -> None:
    """Training at scale: labels, the export, the Spark feature job (local[2]) and its parity with the engine,
    training on the feature table, the EMR Serverless submission, the local path end to end."""
    session.run(PYTHON, "-m", "pytest", "tests/training", *session.posargs)


@nox.session(venv_backend="none")
def e2e(session: nox.Session) -> None:
    """The deployed pipeline end to end in the local emulator."""
    session.run(PYTHON, "-m", "pytest", "tests/e2e", *session.posargs)


@nox.session(venv_backend="none")
def console(session: nox.Session) -> None:
    """The fraud team's loop: cases, lists, labels, quality, the console and its authorizer against moto, then the
    whole stack in the local cloud and a headless Chromium driving the console (skips without Chromium on a
    user's machine, fails in CI)."""
    session.run(PYTHON, "-m", "pytest", "tests/console", *session.posargs)
