"""Scheduled check that the topics which must reach people have someone who confirmed.

An e-mail subscription is created pending, and SNS delivers nothing to it until the recipient
confirms the mail; a deploy succeeds all the same. Every hour this function counts, for each topic
in ``WATCHED_TOPIC_ARNS`` (those the environment subscribed an address to), its e-mail subscriptions
that are confirmed and those still pending (``ListSubscriptionsByTopic``: a pending one is listed
with the ARN "PendingConfirmation"), and publishes them as metrics with the topic's name as a
dimension: ``ConfirmedEmailSubscriptions`` (an alarm fires while it is below 1, or missing) and
``PendingEmailSubscriptions``. Counts only: no address reaches a log line or a metric.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import handler_kit as kit
from aws_lambda_powertools import single_metric
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

EMAIL_PROTOCOLS = ("email", "email-json")
PENDING = "PendingConfirmation"


@dataclass(frozen=True)
class Settings:
    watched_topic_arns: str = ""  # comma-separated topic ARNs; empty: nothing to watch


@dataclass(frozen=True)
class TopicCount:
    topic_name: str
    confirmed: int
    pending: int


@functools.cache
def settings() -> Settings:
    return kit.load_settings(Settings)


def watched_topics(value: str) -> list[str]:
    return [arn.strip() for arn in value.split(",") if arn.strip()]


def count_email_subscriptions(sns: Any, topic_arn: str) -> TopicCount:
    confirmed = pending = 0
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for subscription in page["Subscriptions"]:
            if subscription["Protocol"] not in EMAIL_PROTOCOLS:
                continue
            if subscription["SubscriptionArn"] == PENDING:
                pending += 1
            else:
                confirmed += 1
    return TopicCount(topic_arn.rsplit(":", 1)[-1], confirmed, pending)


def publish(count: TopicCount) -> None:
    for name, value in (("ConfirmedEmailSubscriptions", count.confirmed), ("PendingEmailSubscriptions", count.pending)):
        with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
            metric.add_dimension(name="TopicName", value=count.topic_name)


@kit.entry_point(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sns = kit.client("sns")
    counts = [count_email_subscriptions(sns, arn) for arn in watched_topics(settings().watched_topic_arns)]
    kit.count("TopicsChecked", len(counts))
    for count in counts:
        publish(count)
        if count.confirmed == 0:
            kit.logger.warning(
                "No confirmed e-mail subscriber: SNS delivers this topic's messages to no one by e-mail",
                extra={"topic": count.topic_name, "pending": count.pending},
            )
    summary = {c.topic_name: {"confirmed": c.confirmed, "pending": c.pending} for c in counts}
    kit.logger.info("Subscriptions checked", extra={"topics": summary})
    return summary
