"""analyze-patterns: moto for the index reads, baselines and suppression; 100,000 items in memory."""

from __future__ import annotations

import dataclasses
import json
import random
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fraud.alerts import entity_hash
from fraud.analysis import MERCHANT_TOP_N, analyze_window, key_id, merchant_key
from fraud.config import load_config
from fraud.storage import StateStore, TransactionStore, merchant_baseline, window_buckets
from tests.conftest import ROOT
from tests.unit.handler_support import (
    BASE_TS,
    HASH_KEY,
    MINUTE_MS,
    emf_metrics,
    make_transaction,
    queued_alerts,
    scheduled_event,
    table_items,
)

# A handler that raises flushes no metrics; Powertools warns about that, the tests expect it.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

# The run scheduled at 12:10 looks at [12:00, 12:10).
RUN_TIME = "2025-01-15T12:10:00Z"
WINDOW_START = BASE_TS
WINDOW_END = BASE_TS + 10 * MINUTE_MS


KEY = HASH_KEY.encode()


def store_of(aws) -> TransactionStore:
    return TransactionStore(aws.dynamodb, aws.table_name)


def put(aws, *transactions: dict[str, Any], received_at: int | None = None) -> None:
    """Write through the same code path as the API (claim + item with its time bucket); received at
    the transaction's own timestamp unless ``received_at`` says otherwise."""
    store = store_of(aws)
    for number, transaction in enumerate(transactions):
        store.put_transaction(
            transaction, body_hash=f"hash-{number}", received_at=received_at or transaction["timestamp"]
        )


def claim_id(finding_type: str, entity: str) -> str:
    return f"finding#{finding_type}#{entity_hash(KEY, finding_type, entity)}"


def card_testing_burst(count: int = 6, card: str = "tok_tested", at: int = WINDOW_START + MINUTE_MS) -> list[dict]:
    return [
        make_transaction(
            transaction_id=f"ct-{card}-{i}",
            user_id="user-ct",
            card_id=card,
            amount=1,
            device_id="device-ct",
            ip_address="10.0.0.99",
            timestamp=at + i * 1000,
        )
        for i in range(count)
    ]


def shared_device(users: int = 3, at: int = WINDOW_START + 2 * MINUTE_MS) -> list[dict]:
    return [
        make_transaction(
            transaction_id=f"sd-{u}",
            user_id=f"user-sd-{u}",
            card_id=f"tok_sd_{u}",
            device_id="device-shared",
            ip_address=f"10.0.1.{u}",
            timestamp=at + u * 1000,
        )
        for u in range(users)
    ]


def ordinary(count: int, at: int = WINDOW_START) -> list[dict]:
    return [
        make_transaction(
            transaction_id=f"ok-{i}",
            user_id=f"user-ok-{i}",
            card_id=f"tok_ok_{i}",
            device_id=f"device-ok-{i}",
            ip_address=f"10.1.{i // 250}.{i % 250}",
            merchant_id=f"merchant-{i % 7}",
            timestamp=at + (i * 997) % (10 * MINUTE_MS),
        )
        for i in range(count)
    ]


def finding_types(alerts: list[dict]) -> list[str]:
    return sorted(alert["finding"]["type"] for alert in alerts)


def test_findings_of_the_window_are_queued_as_pattern_alerts(analyze_patterns, aws, lambda_context, capsys):
    put(aws, *card_testing_burst(), *shared_device(), *ordinary(20))
    # Just outside the window on both sides: not read.
    put(aws, *card_testing_burst(card="tok_before", at=WINDOW_START - 10_000))
    put(aws, *card_testing_burst(card="tok_after", at=WINDOW_END))

    summary = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)

    assert summary == {
        "window_start": WINDOW_START,
        "window_end": WINDOW_END,
        "items_read": 6 + 3 + 20,
        "findings": 2,
        "alerts_sent": 2,
        "already_sent": 0,
        "suppressed": 0,
    }
    alerts = queued_alerts(aws)
    assert finding_types(alerts) == ["CARD_TESTING", "SHARED_DEVICE"]
    card_alert = next(alert for alert in alerts if alert["finding"]["type"] == "CARD_TESTING")
    assert card_alert["kind"] == "pattern"
    assert card_alert["alert_id"].startswith("pattern-CARD_TESTING-20250115T1210Z-")
    assert "tok_tested" not in json.dumps(alerts)  # card and device identifiers are masked
    assert "device-shared" not in json.dumps(alerts)
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics == {"ItemsRead": 29, "Findings": 2, "PatternAlerts": 2, "Suppressed": 0}


