"""Scheduled pattern analysis: what single transactions cannot show, over the last window.

The window is the ``ANALYSIS_WINDOW_MINUTES`` before the schedule event's ``time`` (not the clock, so
a delayed or retried run looks at the window it was scheduled for), on the time transactions were
*received*: one uploaded long after its own timestamp is still analysed. Transactions are read
through the time-bucket index, one query per minute bucket and shard, several buckets at once, page by
page, and streamed into the analyzer (``fraud.analysis``) in the order of a sequential read: memory is
bounded by its aggregates and a few pages, never by the number of transactions, and nothing scans the
table. While a change of ``TIME_BUCKET_SHARDS`` is recent (``SHARD_MEMORY_MS``), the larger of the counts
is read (``fraud.storage.StateStore.shards_to_read``). Each finding is alerted once while it persists,
and only claimed as alerted once its alert was sent.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import handler_kit as kit
from aws_lambda_powertools.logging import correlation_paths

from fraud.analysis import analyze_window
from fraud.config import EngineConfig
from fraud.storage import MINUTE_MS, StateStore, TransactionStore

ALERT_DEDUP_SECONDS = 2 * 24 * 3600
# How long a run keeps reading the shards of a former, larger TIME_BUCKET_SHARDS: longer than a run's
# window, the deploy that changes the count, and the asynchronous retries of a scheduled run (6 h at most).
SHARD_MEMORY_MS = 24 * 3600 * 1000
HASH_KEY_CACHE_SECONDS = 3600
MIN_HASH_KEY_CHARACTERS = 32


@dataclass(frozen=True)
class Settings:
    table_name: str
    state_table_name: str
    alerts_queue_url: str
    hash_key_parameter_name: str
    time_bucket_index_name: str = "time_bucket-received_at-index"
    time_bucket_shards: int = field(default=4, metadata={"min": 1})
    environment: str = ""
    rules_parameter_name: str | None = None
    rules_cache_seconds: int = field(default=300, metadata={"min": 0})
    analysis_window_minutes: int = field(default=10, metadata={"min": 1})


@dataclass(frozen=True)
class Resources:
    settings: Settings
    store: TransactionStore
    state: StateStore
    sqs: Any
    rules: kit.CachedDocument[EngineConfig]
    hash_key: kit.CachedDocument[bytes]
    alerts: kit.IdempotentSender


def hash_key_of(value: str | None) -> bytes:
    """The HMAC key in the SecureString (its UTF-8 bytes); at least 32 characters."""
    if value is None or len(value) < MIN_HASH_KEY_CHARACTERS:
        raise ValueError(f"the hash key parameter holds fewer than {MIN_HASH_KEY_CHARACTERS} characters")
    return value.encode("utf-8")


@functools.cache
def resources() -> Resources:
    """Clients and settings, created on first use from the function's environment."""
    settings = kit.load_settings(Settings)
    dynamodb = kit.client("dynamodb")
    res = Resources(
        settings=settings,
        store=TransactionStore(
            dynamodb,
            settings.table_name,
            time_bucket_index_name=settings.time_bucket_index_name,
            time_bucket_shards=settings.time_bucket_shards,
        ),
        state=StateStore(dynamodb, settings.state_table_name),
        sqs=kit.client("sqs"),
        rules=kit.rules_document(settings.rules_parameter_name, settings.rules_cache_seconds),
        hash_key=kit.CachedDocument(
            settings.hash_key_parameter_name,
            hash_key_of,
            max_age=HASH_KEY_CACHE_SECONDS,
            fallback_metric="HashKeyFallback",
            label="Hash key",
            decrypt=True,
            history=False,
        ),
        alerts=kit.IdempotentSender(
            settings.alerts_queue_url,
            table_name=settings.state_table_name,
            key_prefix="analyze-patterns#alert",
            expires_after_seconds=ALERT_DEDUP_SECONDS,
            metric="PatternAlerts",
        ),
    )
    kit.DocumentGroup(res.rules, res.hash_key)  # one GetParameters for both (decrypted: the key is a SecureString)
    return res


def clock_ms() -> int:
    """The wall clock in epoch milliseconds (read for each claim; tests replace it)."""
    return int(time.time() * 1000)


def window_end_ms(event_time: str) -> int:
    """The event's ``time`` (ISO 8601, UTC) as epoch ms, down to the minute the window ends at."""
    end = int(datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp() * 1000)
    return end - end % MINUTE_MS


@kit.entry_point(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    res = resources()
    config, rules_version, _ = res.rules.get()
    hash_key, _, _ = res.hash_key.get()
    end = window_end_ms(event["time"])
    start = end - res.settings.analysis_window_minutes * MINUTE_MS
    shards = res.state.shards_to_read(res.settings.time_bucket_shards, now_ms=clock_ms(), remember_ms=SHARD_MEMORY_MS)
    run = analyze_window(
        res.store.window_items(start, end - 1, shards=shards),
        res.state,
        config,
        start_ms=start,
        end_ms=end,
        clock_ms=clock_ms,
        send=res.alerts.send,
        hash_key=hash_key,
        environment=res.settings.environment,
        # A run's claim on a finding before its alert is sent lasts as long as the run can.
        pending_seconds=context.get_remaining_time_in_millis() // 1000 + 60,
    )
    for alert_id, finding_type, outcome in run.outcomes:
        if outcome != "sent":
            kit.logger.info(f"Finding {outcome.replace('_', ' ')}", extra={"alert_id": alert_id, "type": finding_type})
    summary = run.summary()
    kit.count("ItemsRead", run.items_read)
    kit.count("Findings", run.findings)
    kit.count("Suppressed", summary["suppressed"])
    kit.logger.info("Window analyzed", extra={**summary, "rules_version": rules_version, "shards_read": shards})
    return summary
