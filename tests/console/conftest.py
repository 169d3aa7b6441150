"""Fixtures of the console tests: the handler fixtures of tests/unit (the function environment, fresh clients,
the Lambda context, the card-number check on every log line), and the local deployment of the e2e tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.clock import NIGHT, pinned
from tests.unit.conftest import _fresh_clients, function_env, kit, lambda_context, log_lines  # noqa: F401

SUFFIX = "e2e-console"


def pytest_configure(config: pytest.Config) -> None:
    # The e2e builders these tests reuse (tests/e2e/test_pipeline.py) mark their module with the e2e deployments;
    # registered here too, for a run of tests/console alone.
    config.addinivalue_line(
        "markers", "deployments(*names): the e2e deployments (tests/e2e/conftest.py DEPLOYMENTS) a module runs on"
    )


@pytest.fixture(scope="module")
def deployment(terraform_bin: str) -> Iterator[SimpleNamespace]:
    """The whole stack in the local cloud (environment e2e-console, the local profile): the pipeline, the console
    behind its authorizer, and a demo analyst and admin in its user pool."""
    from tests.e2e.conftest import Pipeline
    from tools._cli import BUILD
    from tools.emulator import LocalCloud
    from tools.emulator.demo import create_console_users, deploy
    from tools.emulator.localaws import LocalAWS

    with pinned(NIGHT), LocalAWS() as aws:
        outputs, _ = deploy(aws, "eventbridge", suffix=SUFFIX)
        with LocalCloud(
            aws, outputs, log_dir=BUILD / SUFFIX / "logs", time_scale=120.0, schedule_time_scale=None
        ) as cloud:
            users = {
                group: (username, password)
                for username, group, password in create_console_users(cloud.session, outputs)
            }
            yield SimpleNamespace(
                aws=aws,
                cloud=cloud,
                outputs=outputs,
                pipeline=Pipeline(outputs, cloud.session, cloud),
                console=cloud.local_url(outputs["console_url"]),
                analyst=users["analysts"],
                admin=users["admins"],
            )
            assert not cloud.errors(), cloud.errors()


def emails(deployment: SimpleNamespace) -> list[tuple[str, str]]:
    from tools.emulator.demo import email_texts

    return email_texts(deployment.cloud)


def wait_for(check: Any, timeout_s: float = 60.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:.0f} s")
        time.sleep(0.5)