def test_a_persisting_finding_is_alerted_once(analyze_patterns, aws, lambda_context):
    put(aws, *card_testing_burst(at=WINDOW_START + 8 * MINUTE_MS))

    first = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)
    # Five minutes later the burst is still in the window: the same finding, another window.
    second = analyze_patterns.handler(scheduled_event("2025-01-15T12:15:00Z"), lambda_context)

    assert (first["alerts_sent"], first["suppressed"]) == (1, 0)
    assert (second["alerts_sent"], second["suppressed"]) == (0, 1)
    assert finding_types(queued_alerts(aws)) == ["CARD_TESTING"]
    [claim] = [item for item in table_items(aws, aws.state_table_name) if item["id"].startswith("finding#")]
    assert claim["id"] == claim_id("CARD_TESTING", "tok_tested")
    assert claim["sent"] is True
    assert claim["expiration"] - claim["claimed_at"] == 60 * 60  # patterns.suppression_minutes


def test_a_finding_is_alerted_again_once_its_suppression_expired(analyze_patterns, aws, lambda_context):
    put(aws, *card_testing_burst(at=WINDOW_START + 8 * MINUTE_MS))
    analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)
    aws.dynamodb.update_item(  # DynamoDB's TTL deletes late: the condition must not rely on it
        TableName=aws.state_table_name,
        Key={"id": {"S": claim_id("CARD_TESTING", "tok_tested")}},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )

    later = analyze_patterns.handler(scheduled_event("2025-01-15T12:15:00Z"), lambda_context)

    assert later["alerts_sent"] == 1
    assert len(queued_alerts(aws)) == 2


def test_a_retried_run_does_not_send_or_count_twice(analyze_patterns, aws, lambda_context, capsys):
    put(aws, *card_testing_burst(), *shared_device())
    event = scheduled_event(RUN_TIME)

    analyze_patterns.handler(event, lambda_context)
    capsys.readouterr()
    retry = analyze_patterns.handler(event, lambda_context)

    assert finding_types(queued_alerts(aws)) == ["CARD_TESTING", "SHARED_DEVICE"]
    assert (retry["alerts_sent"], retry["already_sent"], retry["suppressed"]) == (0, 2, 0)
    assert "PatternAlerts" not in emf_metrics(capsys.readouterr().out)


def test_sqs_failure_propagates_and_the_retry_sends_what_was_not_sent(
    analyze_patterns, aws, lambda_context, monkeypatch
):
    put(aws, *card_testing_burst(), *shared_device())
    event = scheduled_event(RUN_TIME)
    sqs = analyze_patterns.resources().sqs
    real_send = sqs.send_message
    sent: list[str] = []

    def second_send_throttled(**kwargs: Any) -> dict[str, Any]:
        if sent:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "SendMessage")
        sent.append(json.loads(kwargs["MessageBody"])["alert_id"])
        return real_send(**kwargs)

    monkeypatch.setattr(sqs, "send_message", second_send_throttled)
    with pytest.raises(ClientError, match="ThrottlingException"):
        analyze_patterns.handler(event, lambda_context)
    assert len(queued_alerts(aws)) == 1

    monkeypatch.undo()  # the schedule's async retry runs the same event again
    summary = analyze_patterns.handler(event, lambda_context)

    assert (summary["alerts_sent"], summary["already_sent"], summary["suppressed"]) == (1, 1, 0)
    alerts = queued_alerts(aws)
    assert len(alerts) == 1 and alerts[0]["alert_id"] not in sent


def test_a_finding_whose_alert_was_never_sent_is_not_suppressed(analyze_patterns, aws, lambda_context, monkeypatch):
    """Every retry of the 12:10 run failed to send: the 12:15 run still alerts on the finding."""
    put(aws, *card_testing_burst(at=WINDOW_START + 8 * MINUTE_MS))
    sqs = analyze_patterns.resources().sqs

    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "SendMessage")

    monkeypatch.setattr(sqs, "send_message", throttled)
    for _ in range(3):  # the first attempt and the schedule's 2 retries
        with pytest.raises(ClientError):
            analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)
    assert not [item for item in table_items(aws, aws.state_table_name) if item["id"].startswith("finding#")]

    monkeypatch.undo()
    later = analyze_patterns.handler(scheduled_event("2025-01-15T12:15:00Z"), lambda_context)

    assert (later["alerts_sent"], later["suppressed"]) == (1, 0)
    assert finding_types(queued_alerts(aws)) == ["CARD_TESTING"]


