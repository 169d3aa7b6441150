"""Score each new transaction against the user's recent history; queue an alert when suspicious.

Two delivery shapes, one code path per record:

* an EventBridge event (``source = fraud.transactions``) whose ``detail`` is one DynamoDB stream
  record (the Pipe route): a failure raises, so Lambda's async retries and then the on-failure
  destination take over;
* a DynamoDB stream batch (``Records``, the direct event source mapping): a failing record is reported
  in ``batchItemFailures`` and the others go through.

Only an INSERT of a ``kind = "transaction"`` item is scored; anything else is logged and counted as
skipped. The alert is sent through an idempotent function keyed on its ``alert_id``, so a transaction
scored twice (a retry, a replay) alerts at most once.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraud.alerts import transaction_alert
from fraud.config import ConfigError, load_config
from fraud.engine import Engine
from fraud.scoring import RecentlyScored, score
from fraud.storage import TransactionStore, deserialize_item, json_default

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# No ``logger=`` argument: BatchProcessor only takes one since Powertools 3.3x, newer than the pinned
# layer (AWSLambdaPowertoolsPythonV3 version 27), where it is a TypeError at import. Failures are
# logged by the record handler instead.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

EVENT_SOURCE = "fraud.transactions"
# How long a sent alert id is remembered. Longer than every redelivery path: stream retention (24 h),
# EventBridge and Lambda async retries (up to 24 h with the on-failure destination).
ALERT_DEDUP_SECONDS = 3 * 24 * 3600
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="alert_id", raise_on_no_idempotency_key=True, expires_after_seconds=ALERT_DEDUP_SECONDS
)


@dataclass(frozen=True)
class Resources:
    store: TransactionStore
    sqs: Any
    environment: str
    rules_parameter_name: str | None
    rules_cache_seconds: int
    send_alert_once: Any
    recent: RecentlyScored  # what this sandbox scored lately: the user index lags behind the writes


@functools.cache
def resources() -> Resources:
    """Clients and settings, created on first use from the function's environment."""
    sqs = boto3.client("sqs")
    queue_url = os.environ["ALERTS_QUEUE_URL"]

    def send_alert(*, alert: dict[str, Any]) -> str:
        """Runs once per alert id (the idempotency record remembers it was sent)."""
        response = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(alert, default=json_default))
        metrics.add_metric(name="Alerts", unit=MetricUnit.Count, value=1)
        logger.info("Alert sent", extra={"alert_id": alert["alert_id"], "message_id": response["MessageId"]})
        return response["MessageId"]

    persistence = DynamoDBPersistenceLayer(table_name=os.environ["STATE_TABLE_NAME"])
    return Resources(
        store=TransactionStore(
            boto3.client("dynamodb"),
            os.environ["TABLE_NAME"],
            user_index_name=os.environ.get("USER_INDEX_NAME", "user_id-timestamp-index"),
        ),
        sqs=sqs,
        environment=os.environ.get("ENVIRONMENT", ""),
        rules_parameter_name=os.environ.get("RULES_PARAMETER_NAME") or None,
        rules_cache_seconds=int(os.environ.get("RULES_CACHE_SECONDS", "300")),
        send_alert_once=idempotent_function(
            send_alert,
            data_keyword_argument="alert",
            persistence_store=persistence,
            config=IDEMPOTENCY,
            key_prefix="detect-fraud#alert",
        ),
        recent=RecentlyScored(),
    )


def load_engine(res: Resources) -> Engine:
    """The engine for the current rules document (Parameter Store, cached ``RULES_CACHE_SECONDS``).

    An invalid document raises ConfigError: the invocation fails, so nothing is scored with rules
    nobody wrote, the records are retried and the error-rate alarm fires.
    """
    document = None
    if res.rules_parameter_name:
        document = parameters.get_parameter(res.rules_parameter_name, max_age=res.rules_cache_seconds, transform="json")
    try:
        return _engine_for(json.dumps(document, sort_keys=True))
    except ConfigError as error:
        logger.error("Invalid rules document", extra={"parameter": res.rules_parameter_name, "reason": str(error)})
        raise


@functools.lru_cache(maxsize=4)
def _engine_for(document_json: str) -> Engine:
    return Engine(load_config(json.loads(document_json)))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    IDEMPOTENCY.register_lambda_context(context)
    res = resources()
    if "Records" in event:
        engine = load_engine(res)

        def record_handler(record: DynamoDBRecord) -> str:
            try:
                return score_stream_record(record.raw_event, engine=engine, res=res)
            except Exception:
                logger.exception("Stream record failed", extra={"event_id": record.event_id})
                raise

        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    if event.get("source") == EVENT_SOURCE and isinstance(event.get("detail"), dict):
        logger.set_correlation_id(event.get("id"))
        return {"result": score_stream_record(event["detail"], engine=load_engine(res), res=res)}
    raise ValueError(
        f"unsupported event: expected an EventBridge event with source {EVENT_SOURCE!r} or a DynamoDB stream batch"
    )


@tracer.capture_method
def score_stream_record(record: dict[str, Any], *, engine: Engine, res: Resources) -> str:
    """Score one stream record; return ``"skipped"`` or the decision (``allow``, ``review``, ``alert``).

    Errors propagate: the caller (the batch processor or the Lambda async retry) owns the retry.
    """
    event_name = record.get("eventName")
    image = deserialize_item(record.get("dynamodb", {}).get("NewImage", {}))
    if event_name != "INSERT" or image.get("kind") != "transaction":
        logger.info(
            "Stream record skipped",
            extra={"event_name": event_name, "kind": image.get("kind"), "event_id": record.get("eventID")},
        )
        metrics.add_metric(name="Skipped", unit=MetricUnit.Count, value=1)
        return "skipped"

    scored = score(image, store=res.store, engine=engine, recent=res.recent)
    transaction, assessment = scored.transaction, scored.assessment
    metrics.add_metric(name="Scored", unit=MetricUnit.Count, value=1)
    logger.info(
        "Transaction scored",
        extra={
            "transaction_id": transaction["transaction_id"],
            "score": assessment.score,
            "decision": assessment.decision,
            "model_version": assessment.model_version,
            "rules_version": assessment.rules_version,
            "history_items": scored.history_items,
        },
    )
    if not assessment.suspicious:
        return assessment.decision

    metrics.add_metric(name="Suspicious", unit=MetricUnit.Count, value=1)
    alert = transaction_alert(transaction, assessment, environment=res.environment, now_ms=int(time.time() * 1000))
    res.send_alert_once(alert=alert)
    return assessment.decision


__all__ = ["handler", "score_stream_record"]
