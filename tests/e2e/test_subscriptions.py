"""Alerts that provably reach someone, on the deployed pipeline: who each topic reaches, and confirming.

The prod deployments subscribe the fraud team and ops addresses (the local cloud's ``EXAMPLE_ADDRESSES``),
as staging and prod must. SNS creates those subscriptions pending and mails a confirmation link (the
local cloud keeps the mail); the report (``make subscriptions``) names each pending subscriber and
says the environment is not ready; the confirm command (``make confirm-subscription``) confirms with
authenticated unsubscribe; check-subscriptions, run by its schedule, counts them for the alarm.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tools.deploy import subscriptions
from tools.emulator.demo import EXAMPLE_ADDRESSES

if TYPE_CHECKING:
    from tests.e2e.conftest import Pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.terraform, pytest.mark.slow, pytest.mark.deployments("prod-eventbridge")]

MUST_REACH = ["fraud alerts", "alarms (ops)"]


def test_the_report_names_every_subscriber_of_both_topics_with_its_state(pipeline: Pipeline) -> None:
    sns = pipeline.session.client("sns")

    state = subscriptions.readiness(sns, pipeline.outputs["suffix"], pipeline.outputs, MUST_REACH)

    queue = pipeline.outputs["alert_subscription_queue_url"].rsplit("/", 1)[-1]
    assert any(line.strip().startswith("sqs") and queue in line for line in state.report.splitlines())
    if pipeline.local:
        # As deployed: SNS mailed both addresses and nobody confirmed yet, so nothing reaches them.
        for address in (EXAMPLE_ADDRESSES["alert_email"], EXAMPLE_ADDRESSES["ops_email"]):
            assert f"{address}: pending confirmation: nothing is delivered to it yet" in state.report
        assert not state.ready and len(state.problems) == 2


def test_a_pending_subscriber_confirmed_with_the_mailed_link_is_reached_and_counted(local_pipeline: Pipeline) -> None:
    pipeline, cloud = local_pipeline, local_pipeline.cloud
    sns = pipeline.session.client("sns")
    address = EXAMPLE_ADDRESSES["alert_email"]
    before = subscriptions.readiness(sns, pipeline.outputs["suffix"], pipeline.outputs, MUST_REACH)
    assert f"{address}: pending confirmation: nothing is delivered to it yet" in before.report
    assert not before.ready and any(address in problem for problem in before.problems)
    mails = [m for m in cloud.mail() if m.to == address and m.topic_arn == pipeline.outputs["topic_arn"]]
    assert mails and "Confirm subscription" in mails[-1].text

    arn = subscriptions.confirm(sns, mails[-1].url, [pipeline.outputs["topic_arn"], pipeline.outputs["ops_topic_arn"]])

    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attributes["ConfirmationWasAuthenticated"] == "true"
    after = subscriptions.readiness(sns, pipeline.outputs["suffix"], pipeline.outputs, MUST_REACH)
    assert f"{address}: confirmed, unsubscribe needs AWS authentication" in after.report
    assert [p for p in after.problems if p.startswith("fraud alerts")] == []

    # check-subscriptions, as its hourly schedule runs it, counts the confirmed one and the pending one.
    cloud.trigger_schedule("check-subscriptions")
    assert cloud.wait_idle(quiet_s=0.5, timeout_s=60)
    name = pipeline.outputs["function_names"]["check-subscriptions"]
    log = (cloud.log_dir / f"{name}.log").read_text()
    checked = [json.loads(line) for line in log.splitlines() if '"Subscriptions checked"' in line]
    assert checked, "check-subscriptions ran and logged its counts"
    topics = checked[-1]["topics"]
    assert topics[pipeline.outputs["topic_arn"].rsplit(":", 1)[-1]]["confirmed"] >= 1
    assert topics[pipeline.outputs["ops_topic_arn"].rsplit(":", 1)[-1]] == {"confirmed": 0, "pending": 1}