def test_a_finding_claimed_by_a_run_still_sending_is_not_alerted_by_an_overlapping_run(
    analyze_patterns, aws, lambda_context
):
    put(aws, *card_testing_burst(at=WINDOW_START + 8 * MINUTE_MS))
    state = StateStore(aws.dynamodb, aws.state_table_name)
    now = BASE_TS // 1000
    # An earlier run claimed the finding and has not sent its alert yet (its claim is short).
    assert state.claim_finding(
        claim_id("CARD_TESTING", "tok_tested"), alert_id="other-run", now=now, expiration=2**31, sent=False
    )

    summary = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)

    assert (summary["alerts_sent"], summary["suppressed"]) == (0, 1)
    assert queued_alerts(aws) == []


def test_a_transaction_received_late_is_analysed_in_the_window_it_was_received(analyze_patterns, aws, lambda_context):
    """Store-and-forward: a burst that happened two hours ago is uploaded now."""
    put(aws, *card_testing_burst(at=WINDOW_START - 120 * MINUTE_MS), received_at=WINDOW_START + 3 * MINUTE_MS)

    summary = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)

    assert summary["items_read"] == 6
    assert finding_types(queued_alerts(aws)) == ["CARD_TESTING"]


def test_merchant_spike_is_judged_against_earlier_runs(analyze_patterns, aws, lambda_context):
    state = StateStore(aws.dynamodb, aws.state_table_name)
    for minutes_back in (5, 10, 15):  # three earlier runs saw about 8 sales per window at merchant-hot
        state.save_merchant_counts(
            WINDOW_END - minutes_back * MINUTE_MS,
            {merchant_key(KEY, "merchant-hot"): 8, merchant_key(KEY, "merchant-calm"): 3},
            top_n=10,
            expiration=2**31,
            key_id=key_id(KEY),
        )
    spike = [
        make_transaction(
            transaction_id=f"hot-{i}",
            user_id=f"user-hot-{i}",
            card_id=f"tok_hot_{i}",
            device_id=f"device-hot-{i}",
            ip_address=f"10.2.0.{i}",
            merchant_id="merchant-hot",
            timestamp=WINDOW_START + i * 5_000,
        )
        for i in range(60)
    ]
    put(aws, *spike)

    summary = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)

    assert summary["findings"] == 1
    [alert] = queued_alerts(aws)
    assert alert["finding"]["type"] == "MERCHANT_SPIKE"
    assert alert["finding"]["entity"] == "merchant-hot"
    stored = [
        item
        for item in table_items(aws, aws.state_table_name)
        if item["id"] == f"merchant-counts#{key_id(KEY)}#{WINDOW_END}"
    ]
    assert stored[0]["counts"] == {merchant_key(KEY, "merchant-hot"): 60}, "keyed hashes, never the merchant ids"


def test_without_earlier_runs_no_merchant_spike_is_claimed(analyze_patterns, aws, lambda_context):
    put(
        aws,
        *[
            make_transaction(
                transaction_id=f"hot-{i}",
                user_id=f"user-hot-{i}",
                card_id=f"tok_hot_{i}",
                device_id=f"device-hot-{i}",
                ip_address=f"10.2.0.{i}",
                merchant_id="merchant-hot",
                timestamp=WINDOW_START + i * 5_000,
            )
            for i in range(60)
        ],
    )

    assert analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)["findings"] == 0


def test_window_is_read_page_by_page_through_the_index_and_never_scanned(
    analyze_patterns, aws, lambda_context, monkeypatch
):
    put(aws, *ordinary(60))
    client = analyze_patterns.resources().store.client
    real_query = client.query
    queries: list[dict[str, Any]] = []

    def small_pages(**kwargs: Any) -> dict[str, Any]:
        queries.append(kwargs)
        return real_query(**{**kwargs, "Limit": 7})

    def no_scan(**_: Any) -> None:
        raise AssertionError("analyze-patterns must not scan the table")

    monkeypatch.setattr(client, "query", small_pages)
    monkeypatch.setattr(client, "scan", no_scan)

    summary = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)

    assert summary["items_read"] == 60
    assert {query["IndexName"] for query in queries} == {"time_bucket-received_at-index"}
    assert {query["ExpressionAttributeNames"]["#received"] for query in queries} == {"received_at"}
    buckets = {query["ExpressionAttributeValues"][":b"]["S"] for query in queries}
    assert buckets == set(window_buckets(WINDOW_START, WINDOW_END - 1, 4))
    assert len(buckets) == 10 * 4
    assert sum("ExclusiveStartKey" in query for query in queries) > 0  # followed the pages


