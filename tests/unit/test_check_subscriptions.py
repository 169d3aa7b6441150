"""check-subscriptions against moto, with e-mail subscriptions pending until confirmed (as on AWS).

moto confirms e-mail subscriptions at once; the emulator's SNS patch (tools/emulator/moto_sns.py)
keeps them pending until ConfirmSubscription with the mailed token, which is what the function
counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tests.unit.conftest import _fresh
from tests.unit.handler_support import emf_metrics, scheduled_event
from tools.emulator.moto_sns import confirmation_mails, patch_moto_sns

RUN_TIME = "2026-03-01T12:00:00Z"


@pytest.fixture
def check_subscriptions(aws: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    patch_moto_sns()
    ops = aws.sns.create_topic(Name="fraud-ops-test")["TopicArn"]
    monkeypatch.setenv("WATCHED_TOPIC_ARNS", f"{aws.topic_arn},{ops}")
    aws.ops_topic_arn = ops
    module = _fresh("check_subscriptions")
    yield module
    _fresh("check_subscriptions")


def metrics_by_topic(out: str) -> dict[tuple[str, str], float]:
    """Each EMF metric of the run, by (metric, TopicName)."""
    found = {}
    for line in out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "TopicName" in document:
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    found[(metric["Name"], document["TopicName"])] = sum(value) if isinstance(value, list) else value
    return found


def confirm(aws: SimpleNamespace, address: str, authenticate: bool = True) -> None:
    from moto.sns.models import sns_backends

    (mail,) = [m for m in confirmation_mails(sns_backends["123456789012"]["us-east-1"]) if m.to == address]
    aws.sns.confirm_subscription(
        TopicArn=mail.topic_arn, Token=mail.token, AuthenticateOnUnsubscribe="true" if authenticate else "false"
    )


def run(module: ModuleType, context: Any, capsys: pytest.CaptureFixture[str]) -> tuple[dict, dict]:
    summary = module.handler(scheduled_event(RUN_TIME), context)
    return summary, metrics_by_topic(capsys.readouterr().out)


def test_a_pending_subscriber_counts_as_no_one_until_confirmed(check_subscriptions, aws, lambda_context, capsys):
    aws.sns.subscribe(TopicArn=aws.topic_arn, Protocol="email", Endpoint="fraud-team@example.com")

    summary, metrics = run(check_subscriptions, lambda_context, capsys)

    assert summary["fraud-notifications-test"] == {"confirmed": 0, "pending": 1}
    assert metrics[("ConfirmedEmailSubscriptions", "fraud-notifications-test")] == 0
    assert metrics[("PendingEmailSubscriptions", "fraud-notifications-test")] == 1

    confirm(aws, "fraud-team@example.com")
    summary, metrics = run(check_subscriptions, lambda_context, capsys)

    assert summary["fraud-notifications-test"] == {"confirmed": 1, "pending": 0}
    assert metrics[("ConfirmedEmailSubscriptions", "fraud-notifications-test")] == 1


def test_other_protocols_do_not_count_as_someone_reading_the_topic(check_subscriptions, aws, lambda_context, capsys):
    # The notifications topic always has its SQS subscription (downstream processing, not a person).
    summary, metrics = run(check_subscriptions, lambda_context, capsys)

    assert summary == {
        "fraud-notifications-test": {"confirmed": 0, "pending": 0},
        "fraud-ops-test": {"confirmed": 0, "pending": 0},
    }
    assert metrics[("ConfirmedEmailSubscriptions", "fraud-ops-test")] == 0


def test_a_topic_without_a_confirmed_subscriber_is_logged_without_the_addresses(
    check_subscriptions, aws, lambda_context, capsys, log_lines
):
    aws.sns.subscribe(TopicArn=aws.ops_topic_arn, Protocol="email", Endpoint="fraud-ops@example.com")

    run(check_subscriptions, lambda_context, capsys)

    warnings = [json.loads(line) for line in log_lines if "No confirmed e-mail subscriber" in line]
    assert {w["topic"] for w in warnings} == {"fraud-notifications-test", "fraud-ops-test"}
    assert not [line for line in log_lines if "@example.com" in line], "counts only, no address"


def test_no_watched_topic_means_nothing_to_count(aws, lambda_context, capsys, monkeypatch):
    monkeypatch.setenv("WATCHED_TOPIC_ARNS", "")
    module = _fresh("check_subscriptions")

    summary = module.handler(scheduled_event(RUN_TIME), lambda_context)

    assert summary == {}
    assert emf_metrics(capsys.readouterr().out) == {"TopicsChecked": 0}
