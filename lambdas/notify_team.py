"""Publish each alert from ``fraud-alerts-<suffix>`` to the team's SNS topic (SQS batch).

Every record is handled on its own: a failing record (an SNS fault, a body that is not an alert) is
reported in ``batchItemFailures`` and comes back after the visibility timeout, up to the redrive
count, then lands in the DLQ; the others are deleted. Publishing is idempotent on ``alert_id``, so a
redelivered message whose alert was already published is not published again. Delivery is at least
once: a sandbox that dies after ``Publish`` and before the idempotency record is saved publishes the
alert again on the next delivery (docs/configuration.md "Failures"); the e-mail and the message
attributes carry the alert id, so a duplicate is recognisable.

Every alert opens a case (``CASES_TABLE_NAME``, ``fraud.cases``) before it is published, so the link the e-mail
carries (``CONSOLE_URL``/cases/<alert id>) always leads to a case. The open is conditional on the alert id: a
redelivered alert never opens a second case; a failed open fails the record, which comes back and is retried.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import handler_kit as kit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from fraud.alerts import case_url, email_subject, sns_message
from fraud.cases import CaseStore, case_from_alert

# No ``logger=`` argument: BatchProcessor only takes one since Powertools 3.3x, newer than the pinned
# layer (AWSLambdaPowertoolsPythonV3 version 27), where it is a TypeError at import. Failures are
# logged by ``notify`` instead.
processor = BatchProcessor(event_type=EventType.SQS)

# Longer than a message can live on the queue and its redrives (visibility 360 s x 3 receives), and
# than the DLQ retention (14 days), so a message redriven from the DLQ is not published twice either.
PUBLISH_DEDUP_SECONDS = 15 * 24 * 3600
ALERT_KINDS = ("transaction", "pattern")


class InvalidAlert(ValueError):
    """The message body is not an alert of docs/contracts.md "Messages"."""


@dataclass(frozen=True)
class Settings:
    state_table_name: str
    topic_arn: str
    cases_table_name: str | None = None
    console_url: str | None = None


@dataclass(frozen=True)
class Resources:
    sns: Any
    topic_arn: str
    publish_once: kit.Once
    cases: CaseStore | None
    console_url: str | None


@functools.cache
def resources() -> Resources:
    """The SNS client and the idempotent publisher, created on first use from the environment."""
    settings = kit.load_settings(Settings)
    return Resources(
        sns=kit.client("sns"),
        topic_arn=settings.topic_arn,
        publish_once=kit.Once(
            publish,
            key="alert_id",
            key_prefix="notify-team#publish",
            table_name=settings.state_table_name,
            expires_after_seconds=PUBLISH_DEDUP_SECONDS,
        ),
        cases=CaseStore(kit.client("dynamodb"), settings.cases_table_name) if settings.cases_table_name else None,
        console_url=settings.console_url,
    )


def publish(alert: dict[str, Any], *, subject: str, message: str) -> str:
    """Runs once per alert id (the idempotency record remembers it was published)."""
    res = resources()
    response = res.sns.publish(
        TopicArn=res.topic_arn,
        Subject=subject,
        Message=message,
        MessageStructure="json",
        MessageAttributes={
            name: {"DataType": "String", "StringValue": str(alert[name])} for name in ("alert_id", "decision", "kind")
        },
    )
    kit.count("Published")
    kit.logger.info("Alert published", extra={"alert_id": alert["alert_id"], "message_id": response["MessageId"]})
    return str(response["MessageId"])


def _shown(value: Any) -> str:
    """A value from a message body, as it may appear in a log line: short, never whole."""
    text = repr(value)
    return text if len(text) <= 32 else text[:29] + "..."


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
        raise InvalidAlert(f"kind must be one of {', '.join(ALERT_KINDS)}, got {_shown(alert.get('kind'))}")
    if not isinstance(alert.get("decision"), str):
        raise InvalidAlert("decision is missing or not a string")
    return alert


def notify(record: Any) -> str:
    """Publish the alert in one SQS record; returns the SNS message id (or the one of a former publish)."""
    res = resources()
    try:
        alert = parse_alert(record.body)
        case = case_from_alert(alert, opened_at=int(time.time() * 1000))
        subject, message = email_subject(alert), sns_message(alert, case_url(res.console_url, alert))
    except (KeyError, TypeError, ValueError) as error:  # InvalidAlert is a ValueError
        reason = (
            str(error)
            if isinstance(error, InvalidAlert)
            else f"cannot format the alert: {type(error).__name__} {_shown(str(error))}"
        )
        kit.logger.error("Invalid alert message", extra={"message_id": record.message_id, "reason": reason})
        kit.count("InvalidAlerts")
        raise InvalidAlert(reason) from error
    with kit.logger.append_context_keys(alert_id=alert["alert_id"]):
        try:
            if res.cases is not None and res.cases.open(case):
                kit.count("CasesOpened")
                kit.logger.info("Case opened", extra={"case_id": case.case_id, "score": case.score})
            message_id, _ = res.publish_once(alert, subject=subject, message=message)
        except Exception:
            kit.logger.exception("Alert not published", extra={"message_id": record.message_id})
            raise
        return str(message_id)


@kit.entry_point
def handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
    return process_partial_response(event=event, record_handler=notify, processor=processor, context=context)
