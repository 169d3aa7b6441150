"""Reading an analysis window at scale: buckets read concurrently but handed out in order, in bounded
memory; a failed query fails the run; the shard count a window is read with while a change is recent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fraud.prefetch import in_order
from fraud.storage import StateStore, TransactionStore, window_buckets
from tests.unit.handler_support import BASE_TS, MINUTE_MS, make_transaction, scheduled_event

HOUR_MS = 60 * MINUTE_MS
WAIT_S = 10  # how long a source waits for another before the test gives up (never reached when correct)


def pages_of(name: str, count: int) -> list[list[str]]:
    return [[f"{name}.{page}.{n}" for n in range(3)] for page in range(count)]


# --- fraud.prefetch.in_order -------------------------------------------------------------------


def test_pages_come_out_in_source_order_though_later_sources_finish_first():
    """Source 0 cannot finish before source 2 has: read one after the other, this would never end."""
    third_done = threading.Event()
    started: list[int] = []

    def source(index: int) -> Iterator[list[str]]:
        started.append(index)
        if index == 0 and not third_done.wait(WAIT_S):
            raise AssertionError("source 2 never ran while source 0 was running: the sources are not concurrent")
        yield from pages_of(f"s{index}", 4)
        if index == 2:
            third_done.set()

    pages = list(in_order([lambda i=i: source(i) for i in range(6)], workers=3, ahead=4))

    assert pages == [page for i in range(6) for page in pages_of(f"s{i}", 4)]
    assert sorted(started) == list(range(6))


def test_at_most_workers_times_ahead_plus_one_pages_are_held_whatever_the_number_of_pages():
    produced = 0
    lock = threading.Lock()

    def source(index: int) -> Iterator[int]:
        nonlocal produced
        for page in range(1000):
            with lock:
                produced += 1
            yield index * 1000 + page

    reading = in_order([lambda i=i: source(i) for i in range(5)], workers=3, ahead=2)
    assert next(reading) == 0
    # Let the readers run until they cannot go further (they wait for room), then count.
    settled = -1
    while settled != produced:
        settled = produced
        threading.Event().wait(0.2)
    held = produced - 1  # pages produced and not consumed

    assert held <= 3 * (2 + 1), f"{held} pages held: the readers ran ahead without bound"
    assert list(reading) == list(range(1, 5000)), "and the rest comes out, in order"


def test_the_first_error_of_any_source_fails_the_read_at_once_and_stops_the_others():
    stopped = threading.Event()
    first_taken = threading.Event()
    endless_pages = 0

    def slow_first() -> Iterator[str]:
        yield "first"
        stopped.wait(WAIT_S)  # holds the consumer on source 0 while source 1 fails
        yield "never seen"

    def failing() -> Iterator[str]:
        yield "ok"
        first_taken.wait(WAIT_S)
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Query")

    def endless() -> Iterator[str]:
        nonlocal endless_pages
        while endless_pages < 100_000:
            endless_pages += 1
            yield "more"

    reading = in_order([slow_first, failing, endless], workers=3, ahead=1)
    assert next(reading) == "first"
    first_taken.set()
    with pytest.raises(ClientError, match="ThrottlingException"):
        next(reading)  # raised while source 0 is still running: nobody waits for it
    stopped.set()

    assert endless_pages < 100, "the other sources stopped with the failure"


def test_a_consumer_that_stops_early_stops_the_readers():
    pages = 0

    def endless() -> Iterator[int]:
        nonlocal pages
        while pages < 100_000:
            pages += 1
            yield pages

    reading = in_order([endless, endless], workers=2, ahead=2)
    assert next(reading) == 1
    reading.close()

    assert pages < 100


def test_bad_pool_settings_are_refused():
    with pytest.raises(ValueError, match="workers and ahead must be >= 1"):
        list(in_order([lambda: iter([1])], workers=0, ahead=1))
    assert list(in_order([], workers=2, ahead=2)) == []


# --- TransactionStore.window_items ---------------------------------------------------------------


def sequential_read(store: TransactionStore, start_ms: int, end_ms: int, shards: int) -> list[str]:
    """The reference: every bucket one after the other, every page in order (one query at a time)."""
    ids = []
    for bucket in window_buckets(start_ms, end_ms, shards):
        request: dict[str, Any] = {
            "TableName": store.table_name,
            "IndexName": store.time_bucket_index_name,
            "KeyConditionExpression": "time_bucket = :b AND received_at BETWEEN :from AND :to",
            "ExpressionAttributeValues": {
                ":b": {"S": bucket},
                ":from": {"N": str(start_ms)},
                ":to": {"N": str(end_ms)},
            },
            "Limit": 3,
        }
        while True:
            page = store.client.query(**request)
            ids += [item["transaction_id"]["S"] for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return ids


def write(store: TransactionStore, count: int) -> None:
    for i in range(count):
        received = BASE_TS + (i * 7_919) % (10 * MINUTE_MS)
        store.put_transaction(
            make_transaction(transaction_id=f"w-{i}", timestamp=received), body_hash=f"h{i}", received_at=received
        )


def small_pages(store: TransactionStore, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    real_query = store.client.query
    queries: list[dict[str, Any]] = []
    lock = threading.Lock()

    def query(**kwargs: Any) -> dict[str, Any]:
        with lock:
            queries.append(kwargs)
        return real_query(**{**kwargs, "Limit": 3})

    monkeypatch.setattr(store.client, "query", query)
    return queries


def test_the_window_is_read_concurrently_in_the_order_of_a_sequential_read(aws, monkeypatch):
    store = TransactionStore(aws.dynamodb, aws.table_name, time_bucket_shards=6, window_readers=4)
    write(store, 60)
    expected = sequential_read(store, BASE_TS, BASE_TS + 10 * MINUTE_MS - 1, 6)
    queries = small_pages(store, monkeypatch)

    ids = [item["transaction_id"] for item in store.window_items(BASE_TS, BASE_TS + 10 * MINUTE_MS - 1)]

    assert ids == expected and len(ids) == 60
    assert {q["ExpressionAttributeValues"][":b"]["S"] for q in queries} == set(
        window_buckets(BASE_TS, BASE_TS + 10 * MINUTE_MS - 1, 6)
    )
    assert sum("ExclusiveStartKey" in q for q in queries) > 0, "pages were followed"


def test_a_query_that_fails_in_any_bucket_fails_the_read(aws, monkeypatch):
    store = TransactionStore(aws.dynamodb, aws.table_name, time_bucket_shards=4, window_readers=4)
    write(store, 40)
    real_query = store.client.query
    doomed = window_buckets(BASE_TS, BASE_TS + 10 * MINUTE_MS - 1, 4)[-3]

    def query(**kwargs: Any) -> dict[str, Any]:
        if kwargs["ExpressionAttributeValues"][":b"]["S"] == doomed:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "Query")
        return real_query(**kwargs)

    monkeypatch.setattr(store.client, "query", query)

    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        list(store.window_items(BASE_TS, BASE_TS + 10 * MINUTE_MS - 1))


# --- a change of the shard count ------------------------------------------------------------------


def test_the_shards_read_are_the_largest_count_used_within_the_memory(aws):
    state = StateStore(aws.dynamodb, aws.state_table_name)
    at = BASE_TS

    assert state.shards_to_read(8, now_ms=at, remember_ms=24 * HOUR_MS) == 8, "first run: as configured"
    assert state.shards_to_read(4, now_ms=at + HOUR_MS, remember_ms=24 * HOUR_MS) == 8, "changed down: 8 still read"
    assert state.shards_to_read(16, now_ms=at + 2 * HOUR_MS, remember_ms=24 * HOUR_MS) == 16, "changed up: the new"
    assert state.shards_to_read(4, now_ms=at + 25 * HOUR_MS, remember_ms=24 * HOUR_MS) == 16
    assert state.shards_to_read(4, now_ms=at + 27 * HOUR_MS, remember_ms=24 * HOUR_MS) == 4, "16 is forgotten"


def test_a_window_written_with_more_shards_is_read_whole_after_the_count_is_lowered(
    analyze_patterns, aws, lambda_context, monkeypatch
):
    """process-transaction wrote the window with 8 shards; analyze-patterns now has 4 (TIME_BUCKET_SHARDS)."""
    writer = TransactionStore(aws.dynamodb, aws.table_name, time_bucket_shards=8)
    write(writer, 40)
    assert {writer_shard(writer, i) for i in range(40)} > set(range(4)), "shards 4-7 are used"
    state = StateStore(aws.dynamodb, aws.state_table_name)
    run_time = BASE_TS + 10 * MINUTE_MS
    state.shards_to_read(8, now_ms=run_time - 5 * MINUTE_MS, remember_ms=24 * HOUR_MS)  # the run before the change
    monkeypatch.setattr(analyze_patterns, "clock_ms", lambda: run_time)

    summary = analyze_patterns.handler(scheduled_event("2025-01-15T12:10:00Z"), lambda_context)

    assert analyze_patterns.resources().settings.time_bucket_shards == 4
    assert summary["items_read"] == 40, "the items in shards 4-7 were read too"


def writer_shard(store: TransactionStore, i: int) -> int:
    [item] = [
        item
        for item in store.client.query(
            TableName=store.table_name,
            KeyConditionExpression="transaction_id = :t",
            ExpressionAttributeValues={":t": {"S": f"w-{i}"}},
        )["Items"]
        if item["kind"]["S"] == "transaction"
    ]
    return int(item["time_bucket"]["S"].split("#")[1])