def test_event_time_not_the_clock_sets_the_window(analyze_patterns, aws, lambda_context):
    put(aws, *ordinary(5))

    late = analyze_patterns.handler(scheduled_event("2025-01-15T12:10:42Z"), lambda_context)  # a late start

    assert (late["window_start"], late["window_end"], late["items_read"]) == (WINDOW_START, WINDOW_END, 5)


def test_invalid_rules_document_keeps_the_last_valid_version(analyze_patterns, aws, lambda_context, capsys, caplog):
    put(aws, *card_testing_burst())
    aws.ssm.put_parameter(
        Name="/fraud-detection/test/rules-test",
        Type="String",
        Overwrite=True,
        Value='{"patterns": {"shared_ip": {"min_users": 0}}}',
    )

    summary = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)

    assert summary["alerts_sent"] == 1  # analysed with version 1, the valid one
    assert emf_metrics(capsys.readouterr().out)["RulesFallback"] == 1
    [logged] = [r for r in caplog.records if r.getMessage().startswith("Rules document version 2 unusable")]
    assert "patterns.shared_ip.min_users" in logged.reason and logged.used == "1"


def test_without_the_hash_key_no_pattern_alert_is_sent(analyze_patterns, aws, lambda_context):
    put(aws, *card_testing_burst())
    aws.ssm.delete_parameter(Name="/fraud-detection/test/hash-key-test")

    with pytest.raises(ClientError, match="ParameterNotFound"):
        analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)
    assert queued_alerts(aws) == []


def test_merchant_baseline_treats_merchants_cut_from_a_full_run_as_its_smallest_count():
    full_run = {"a": 40, "b": 10}  # top_n = 2: merchants below "b" were not stored
    short_run = {"a": 20}  # fewer than top_n: everyone else had no sale

    baseline = merchant_baseline([full_run, short_run], ["a", "c"], top_n=2)

    assert baseline == {"a": 30, "b": 5, "c": 5}
    assert merchant_baseline([], ["a"], top_n=2) == {}


def test_state_store_keeps_the_top_merchants_and_loads_only_runs_that_exist(aws):
    state = StateStore(aws.dynamodb, aws.state_table_name)
    state.save_merchant_counts(
        WINDOW_END - 5 * MINUTE_MS, {"a": 1, "b": 9, "c": 5}, top_n=2, expiration=2**31, key_id="key-1"
    )
    state.save_merchant_counts(WINDOW_END - 10 * MINUTE_MS, {"a": 2}, top_n=2, expiration=2**31, key_id="key-1")
    state.save_merchant_counts(WINDOW_END - 15 * MINUTE_MS, {"a": 7}, top_n=2, expiration=2**31, key_id="key-0")

    runs = state.load_merchant_counts(range(WINDOW_END - 60 * MINUTE_MS, WINDOW_END, MINUTE_MS), key_id="key-1")

    assert sorted(runs, key=len) == [{"a": 2}, {"b": 9, "c": 5}], "runs keyed with another hash key are not read"


# --- 100,000 transactions in one window (in memory) -----------------------------------------------


