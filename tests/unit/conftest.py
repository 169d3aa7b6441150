"""Fixtures for the handler tests: the function environment, moto resources, the handler modules.

Builders and helpers the tests import are in ``handler_support.py`` (a conftest is not importable
reliably when several test folders each have one).
"""

from __future__ import annotations

import importlib
import json
import logging
import uuid
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from tests.console.support import create_case_tables
from tests.unit.handler_support import (
    DEFAULT_RULES,
    FUNCTION_ENV,
    HASH_KEY,
    REGION,
    SUFFIX,
    FakeLambdaContext,
    LineCapture,
    create_state_table,
    create_transactions_table,
    holds_a_test_card_number,
)
from tools.emulator import moto_dynamodb

# The local cloud's DynamoDB (moto with the patches the emulator runs): a transaction undone by a log of
# the items it wrote rather than a deep copy of every table it touches, so a test with a few thousand
# items of history does not spend seconds per write copying them.
moto_dynamodb.install()


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext(aws_request_id=str(uuid.uuid4()))


@pytest.fixture(autouse=True)
def function_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment Terraform gives the functions, with fake credentials (nothing reaches AWS)."""
    for name, value in FUNCTION_ENV.items():
        monkeypatch.setenv(name, value)
    return FUNCTION_ENV


@pytest.fixture(autouse=True)
def _fresh_clients(function_env: dict[str, str]) -> Iterator[None]:
    """Clients (and what they cached) must not leak from one test into the next. The kit is imported
    once the function environment is set, as Lambda sets it before importing a handler."""
    import handler_kit

    handler_kit.reset()
    yield
    handler_kit.reset()


@pytest.fixture
def kit(_fresh_clients: None) -> ModuleType:
    """``handler_kit``, imported once the function environment is set (its Logger and Metrics read it)."""
    return importlib.import_module("handler_kit")


@pytest.fixture(autouse=True)
def log_lines(_fresh_clients: None) -> Iterator[list[str]]:
    """Every log line a test makes the functions write; after each test of the suite, none may hold a
    card number (the tests send them in every field a client controls)."""
    import handler_kit

    capture = LineCapture()
    capture.setFormatter(handler_kit.logger.registered_formatter)
    target = logging.getLogger(handler_kit.logger.name)
    target.addHandler(capture)
    try:
        yield capture.lines
    finally:
        target.removeHandler(capture)
    leaked = [line for line in capture.lines if holds_a_test_card_number(line)]
    assert not leaked, f"{len(leaked)} log line(s) hold a card number, e.g. {leaked[0][:300]}"


# --- AWS resources (moto) ---------------------------------------------------------------------


@pytest.fixture
def aws(function_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """Every resource the functions use, in moto, plus clients to look at them."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        ssm = boto3.client("ssm", region_name=REGION)

        stream_arn = create_transactions_table(dynamodb, function_env["TABLE_NAME"])
        create_state_table(dynamodb, function_env["STATE_TABLE_NAME"])
        create_case_tables(dynamodb)
        dlq_url = sqs.create_queue(QueueName=f"fraud-alerts-dlq-{SUFFIX}")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName=f"fraud-alerts-{SUFFIX}",
            Attributes={
                "VisibilityTimeout": "360",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
            },
        )["QueueUrl"]
        topic_arn = sns.create_topic(Name=f"fraud-notifications-{SUFFIX}")["TopicArn"]
        subscriber_url = sqs.create_queue(QueueName=f"fraud-alert-subscriber-{SUFFIX}")["QueueUrl"]
        subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=subscriber_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
        ssm.put_parameter(Name=function_env["RULES_PARAMETER_NAME"], Type="String", Value=DEFAULT_RULES.read_text())
        ssm.put_parameter(Name=function_env["HASH_KEY_PARAMETER_NAME"], Type="SecureString", Value=HASH_KEY)
        monkeypatch.setenv("ALERTS_QUEUE_URL", queue_url)
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        yield SimpleNamespace(
            dynamodb=dynamodb,
            sqs=sqs,
            sns=sns,
            ssm=ssm,
            stream_arn=stream_arn,
            queue_url=queue_url,
            dlq_url=dlq_url,
            topic_arn=topic_arn,
            subscriber_url=subscriber_url,
            table_name=function_env["TABLE_NAME"],
            state_table_name=function_env["STATE_TABLE_NAME"],
        )


# --- handler modules ----------------------------------------------------------------------------


def _fresh(module_name: str) -> ModuleType:
    """Import a handler (after the environment is set) and drop the resources it cached."""
    module = importlib.import_module(module_name)
    for attribute in vars(module).values():
        if hasattr(attribute, "cache_clear") and getattr(attribute, "__module__", None) == module_name:
            attribute.cache_clear()
    return module


@pytest.fixture
def process_transaction(aws: SimpleNamespace) -> Iterator[ModuleType]:
    module = _fresh("process_transaction")
    yield module
    _fresh("process_transaction")


@pytest.fixture
def detect_fraud(aws: SimpleNamespace) -> Iterator[ModuleType]:
    module = _fresh("detect_fraud")
    yield module
    _fresh("detect_fraud")


@pytest.fixture
def notify_team(aws: SimpleNamespace) -> Iterator[ModuleType]:
    module = _fresh("notify_team")
    yield module
    _fresh("notify_team")


@pytest.fixture
def analyze_patterns(aws: SimpleNamespace) -> Iterator[ModuleType]:
    module = _fresh("analyze_patterns")
    yield module
    _fresh("analyze_patterns")
