"""Fixtures of the console tests: the handler fixtures of tests/unit (the function environment, fresh clients,
the Lambda context, the card-number check on every log line), and the local deployment of the e2e tests."""

from __future__ import annotations

from tests.unit.conftest import _fresh_clients, function_env, kit, lambda_context, log_lines  # noqa: F401