class InMemoryWindow:
    """Stands in for the time-bucket index: yields a seeded synthetic window lazily, like the pages."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.requested: list[tuple[int, int]] = []

    def window_items(self, start_ms: int, end_ms: int, *, shards: int) -> Iterator[dict[str, Any]]:
        self.requested.append((start_ms, end_ms))
        rng = random.Random(42)
        span = end_ms - start_ms + 1
        planted = {  # one card-testing burst and one IP shared by 6 users, hidden in the crowd
            **{i: {"card_id": "tok_tested", "user_id": "user-ct", "amount": 1} for i in range(1000, 1006)},
            **{i: {"ip_address": "203.0.113.66", "user_id": f"user-ip-{i}"} for i in range(50_000, 50_006)},
        }
        for i in range(self.count):
            user = rng.randrange(20_000)
            item = {
                "transaction_id": f"t{i}",
                "timestamp": start_ms + rng.randrange(span),
                "user_id": f"u{user}",
                "amount": round(rng.uniform(6, 400), 2),
                "currency": "USD",
                "merchant_id": f"m{rng.randrange(3_000)}",
                "merchant_category": "grocery_pos",
                "card_id": f"tok_{user}",
                "device_id": f"dev_{user}",
                "ip_address": f"10.{user // 65_536}.{user // 256 % 256}.{user % 256}",
                "country": "US",
            }
            item.update(planted.get(i, {}))
            yield item


def test_100k_transactions_in_one_window_in_bounded_memory(analyze_patterns, aws, lambda_context, monkeypatch):
    window = InMemoryWindow(100_000)
    resources = dataclasses.replace(analyze_patterns.resources(), store=window)
    monkeypatch.setattr(analyze_patterns, "resources", lambda: resources)

    tracemalloc.start()
    try:
        summary = analyze_patterns.handler(scheduled_event(RUN_TIME), lambda_context)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert window.requested == [(WINDOW_START, WINDOW_END - 1)]
    assert summary["items_read"] == 100_000
    assert finding_types(queued_alerts(aws)) == ["CARD_TESTING", "SHARED_IP"]
    # Aggregates of 20,000 users, not 100,000 items (holding the items alone would take > 100 MB).
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


# --- bounds and clocks at scale -------------------------------------------------------------------

MERCHANT_ID_MAX = json.loads((ROOT / "lambdas" / "fraud" / "transaction.schema.json").read_text())["properties"][
    "merchant_id"
]["maxLength"]
ITEM_LIMIT = 400 * 1024  # DynamoDB's item size limit


def item_size_bound(value: Any, name: str = "") -> int:
    """An upper bound of an attribute's size as DynamoDB counts it: the UTF-8 bytes of its name and of a
    string, at most 21 bytes for a number, a map's 3 bytes plus 1 per element and its content."""
    size = len(name.encode("utf-8"))
    if isinstance(value, str):
        return size + len(value.encode("utf-8"))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return size + 21
    if isinstance(value, dict):
        return size + 3 + sum(1 + item_size_bound(v, k) for k, v in value.items())
    raise TypeError(type(value))


def test_the_stored_merchant_counts_stay_far_below_the_item_limit_at_the_worst_case(aws):
    """1,000 merchants (MERCHANT_TOP_N) whose ids are the longest the schema accepts, in 4-byte characters."""
    merchants = [chr(0x20000 + i) * MERCHANT_ID_MAX for i in range(MERCHANT_TOP_N + 1)]
    assert {len(m) for m in merchants} == {MERCHANT_ID_MAX} and len(merchants[0].encode()) == 4 * MERCHANT_ID_MAX
    items = [dict(make_transaction(transaction_id=f"m-{i}"), merchant_id=m) for i, m in enumerate(merchants)]
    state = StateStore(aws.dynamodb, aws.state_table_name)

    analyze_window(
        items,
        state,
        load_config(),
        start_ms=WINDOW_START,
        end_ms=WINDOW_END,
        clock_ms=lambda: WINDOW_END,
        send=lambda alert: True,
        hash_key=KEY,
        environment="test",
        pending_seconds=60,
    )

    [stored] = [item for item in table_items(aws, aws.state_table_name) if item["id"].startswith("merchant-counts#")]
    assert len(stored["counts"]) == MERCHANT_TOP_N
    assert {len(k) for k in stored["counts"]} == {24}, "fixed-length keyed hashes"
    assert item_size_bound({k: int(v) for k, v in stored["counts"].items()}, "counts") < 50 * 1024
    raw = {m: 10**20 for m in merchants[:MERCHANT_TOP_N]}
    assert item_size_bound(raw, "counts") > ITEM_LIMIT, "the same counts keyed by merchant id would not fit"


def test_a_claim_is_checked_against_the_time_it_is_made_not_the_start_of_a_long_scan(aws):
    state = StateStore(aws.dynamodb, aws.state_table_name)
    clock = [WINDOW_END]
    # Another run's short claim on the finding: it expires 100 s after this run starts.
    claim = claim_id("CARD_TESTING", "tok_tested")
    state.claim_finding(
        claim, alert_id="other-run", now=WINDOW_END // 1000, expiration=WINDOW_END // 1000 + 100, sent=False
    )

    def window() -> Iterator[dict[str, Any]]:
        yield from card_testing_burst()
        clock[0] += 200_000  # reading the window took 200 s: the other claim has expired meanwhile

    run = analyze_window(
        window(),
        state,
        load_config(),
        start_ms=WINDOW_START,
        end_ms=WINDOW_END,
        clock_ms=lambda: clock[0],
        send=lambda alert: True,
        hash_key=KEY,
        environment="test",
        pending_seconds=60,
    )

    assert [outcome for _, _, outcome in run.outcomes] == ["sent"]
    [stored] = [item for item in table_items(aws, aws.state_table_name) if item["id"] == claim]
    assert stored["claimed_at"] == (WINDOW_END + 200_000) // 1000
    assert stored["expiration"] - stored["claimed_at"] == 60 * 60
