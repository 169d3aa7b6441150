"""Score each new transaction against the user's recent history; queue an alert when suspicious.

Two delivery shapes, one code path per record:

* an EventBridge event (``source = fraud.transactions``) whose ``detail`` is one DynamoDB stream
  record (the Pipe route): a failure raises, so Lambda's async retries and then the on-failure
  destination take over;
* a DynamoDB stream batch (``Records``, the direct event source mapping): a failing record is reported
  in ``batchItemFailures`` and the others go through.

Only an INSERT of a ``kind = "transaction"`` item is scored; anything else is logged and counted as
skipped. Each transaction is scored once (``Once`` on its id): a redelivery, a retry or a replay of a
transaction already scored returns its decision without scoring, counting or alerting again. The
alert itself is sent once per ``alert_id``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import handler_kit as kit

from fraud.alerts import transaction_alert
from fraud.config import load_config
from fraud.engine import Engine
from fraud.history import history_from_items
from fraud.storage import TransactionStore, deserialize_item, transaction_of

EVENT_SOURCE = "fraud.transactions"
# How long a sent alert id and a scored transaction id are remembered. Longer than every redelivery
# path: stream retention (24 h), EventBridge and Lambda async retries (up to 24 h with the on-failure
# destination), and a replay of the failure queues (make replay) within the stream's 24 h.
ALERT_DEDUP_SECONDS = 3 * 24 * 3600
SCORED_DEDUP_SECONDS = ALERT_DEDUP_SECONDS


@dataclass(frozen=True)
class Settings:
    table_name: str
    state_table_name: str
    alerts_queue_url: str
    user_index_name: str = "user_id-timestamp-index"
    environment: str = ""
    rules_parameter_name: str | None = None
    rules_cache_seconds: int = field(default=300, metadata={"min": 0})


@dataclass(frozen=True)
class Resources:
    settings: Settings
    store: TransactionStore
    sqs: Any
    rules: kit.CachedDocument[Engine]
    alerts: kit.IdempotentSender
    score_once: kit.Once


@functools.cache
def resources() -> Resources:
    """Clients and settings, created on first use from the function's environment."""
    settings = kit.load_settings(Settings)
    return Resources(
        settings=settings,
        store=TransactionStore(kit.client("dynamodb"), settings.table_name, user_index_name=settings.user_index_name),
        sqs=kit.client("sqs"),
        rules=kit.CachedDocument(
            settings.rules_parameter_name,
            lambda text: Engine(load_config(text)),
            max_age=settings.rules_cache_seconds,
            fallback_metric="RulesFallback",
            label="Rules document",
        ),
        alerts=kit.IdempotentSender(
            settings.alerts_queue_url,
            table_name=settings.state_table_name,
            key_prefix="detect-fraud#alert",
            expires_after_seconds=ALERT_DEDUP_SECONDS,
            metric="Alerts",
        ),
        score_once=kit.Once(
            score_transaction,
            key="transaction_id",
            key_prefix="detect-fraud#scored",
            table_name=settings.state_table_name,
            expires_after_seconds=SCORED_DEDUP_SECONDS,
        ),
    )


@functools.cache
def batch_processor() -> Any:
    """Powertools' batch processor, built on the first stream batch (the Pipe route never needs it).

    No ``logger=`` argument: BatchProcessor only takes one since Powertools 3.3x, newer than the
    pinned layer (AWSLambdaPowertoolsPythonV3 version 27), where it is a TypeError. Failures are
    logged by the record handler instead."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.DynamoDBStreams)


@kit.entry_point
def handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
    res = resources()
    engine, rules_version, _ = res.rules.get()
    if "Records" in event:
        from aws_lambda_powertools.utilities.batch import process_partial_response

        def record_handler(record: Any) -> str:
            try:
                return score_stream_record(record.raw_event, engine=engine, rules_version=rules_version, res=res)
            except Exception:
                kit.logger.exception("Stream record failed", extra={"event_id": record.event_id})
                raise

        return process_partial_response(
            event=event, record_handler=record_handler, processor=batch_processor(), context=context
        )
    if event.get("source") == EVENT_SOURCE and isinstance(event.get("detail"), dict):
        kit.logger.set_correlation_id(event.get("id"))
        return {"result": score_stream_record(event["detail"], engine=engine, rules_version=rules_version, res=res)}
    raise ValueError(
        f"unsupported event: expected an EventBridge event with source {EVENT_SOURCE!r} or a DynamoDB stream batch"
    )


def score_stream_record(record: dict[str, Any], *, engine: Engine, rules_version: str, res: Resources) -> str:
    """Score one stream record; return ``"skipped"`` or the decision (``allow``, ``review``, ``alert``).

    Errors propagate: the caller (the batch processor or the Lambda async retry) owns the retry.
    """
    event_name = record.get("eventName")
    image = deserialize_item(record.get("dynamodb", {}).get("NewImage", {}))
    if event_name != "INSERT" or image.get("kind") != "transaction":
        kit.logger.info(
            "Stream record skipped",
            extra={"event_name": event_name, "kind": image.get("kind"), "event_id": record.get("eventID")},
        )
        kit.count("Skipped")
        return "skipped"
    transaction = transaction_of(image)
    decision, scored_now = res.score_once(transaction, engine=engine, rules_version=rules_version, res=res)
    if not scored_now:
        kit.logger.info(
            "Transaction already scored", extra={"transaction_id": transaction["transaction_id"], "decision": decision}
        )
        kit.count("AlreadyScored")
    return str(decision)


def score_transaction(transaction: dict[str, Any], *, engine: Engine, rules_version: str, res: Resources) -> str:
    """The scoring itself: the user's history, the engine, the alert. Runs once per transaction id."""
    config = engine.config
    timestamp = int(transaction["timestamp"])
    items = res.store.user_history(
        transaction["user_id"],
        before_ms=timestamp,
        window_ms=config.history_window_ms,
        max_items=config.history_max_items,
    )
    history = history_from_items(
        items, config.history_window_ms, config.history_max_items, timestamp, exclude_id=transaction["transaction_id"]
    )
    assessment = engine.assess(transaction, history)
    kit.count("Scored")
    kit.logger.info(
        "Transaction scored",
        extra={
            "transaction_id": transaction["transaction_id"],
            "score": assessment.score,
            "decision": assessment.decision,
            "rules_version": rules_version,
            "history_items": len(items),
        },
    )
    if not assessment.suspicious:
        return assessment.decision

    kit.count("Suspicious")
    alert = transaction_alert(
        transaction, assessment, environment=res.settings.environment, now_ms=int(time.time() * 1000)
    )
    res.alerts.send(alert)
    return assessment.decision


__all__ = ["handler", "score_stream_record", "score_transaction"]
