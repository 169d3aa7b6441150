"""Fixtures the tool tests share: moto behind the local cloud's gateway, with every patch installed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from tools.emulator.localaws import LocalAWS


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    """One local AWS per test module."""
    with LocalAWS() as running:
        yield running


@pytest.fixture(scope="module")
def aws_client(aws: LocalAWS) -> Callable[[str], Any]:
    """A boto3 client of ``service`` on that local AWS."""

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=aws.endpoint,
            region_name=aws.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    return client
