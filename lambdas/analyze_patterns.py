"""Scheduled pattern analysis: what single transactions cannot show, over the last window.

The window is the ``ANALYSIS_WINDOW_MINUTES`` before the schedule event's ``time`` (not the clock, so
a delayed or retried run looks at the window it was scheduled for). Transactions are read through the
time-bucket index, one minute bucket and shard at a time, page by page, and streamed into the
analyzer: memory is bounded by the analyzer's aggregates, never by the number of transactions, and
nothing scans the table.

Each finding becomes one alert while it persists: a conditional put in the state table claims the
finding for ``patterns.suppression_minutes``; later runs that see it again count it as suppressed.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from fraud.alerts import pattern_alert
from fraud.config import ConfigError, EngineConfig, load_config
from fraud.patterns import PatternAnalyzer
from fraud.storage import (
    MINUTE_MS,
    StateStore,
    TransactionStore,
    finding_id,
    json_default,
    merchant_baseline,
)

logger = Logger()
tracer = Tracer()
metrics = Metrics()

MERCHANT_TOP_N = 1000  # merchants kept in each run's stored counts
BASELINE_MINUTES = 60  # how far back the merchant baseline looks for earlier runs' counts
ALERT_DEDUP_SECONDS = 2 * 24 * 3600
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="alert_id", raise_on_no_idempotency_key=True, expires_after_seconds=ALERT_DEDUP_SECONDS
)


@dataclass(frozen=True)
class Resources:
    store: TransactionStore
    state: StateStore
    sqs: Any
    environment: str
    rules_parameter_name: str | None
    rules_cache_seconds: int
    window_minutes: int
    send_alert_once: Any


@functools.cache
def resources() -> Resources:
    """Clients and settings, created on first use from the function's environment."""
    dynamodb = boto3.client("dynamodb")
    sqs = boto3.client("sqs")
    queue_url = os.environ["ALERTS_QUEUE_URL"]

    def send_alert(*, alert: dict[str, Any]) -> str:
        """Runs once per alert id (the idempotency record remembers it was sent)."""
        response = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(alert, default=json_default))
        metrics.add_metric(name="PatternAlerts", unit=MetricUnit.Count, value=1)
        logger.info("Pattern alert sent", extra={"alert_id": alert["alert_id"], "message_id": response["MessageId"]})
        return response["MessageId"]

    window_minutes = int(os.environ.get("ANALYSIS_WINDOW_MINUTES", "10"))
    if window_minutes < 1:
        raise ValueError(f"ANALYSIS_WINDOW_MINUTES must be at least 1, got {window_minutes}")
    return Resources(
        store=TransactionStore(
            dynamodb,
            os.environ["TABLE_NAME"],
            time_bucket_index_name=os.environ.get("TIME_BUCKET_INDEX_NAME", "time_bucket-timestamp-index"),
            time_bucket_shards=int(os.environ.get("TIME_BUCKET_SHARDS", "4")),
        ),
        state=StateStore(dynamodb, os.environ["STATE_TABLE_NAME"]),
        sqs=sqs,
        environment=os.environ.get("ENVIRONMENT", ""),
        rules_parameter_name=os.environ.get("RULES_PARAMETER_NAME") or None,
        rules_cache_seconds=int(os.environ.get("RULES_CACHE_SECONDS", "300")),
        window_minutes=window_minutes,
        send_alert_once=idempotent_function(
            send_alert,
            data_keyword_argument="alert",
            persistence_store=DynamoDBPersistenceLayer(table_name=os.environ["STATE_TABLE_NAME"]),
            config=IDEMPOTENCY,
            key_prefix="analyze-patterns#alert",
        ),
    )


def load_rules(res: Resources) -> EngineConfig:
    """The rules document from Parameter Store (cached); an invalid one raises ConfigError, loudly."""
    document = None
    if res.rules_parameter_name:
        document = parameters.get_parameter(res.rules_parameter_name, max_age=res.rules_cache_seconds, transform="json")
    try:
        return _config_for(json.dumps(document, sort_keys=True))
    except ConfigError as error:
        logger.error("Invalid rules document", extra={"parameter": res.rules_parameter_name, "reason": str(error)})
        raise


@functools.lru_cache(maxsize=4)
def _config_for(document_json: str) -> EngineConfig:
    return load_config(json.loads(document_json))


def window_end_ms(event_time: str) -> int:
    """The event's ``time`` (ISO 8601, UTC) as epoch ms, down to the minute the window ends at."""
    end = int(datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp() * 1000)
    return end - end % MINUTE_MS


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    IDEMPOTENCY.register_lambda_context(context)
    res = resources()
    config = load_rules(res)
    end = window_end_ms(event["time"])
    start = end - res.window_minutes * MINUTE_MS
    summary = analyze_window(res, config, start_ms=start, end_ms=end)
    logger.info("Window analyzed", extra=summary)
    return summary


@tracer.capture_method
def analyze_window(res: Resources, config: EngineConfig, *, start_ms: int, end_ms: int) -> dict[str, Any]:
    """Read ``[start_ms, end_ms)``, alert on each new finding; return what was done."""
    analyzer = PatternAnalyzer(config)
    items_read = 0
    for item in res.store.window_items(start_ms, end_ms - 1):
        analyzer.add(item)
        items_read += 1
    metrics.add_metric(name="ItemsRead", unit=MetricUnit.Count, value=items_read)

    counts = analyzer.merchant_counts()
    earlier_runs = res.state.load_merchant_counts(range(end_ms - BASELINE_MINUTES * MINUTE_MS, end_ms, MINUTE_MS))
    baseline = merchant_baseline(earlier_runs, counts, top_n=MERCHANT_TOP_N)
    res.state.save_merchant_counts(
        end_ms, counts, top_n=MERCHANT_TOP_N, expiration=end_ms // 1000 + BASELINE_MINUTES * 60 + 3600
    )

    findings = analyzer.findings(baseline)
    metrics.add_metric(name="Findings", unit=MetricUnit.Count, value=len(findings))
    now_ms = int(time.time() * 1000)
    suppression_seconds = config.patterns.suppression_ms // 1000
    sent = suppressed = 0
    for finding in findings:
        alert = pattern_alert(finding, window_end_ms=end_ms, environment=res.environment, now_ms=now_ms)
        claimed = res.state.claim_finding(
            finding_id(finding.type, finding.entity),
            alert_id=alert["alert_id"],
            now=now_ms // 1000,
            expiration=now_ms // 1000 + suppression_seconds,
        )
        if not claimed:
            suppressed += 1
            logger.info("Finding suppressed", extra={"alert_id": alert["alert_id"], "type": finding.type})
            continue
        res.send_alert_once(alert=alert)
        sent += 1
    metrics.add_metric(name="Suppressed", unit=MetricUnit.Count, value=suppressed)
    return {
        "window_start": start_ms,
        "window_end": end_ms,
        "items_read": items_read,
        "findings": len(findings),
        "alerts_sent": sent,
        "suppressed": suppressed,
    }
