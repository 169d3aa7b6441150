"""Publish each alert from ``fraud-alerts-<suffix>`` to the team's SNS topic (SQS batch).

Every record is handled on its own: a failing record (an SNS fault, a body that is not an alert) is
reported in ``batchItemFailures`` and comes back after the visibility timeout, up to the redrive
count, then lands in the DLQ; the others are deleted. Publishing is idempotent on ``alert_id``, so a
redelivered message whose alert was already published is not published again.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraud.alerts import email_subject, sns_message

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# No ``logger=`` argument: BatchProcessor only takes one since Powertools 3.3x, newer than the pinned
# layer (AWSLambdaPowertoolsPythonV3 version 27), where it is a TypeError at import. Failures are
# logged by ``notify`` instead.
processor = BatchProcessor(event_type=EventType.SQS)

# Longer than a message can live on the queue and its redrives (visibility 360 s x 3 receives), and
# than the DLQ retention (14 days), so a message redriven from the DLQ is not published twice either.
PUBLISH_DEDUP_SECONDS = 15 * 24 * 3600
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="alert_id", raise_on_no_idempotency_key=True, expires_after_seconds=PUBLISH_DEDUP_SECONDS
)
ALERT_KINDS = ("transaction", "pattern")


class InvalidAlert(ValueError):
    """The message body is not an alert of docs/contracts.md "Messages"."""


@dataclass(frozen=True)
class Resources:
    sns: Any
    publish_once: Any


@functools.cache
def resources() -> Resources:
    """The SNS client and the idempotent publisher, created on first use from the environment."""
    sns = boto3.client("sns")
    topic_arn = os.environ["TOPIC_ARN"]

    def publish(*, alert: dict[str, Any], subject: str, message: str) -> str:
        """Runs once per alert id (the idempotency record remembers it was published)."""
        response = sns.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=message,
            MessageStructure="json",
            MessageAttributes={
                "decision": {"DataType": "String", "StringValue": str(alert["decision"])},
                "kind": {"DataType": "String", "StringValue": str(alert["kind"])},
            },
        )
        metrics.add_metric(name="Published", unit=MetricUnit.Count, value=1)
        logger.info("Alert published", extra={"alert_id": alert["alert_id"], "message_id": response["MessageId"]})
        return response["MessageId"]

    persistence = DynamoDBPersistenceLayer(table_name=os.environ["STATE_TABLE_NAME"])
    return Resources(
        sns=sns,
        publish_once=idempotent_function(
            publish,
            data_keyword_argument="alert",
            persistence_store=persistence,
            config=IDEMPOTENCY,
            key_prefix="notify-team#publish",
        ),
    )


def parse_alert(body: str) -> dict[str, Any]:
    """The alert in an SQS message body; InvalidAlert says why it is not one."""
    try:
        alert = json.loads(body)
    except ValueError as error:
        raise InvalidAlert(f"body is not JSON: {error}") from None
    if not isinstance(alert, dict):
        raise InvalidAlert(f"body must be a JSON object, got {type(alert).__name__}")
    alert_id = alert.get("alert_id")
    if not isinstance(alert_id, str) or not alert_id:
        raise InvalidAlert("alert_id is missing or not a non-empty string")
    if alert.get("kind") not in ALERT_KINDS:
        raise InvalidAlert(f"kind must be one of {', '.join(ALERT_KINDS)}, got {alert.get('kind')!r}")
    if not isinstance(alert.get("decision"), str):
        raise InvalidAlert("decision is missing or not a string")
    return alert


def notify(record: SQSRecord) -> str:
    """Publish the alert in one SQS record; returns the SNS message id (or the one of a former publish)."""
    try:
        alert = parse_alert(record.body)
        subject, message = email_subject(alert), sns_message(alert)
    except (KeyError, TypeError, ValueError) as error:  # InvalidAlert is a ValueError
        reason = str(error) if isinstance(error, InvalidAlert) else f"cannot format the alert: {error!r}"
        logger.error("Invalid alert message", extra={"message_id": record.message_id, "reason": reason})
        metrics.add_metric(name="InvalidAlerts", unit=MetricUnit.Count, value=1)
        raise InvalidAlert(reason) from error
    with logger.append_context_keys(alert_id=alert["alert_id"]):
        try:
            return resources().publish_once(alert=alert, subject=subject, message=message)
        except Exception:
            logger.exception("Alert not published", extra={"message_id": record.message_id})
            raise


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    IDEMPOTENCY.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=notify, processor=processor, context=context)
