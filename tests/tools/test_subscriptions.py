"""The subscription report and the confirm command (tools/deploy/subscriptions.py) against moto, with
e-mail subscriptions pending until confirmed with the mailed token, as on AWS (tools/emulator/moto_sns.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from tools._cli import ToolError
from tools.deploy import subscriptions, tfvars
from tools.emulator.moto_sns import confirmation_mails, patch_moto_sns

ALERTS, OPS = "fraud alerts", "alarms (ops)"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    patch_moto_sns()
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        alerts = sns.create_topic(Name="fraud-notifications-prod")["TopicArn"]
        ops = sns.create_topic(Name="fraud-ops-prod")["TopicArn"]
        queue = sqs.get_queue_attributes(
            QueueUrl=sqs.create_queue(QueueName="fraud-alert-events-prod")["QueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=alerts, Protocol="sqs", Endpoint=queue)
        for topic, address in ((alerts, "fraud-team@example.com"), (ops, "fraud-ops@example.com")):
            sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
        outputs = {"topic_arn": alerts, "ops_topic_arn": ops, "region": "us-east-1"}
        yield SimpleNamespace(sns=sns, outputs=outputs, alerts=alerts, ops=ops)


def mail_to(address: str):
    from moto.sns.models import sns_backends

    (mail,) = [m for m in confirmation_mails(sns_backends["123456789012"]["us-east-1"]) if m.to == address]
    return mail


def test_the_report_names_each_subscriber_and_its_state_and_a_pending_one_is_not_ready(env):
    state = subscriptions.readiness(env.sns, "prod", env.outputs, [ALERTS, OPS])

    report = str(state)
    assert "fraud-team@example.com: pending confirmation: nothing is delivered to it yet" in report
    assert "fraud-ops@example.com: pending confirmation" in report
    assert "sqs        arn:aws:sqs:us-east-1:123456789012:fraud-alert-events-prod: confirmed" in report
    assert not state.ready and report.endswith(state.problems[-1])
    assert state.problems[0].startswith("fraud alerts: fraud-team@example.com has not confirmed")


def test_confirming_with_the_link_authenticates_unsubscribe_and_makes_the_environment_ready(env):
    for address in ("fraud-team@example.com", "fraud-ops@example.com"):
        arn = subscriptions.confirm(env.sns, mail_to(address).url, [env.alerts, env.ops])
        attributes = env.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert (attributes["PendingConfirmation"], attributes["ConfirmationWasAuthenticated"]) == ("false", "true")

    state = subscriptions.readiness(env.sns, "prod", env.outputs, [ALERTS, OPS])

    assert state.ready, state.problems
    assert "fraud-team@example.com: confirmed, unsubscribe needs AWS authentication" in str(state)


def test_a_bare_token_is_tried_on_each_topic_of_the_environment(env):
    arn = subscriptions.confirm(env.sns, mail_to("fraud-ops@example.com").token, [env.alerts, env.ops])

    assert arn.startswith(env.ops + ":")


def test_a_subscriber_that_confirmed_by_clicking_the_link_is_not_counted_as_reached(env):
    # What the link in the e-mail does: ConfirmSubscription without AuthenticateOnUnsubscribe.
    env.sns.confirm_subscription(TopicArn=env.alerts, Token=mail_to("fraud-team@example.com").token)

    state = subscriptions.readiness(env.sns, "prod", env.outputs, [ALERTS])

    assert "unsubscribe unauthenticated" in state.report
    assert state.problems and "confirmed by clicking the link" in state.problems[0]


def test_a_wrong_token_or_a_link_of_another_environment_is_refused_with_what_to_do(env):
    with pytest.raises(ToolError, match="SNS refused the token"):
        subscriptions.confirm(env.sns, "not-the-token", [env.alerts, env.ops])
    foreign = "https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=arn:aws:sns:us-east-1:1:other&Token=abc"
    with pytest.raises(ToolError, match="not a topic of this environment"):
        subscriptions.confirm(env.sns, foreign, [env.alerts, env.ops])
    with pytest.raises(ToolError, match="no Token"):
        subscriptions.parse_confirmation("https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=x")


def test_only_profiles_that_require_the_addresses_must_reach_people(tmp_path):
    for suffix, profile, expected in (("prod", "prod", [ALERTS, OPS]), ("staging", "staging", [ALERTS, OPS])):
        path = tmp_path / suffix / "terraform.tfvars.json"
        assert tfvars.main(["--env", suffix, "--profile", profile, "--output", str(path)]) == 0
        assert subscriptions.must_reach(suffix, path) == expected
    dev = tmp_path / "pr-42.json"
    dev.write_text(json.dumps({"tags": {"Profile": "dev"}}))
    assert subscriptions.must_reach("pr-42", dev) == []
