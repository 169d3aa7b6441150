"""detect-fraud against moto, fed with the stream records moto's DynamoDB stream really produced."""

from __future__ import annotations

import json
import time
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from fraud.storage import StateStore, TransactionStore, deserialize_item
from tests.unit.handler_support import (
    BASE_TS,
    MINUTE_MS,
    api_event,
    emf_metrics,
    eventbridge_event,
    make_transaction,
    queued_alerts,
    stream_batch,
    stream_record,
    stream_records,
)

# A handler that raises flushes no metrics; Powertools warns about that, the tests expect it.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

HOUR_MS = 60 * MINUTE_MS


def usual_spending(count: int = 8) -> list[dict[str, Any]]:
    """A user's ordinary history: groceries at home, one device, every few hours."""
    return [
        make_transaction(transaction_id=f"usual-{i}", amount=40 + i, timestamp=BASE_TS - (count - i) * 5 * HOUR_MS)
        for i in range(count)
    ]


SUSPICIOUS = make_transaction(
    transaction_id="txn-big",
    amount=9000,
    merchant_id="merchant-far",
    merchant_category="shopping_net",
    country="FR",
    location={"lat": 48.8566, "lon": 2.3522},
    device_id="device-new",
    ip_address="198.51.100.7",
    card_id="tok_card_1",
)
ORDINARY = make_transaction(transaction_id="txn-ordinary", amount=45, timestamp=BASE_TS - HOUR_MS)


def post(aws: SimpleNamespace, process_transaction: ModuleType, context: Any, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        response = process_transaction.handler(api_event(body), context)
        assert response["statusCode"] == 201, response["body"]


def record_of(aws: SimpleNamespace, transaction_id: str, kind: str = "transaction") -> dict[str, Any]:
    """The stream record moto produced for the INSERT of ``transaction_id``'s item of ``kind``."""
    for record in stream_records(aws):
        image = record["dynamodb"].get("NewImage", {})
        if image.get("transaction_id") == {"S": transaction_id} and image.get("kind") == {"S": kind}:
            return record
    raise AssertionError(f"no stream record for {transaction_id} ({kind})")


@pytest.fixture
def history(aws, process_transaction, lambda_context) -> None:
    post(aws, process_transaction, lambda_context, *usual_spending(), SUSPICIOUS, ORDINARY)


def test_suspicious_transaction_from_eventbridge_is_queued_as_an_alert(
    detect_fraud, aws, history, lambda_context, capsys
):
    result = detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)

    assert result == {"result": "alert"}
    [alert] = queued_alerts(aws)
    assert alert["alert_id"] == "txn-txn-big"
    assert alert["kind"] == "transaction"
    assert alert["decision"] == "alert"
    assert alert["score"] >= 70
    codes = {reason["code"] for reason in alert["reasons"]}
    assert {"HIGH_AMOUNT", "NEW_COUNTRY", "NEW_DEVICE"} <= codes
    assert all(reason["explanation"] for reason in alert["reasons"])
    assert alert["transaction"]["transaction_id"] == "txn-big"
    assert "tok_card_1" not in json.dumps(alert)  # identifiers are masked
    assert emf_metrics(capsys.readouterr().out) == {"Scored": 1, "Suspicious": 1, "Alerts": 1}


def test_ordinary_transaction_is_scored_and_not_alerted(detect_fraud, aws, history, lambda_context, capsys):
    result = detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)

    assert result == {"result": "allow"}
    assert queued_alerts(aws) == []
    assert emf_metrics(capsys.readouterr().out) == {"Scored": 1}


def test_transaction_delivered_three_times_is_scored_counted_and_alerted_once(
    detect_fraud, aws, history, lambda_context, capsys, caplog
):
    record = record_of(aws, "txn-big")

    first = detect_fraud.handler(eventbridge_event(record), lambda_context)
    second = detect_fraud.handler(eventbridge_event(record), lambda_context)  # EventBridge retry
    response = detect_fraud.handler(stream_batch([record]), lambda_context)  # a replay via the other route

    assert first == second == {"result": "alert"}
    assert response == {"batchItemFailures": []}
    assert [alert["alert_id"] for alert in queued_alerts(aws)] == ["txn-txn-big"]
    assert emf_metrics(capsys.readouterr().out) == {"Scored": 1, "Suspicious": 1, "Alerts": 1, "AlreadyScored": 2}
    assert caplog.messages.count("Transaction scored") == 1


def state_table_calls(client: Any, table_name: str) -> list[str]:
    """The names of the calls ``client`` makes on ``table_name`` from now on (botocore's own event hook)."""
    calls: list[str] = []

    def note(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("TableName") == table_name:
            calls.append(model.name)

    client.meta.events.register("provide-client-params.dynamodb", note)
    return calls


def test_a_scored_transaction_costs_one_state_table_write_holding_its_decision(
    detect_fraud, aws, history, lambda_context
):
    res = detect_fraud.resources()
    calls = state_table_calls(res.state.client, aws.state_table_name)

    assert detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context) == {
        "result": "allow"
    }

    assert calls == ["PutItem"]
    item = deserialize_item(
        aws.dynamodb.get_item(TableName=aws.state_table_name, Key={"id": {"S": "detect-fraud#scored#txn-ordinary"}})[
            "Item"
        ]
    )
    assert item["decision"] == "allow"
    assert 0 < int(item["expiration"]) - time.time() <= 3 * 24 * 3600, "remembered for three days"


def test_a_repeat_scored_differently_under_new_rules_keeps_its_first_decision_and_alerts_nothing(
    detect_fraud, aws, history, lambda_context, capsys
):
    record = record_of(aws, "txn-ordinary")
    assert detect_fraud.handler(eventbridge_event(record), lambda_context) == {"result": "allow"}
    put_rules(aws, '{"bands": {"review": 1, "alert": 2}}')  # it would alert now
    detect_fraud.resources.cache_clear()  # another sandbox, which reads the new rules

    assert detect_fraud.handler(eventbridge_event(record), lambda_context) == {"result": "allow"}
    assert queued_alerts(aws) == []
    assert emf_metrics(capsys.readouterr().out) == {"Scored": 1, "AlreadyScored": 1}


def test_a_failure_between_the_alert_and_its_record_is_scored_again_and_alerted_once(
    detect_fraud, aws, history, lambda_context, monkeypatch, capsys, caplog
):
    event = eventbridge_event(record_of(aws, "txn-big"))
    calls = throttle(monkeypatch, detect_fraud.resources().state, "record_scored")

    with pytest.raises(ClientError, match="ThrottlingException"):
        detect_fraud.handler(event, lambda_context)
    assert len(calls) == 1 and len(queued_alerts(aws)) == 1, "the alert went before the record failed"

    monkeypatch.undo()
    assert detect_fraud.handler(event, lambda_context) == {"result": "alert"}
    assert detect_fraud.handler(event, lambda_context) == {"result": "alert"}
    assert queued_alerts(aws) == [], "no second alert"
    assert caplog.messages.count("Transaction scored") == 1
    assert emf_metrics(capsys.readouterr().out) == {"Alerts": 1, "Scored": 1, "Suspicious": 1, "AlreadyScored": 1}


def test_an_expired_decision_record_is_replaced_and_a_live_one_is_returned(aws):
    state = StateStore(aws.dynamodb, aws.state_table_name)
    assert state.record_scored("t-1", "allow", now=1_000, expiration=2_000) is None
    assert state.scored_decision("t-1", now=1_500) == "allow"
    assert state.record_scored("t-1", "alert", now=1_500, expiration=2_500) == "allow", "live: kept and returned"
    assert state.scored_decision("t-1", now=2_001) is None, "expired: as if never scored"
    assert state.record_scored("t-1", "alert", now=2_001, expiration=3_000) is None
    assert state.scored_decision("t-1", now=2_001) == "alert"


def test_a_failed_scoring_is_scored_again_by_the_retry(detect_fraud, aws, history, lambda_context, monkeypatch):
    event = eventbridge_event(record_of(aws, "txn-big"))
    throttle(monkeypatch, detect_fraud.resources().store.client, "query")
    with pytest.raises(ClientError):
        detect_fraud.handler(event, lambda_context)

    monkeypatch.undo()
    assert detect_fraud.handler(event, lambda_context) == {"result": "alert"}
    assert len(queued_alerts(aws)) == 1


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(lambda aws: record_of(aws, "txn-big", kind="claim"), id="claim-insert"),
        pytest.param(lambda aws: {**record_of(aws, "txn-big"), "eventName": "MODIFY"}, id="modify-of-a-transaction"),
        pytest.param(lambda aws: {**record_of(aws, "txn-big"), "eventName": "REMOVE"}, id="remove"),
    ],
)
def test_records_other_than_a_transaction_insert_are_skipped(
    detect_fraud, aws, history, lambda_context, capsys, caplog, record
):
    result = detect_fraud.handler(eventbridge_event(record(aws)), lambda_context)

    assert result == {"result": "skipped"}
    assert queued_alerts(aws) == []
    assert emf_metrics(capsys.readouterr().out) == {"Skipped": 1}
    assert "Stream record skipped" in caplog.messages


def test_stream_batch_reports_only_the_failing_record(detect_fraud, aws, history, lambda_context):
    good = record_of(aws, "txn-big")
    broken_image = {key: value for key, value in SUSPICIOUS.items() if key != "user_id"}
    broken = stream_record(
        {**broken_image, "transaction_id": "txn-broken", "kind": "transaction"}, sequence_number="999"
    )
    skipped = record_of(aws, "txn-big", kind="claim")

    response = detect_fraud.handler(stream_batch([good, broken, skipped]), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "999"}]}
    assert [alert["alert_id"] for alert in queued_alerts(aws)] == ["txn-txn-big"]


def throttle(monkeypatch: pytest.MonkeyPatch, client: Any, method: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def throttled(*args: Any, **kwargs: Any) -> None:
        calls.append({"args": args, **kwargs})
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, method)

    monkeypatch.setattr(client, method, throttled)
    return calls


def test_sqs_failure_raises_for_eventbridge_and_the_retry_sends_once(
    detect_fraud, aws, history, lambda_context, monkeypatch
):
    event = eventbridge_event(record_of(aws, "txn-big"))
    calls = throttle(monkeypatch, detect_fraud.resources().sqs, "send_message")

    with pytest.raises(ClientError, match="ThrottlingException"):
        detect_fraud.handler(event, lambda_context)
    assert len(calls) == 1
    assert queued_alerts(aws) == []

    monkeypatch.undo()  # the platform retries once SQS is back: the alert was not recorded as sent
    detect_fraud.handler(event, lambda_context)
    assert [alert["alert_id"] for alert in queued_alerts(aws)] == ["txn-txn-big"]


def test_sqs_failure_in_a_stream_batch_fails_that_record(detect_fraud, aws, history, lambda_context, monkeypatch):
    suspicious, ordinary = record_of(aws, "txn-big"), record_of(aws, "txn-ordinary")
    throttle(monkeypatch, detect_fraud.resources().sqs, "send_message")

    response = detect_fraud.handler(stream_batch([ordinary, suspicious]), lambda_context)

    assert response == {"batchItemFailures": [{"itemIdentifier": suspicious["dynamodb"]["SequenceNumber"]}]}


def test_failed_stream_record_is_logged_with_its_traceback(
    detect_fraud, aws, history, lambda_context, monkeypatch, caplog
):
    # The batch processor keeps a record's exception to itself (the layer's has no logger argument).
    suspicious = record_of(aws, "txn-big")
    throttle(monkeypatch, detect_fraud.resources().sqs, "send_message")

    detect_fraud.handler(stream_batch([record_of(aws, "txn-ordinary"), suspicious]), lambda_context)

    [failed] = [record for record in caplog.records if record.getMessage() == "Stream record failed"]
    assert failed.exc_info and failed.exc_info[0] is ClientError
    assert failed.event_id == suspicious["eventID"]


def test_history_query_failure_propagates(detect_fraud, aws, history, lambda_context, monkeypatch):
    throttle(monkeypatch, detect_fraud.resources().store.client, "query")

    with pytest.raises(ClientError, match="ThrottlingException"):
        detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)
    assert queued_alerts(aws) == []


RULES = "/fraud-detection/test/rules-test"


def put_rules(aws: SimpleNamespace, value: str) -> None:
    aws.ssm.put_parameter(Name=RULES, Type="String", Overwrite=True, Value=value)


def rules_fallbacks(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.getMessage().startswith("Rules document") and r.levelname == "ERROR"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param('{"bands": {"review": 90}}', "bands", id="invalid-document"),
        pytest.param("{not json", "not valid JSON", id="not-json"),
    ],
)
def test_an_unusable_rules_document_in_a_fresh_sandbox_scores_with_the_newest_valid_version(
    detect_fraud, aws, history, lambda_context, capsys, caplog, value, reason
):
    put_rules(aws, '{"bands": {"review": 1, "alert": 2}}')  # version 2: valid, everything alerts
    put_rules(aws, value)  # version 3: unusable

    result = detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)

    assert result == {"result": "alert"}  # scored with version 2
    [logged] = rules_fallbacks(caplog)
    assert "version 3 unusable: using version 2, the newest valid version in the parameter's history" in (
        logged.getMessage()
    )
    assert reason in logged.reason
    assert emf_metrics(capsys.readouterr().out)["RulesFallback"] == 1


def test_an_invalid_rules_document_in_a_warm_sandbox_keeps_the_last_valid_one(
    detect_fraud, aws, history, lambda_context, capsys, caplog, monkeypatch
):
    monkeypatch.setenv("RULES_CACHE_SECONDS", "0")  # every invocation reads the parameter
    detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)
    put_rules(aws, '{"bands": {"review": 90}}')
    capsys.readouterr()

    result = detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)

    assert result == {"result": "alert"}
    assert [alert["alert_id"] for alert in queued_alerts(aws)] == ["txn-txn-big"]
    [logged] = rules_fallbacks(caplog)
    assert "version 2 unusable: using version 1, the last valid version" in logged.getMessage()
    assert emf_metrics(capsys.readouterr().out)["RulesFallback"] == 1


def test_ssm_throttling_in_a_warm_sandbox_keeps_the_cached_rules(
    detect_fraud, kit, aws, history, lambda_context, capsys, caplog, monkeypatch
):
    monkeypatch.setenv("RULES_CACHE_SECONDS", "0")
    detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)
    calls = throttle(monkeypatch, kit.client("ssm"), "get_parameters")
    capsys.readouterr()

    assert detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context) == {"result": "alert"}
    assert calls and "ThrottlingException" in rules_fallbacks(caplog)[0].reason
    assert emf_metrics(capsys.readouterr().out)["RulesFallback"] == 1


def test_ssm_throttling_in_a_fresh_sandbox_fails_so_the_platform_retries(
    detect_fraud, kit, aws, history, lambda_context, monkeypatch
):
    throttle(monkeypatch, kit.client("ssm"), "get_parameters")
    throttle(monkeypatch, kit.client("ssm"), "get_parameter_history")

    with pytest.raises(ClientError, match="ThrottlingException"):
        detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)
    assert queued_alerts(aws) == []


def test_a_rules_parameter_with_no_valid_version_fails_loudly(detect_fraud, aws, history, lambda_context, caplog):
    aws.ssm.delete_parameter(Name=RULES)
    put_rules(aws, '{"bands": {"review": 90}}')  # the only version, invalid

    with pytest.raises(ValueError, match="bands"):
        detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)
    assert "no valid version to fall back on" in rules_fallbacks(caplog)[0].getMessage()
    assert queued_alerts(aws) == []


def test_the_documents_are_read_together_once_per_cache_period(
    detect_fraud, kit, aws, history, lambda_context, monkeypatch
):
    """A cold sandbox reads its documents (rules, model pointer, shadow rules) in one GetParameters call: Parameter
    Store's quota (about 40 a second per account) is shared by every sandbox of a scale-out."""
    ssm = kit.client("ssm")
    calls: list[tuple[str, list[str]]] = []
    for operation in ("get_parameter", "get_parameters"):
        real = getattr(ssm, operation)

        def counted(real: Any = real, operation: str = operation, **kwargs: Any) -> Any:
            calls.append((operation, sorted(kwargs.get("Names") or [kwargs["Name"]])))
            return real(**kwargs)

        monkeypatch.setattr(ssm, operation, counted)
    for transaction_id in ("txn-ordinary", "txn-big", "usual-7"):
        detect_fraud.handler(eventbridge_event(record_of(aws, transaction_id)), lambda_context)

    [(operation, names)] = calls
    assert operation == "get_parameters" and RULES in names and len(names) == len(set(names)) >= 1


def test_rules_from_parameter_store_change_the_decision(detect_fraud, aws, history, lambda_context):
    put_rules(aws, '{"bands": {"review": 1, "alert": 2}}')

    result = detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)

    assert result == {"result": "alert"}
    assert [alert["alert_id"] for alert in queued_alerts(aws)] == ["txn-txn-ordinary"]


def test_unknown_event_shape_is_an_error(detect_fraud, aws, lambda_context):
    with pytest.raises(ValueError, match="unsupported event"):
        detect_fraud.handler({"source": "aws.events", "detail": {}}, lambda_context)


# --- the history query ----------------------------------------------------------------------------


def test_user_history_is_newest_first_bounded_and_excludes_the_transaction(aws, process_transaction, lambda_context):
    post(aws, process_transaction, lambda_context, *usual_spending(8), SUSPICIOUS)
    post(aws, process_transaction, lambda_context, make_transaction(transaction_id="other-user", user_id="user-2"))
    post(
        aws,
        process_transaction,
        lambda_context,
        make_transaction(transaction_id="too-old", timestamp=BASE_TS - 40 * 24 * HOUR_MS),
    )
    store = TransactionStore(aws.dynamodb, aws.table_name)

    items = store.user_history("user-1", through_ms=BASE_TS - 1, window_ms=30 * 24 * HOUR_MS, max_items=100)
    assert [item["transaction_id"] for item in items] == [f"usual-{i}" for i in reversed(range(8))]
    assert all(item["kind"] == "transaction" for item in items)

    newest = store.user_history("user-1", through_ms=BASE_TS - 1, window_ms=30 * 24 * HOUR_MS, max_items=3)
    assert [item["transaction_id"] for item in newest] == ["usual-7", "usual-6", "usual-5"]


def test_user_history_follows_pages_until_max_items(aws, process_transaction, lambda_context, monkeypatch):
    post(aws, process_transaction, lambda_context, *usual_spending(8))
    store = TransactionStore(aws.dynamodb, aws.table_name)
    real_query = aws.dynamodb.query
    limits: list[int] = []

    def short_pages(**kwargs: Any) -> dict[str, Any]:
        """Pages of at most 2 items, as the 1 MB page limit would cut them."""
        limits.append(kwargs["Limit"])
        return real_query(**{**kwargs, "Limit": min(kwargs["Limit"], 2)})

    monkeypatch.setattr(aws.dynamodb, "query", short_pages)

    items = store.user_history("user-1", through_ms=BASE_TS - 1, window_ms=30 * 24 * HOUR_MS, max_items=5)

    assert [item["transaction_id"] for item in items] == ["usual-7", "usual-6", "usual-5", "usual-4", "usual-3"]
    assert limits == [5, 3, 1]


def test_card_numbers_stored_before_the_front_door_refused_them_reach_no_log_line_or_alert(
    detect_fraud, aws, lambda_context, log_lines
):
    # An item written before validation refused card numbers in every field (the stream still has it).
    legacy = {**SUSPICIOUS, "transaction_id": "4111111111111111", "user_id": "user 5555 5555 5555 4444"}
    record = stream_record({**legacy, "kind": "transaction", "received_at": BASE_TS})

    assert detect_fraud.handler(eventbridge_event(record), lambda_context)["result"] in ("review", "alert")

    [alert] = queued_alerts(aws)
    digits = "".join(ch for ch in json.dumps(alert) if ch.isdigit())
    assert "4111111111111111" not in digits and "5555555555554444" not in digits
    assert alert["alert_id"] == "txn-[card number]"
    scored = next(line for line in log_lines if '"Transaction scored"' in line)
    assert '"transaction_id":"[card number]"' in scored  # the scrubber, not the handler, removed it


def test_a_replayed_stream_failure_is_scored_and_alerted_once(detect_fraud, aws, history, lambda_context):
    """make replay on the direct routing: the failure record holds only the batch's sequence numbers."""
    from tools.deploy.replay import Replayer

    record = record_of(aws, "txn-big")
    dlq = aws.sqs.create_queue(QueueName="fraud-stream-dlq-test")["QueueUrl"]
    info = {
        "shardId": "shard",
        "startSequenceNumber": record["dynamodb"]["SequenceNumber"],
        "endSequenceNumber": record["dynamodb"]["SequenceNumber"],
        "batchSize": 1,
        "streamArn": aws.stream_arn,
    }
    failure = {"requestContext": {"functionArn": "detect-fraud-test"}, "DDBStreamBatchInfo": info}
    aws.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(failure))
    aws.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(failure))  # the same batch failed twice
    streams = boto3.client(
        "dynamodbstreams", region_name="us-east-1", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
    )

    def invoke(function: str, payload: Any) -> tuple[bool, Any]:
        return True, detect_fraud.handler(payload, lambda_context)

    report = Replayer(boto3.Session(), "test", invoke=invoke, streams=streams).replay(["stream"])

    assert [o.ok for o in report.outcomes] == [True, True]
    assert [alert["alert_id"] for alert in queued_alerts(aws)] == ["txn-txn-big"]


def test_each_transaction_is_one_entry_of_its_users_recent_activity(aws, process_transaction, lambda_context):
    first, second = usual_spending(2)
    post(aws, process_transaction, lambda_context, first, second, second)  # the exact retry adds nothing
    store = TransactionStore(aws.dynamodb, aws.table_name)
    received = int(record_of(aws, "usual-1")["dynamodb"]["NewImage"]["received_at"]["N"])

    recent = store.recent_transactions("user-1", received_at=received)
    assert [entry["transaction_id"] for entry in recent] == ["usual-0", "usual-1"]
    assert all(entry["received_at"] > 0 for entry in recent)
    items = aws.dynamodb.query(
        TableName=aws.table_name,
        KeyConditionExpression="transaction_id = :pk",
        ExpressionAttributeValues={":pk": {"S": "recent#user-1"}},
    )["Items"]
    assert len(items) == 2, "an item per transaction"
    for item in items:
        assert item["kind"] == {"S": "recent"} and "user_id" not in item and "time_bucket" not in item
        assert int(item["expires_at"]["N"]) <= received // 1000 + 3600, "gone within the hour"
    assert store.recent_transactions("user-2", received_at=received) == []
    assert store.recent_transactions("user-1", received_at=received + 3_600_000) == [], "an hour later: none"


def test_recent_activity_reads_the_five_minutes_either_side_of_a_receipt_and_every_page(aws):
    """Entries of one millisecond each get a key; the window's ends count; pages (1 MB each) are followed."""
    store = TransactionStore(aws.dynamodb, aws.table_name)
    at = 1_800_000_000_000
    window = 5 * 60_000
    times = {"early": at - window - 1, "first": at - window, "same-a": at, "same-b": at, "last": at + window}
    times |= {"late": at + window + 1}
    note = "x" * 100_000  # a wide entry, so that a 1 MB page holds about ten of them
    times |= {f"wide-{n}": at + n for n in range(25)}
    for txn_id, received in times.items():
        body = make_transaction(transaction_id=txn_id, amount=1, merchant_category=note)
        store.put_transaction(body, body_hash=txn_id, received_at=received)

    got = sorted(entry["transaction_id"] for entry in store.recent_transactions("user-1", received_at=at))
    assert got == sorted(set(times) - {"early", "late"})


def test_a_lagging_user_index_does_not_change_the_score_whichever_sandbox_scores(
    detect_fraud, aws, history, lambda_context, monkeypatch, caplog
):
    """The user index is eventually consistent: scored right after its writes, in a fresh sandbox, a transaction
    finds the user's earlier transactions in their recent-activity entries, and scores as with a caught-up index."""

    def scored_line() -> dict[str, Any]:
        [record] = [r for r in caplog.records if r.getMessage() == "Transaction scored"]
        caplog.clear()
        return {key: getattr(record, key) for key in ("history_items", "score", "decision")}

    detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)
    caught_up = scored_line()
    detect_fraud.resources.cache_clear()  # another sandbox: nothing of the first one's
    aws.dynamodb.delete_item(  # scored once per id: forget it, to score it again
        TableName=aws.state_table_name, Key={"id": {"S": next(iter(_scored_ids(aws)))}}
    )
    monkeypatch.setattr(TransactionStore, "user_history", lambda self, *args, **kwargs: [])  # index not there yet

    detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)
    lagging = scored_line()

    assert lagging["history_items"] == caught_up["history_items"] > len(usual_spending()) - 1
    assert (lagging["score"], lagging["decision"]) == (caught_up["score"], caught_up["decision"])


def _scored_ids(aws: SimpleNamespace) -> list[str]:
    items = aws.dynamodb.scan(TableName=aws.state_table_name)["Items"]
    return [item["id"]["S"] for item in items if item["id"]["S"].startswith("detect-fraud#scored")]


# --- block and allow lists -----------------------------------------------------------------------


def add_entry(aws: SimpleNamespace, list_name: str, field: str, value: str) -> None:
    from fraud.lists import ListStore, entry

    store = ListStore(aws.dynamodb, "fraud-lists-test")
    store.put(entry(list_name, field, value, reason="seen in chargebacks", by="ana", at=BASE_TS), replace_allow=True)


def scored_line(log_lines: list[str], transaction_id: str) -> dict[str, Any]:
    lines = [json.loads(line) for line in log_lines if '"Transaction scored"' in line]
    return next(line for line in lines if line["transaction_id"] == transaction_id)


def test_a_block_list_hit_forces_an_alert_with_its_reason_and_the_line_names_the_list_version(
    detect_fraud, aws, history, lambda_context, log_lines
):
    add_entry(aws, "block", "merchant_id", "merchant-1")

    result = detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)

    assert result == {"result": "alert"}
    [alert] = queued_alerts(aws)
    assert alert["reasons"][0]["code"] == "BLOCK_LIST" and alert["forced_by"] == "BLOCK_LIST"
    assert alert["reasons"][0]["explanation"] == "merchant merchant-1 is on the block list: seen in chargebacks"
    line = scored_line(log_lines, "txn-ordinary")
    assert (line["list_version"], line["list_hits"], line["decision"]) == (
        "1",
        [{"list": "block", "field": "merchant_id"}],
        "alert",
    )
    assert line["score"] < 30  # the score is the engine's: the list forced the band, not the score


def test_an_allow_list_hit_caps_a_suspicious_transaction_at_review_and_keeps_its_score(
    detect_fraud, aws, history, lambda_context, log_lines
):
    add_entry(aws, "allow", "card_id", "tok_card_1")

    result = detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context)

    assert result == {"result": "review"}
    [alert] = queued_alerts(aws)  # still queued for the team: never dropped silently
    assert (alert["decision"], alert["reasons"][0]["code"]) == ("review", "ALLOW_LIST")
    line = scored_line(log_lines, "txn-big")
    assert line["score"] >= 70 and line["list_version"] == "1"


def test_without_entries_the_scored_line_names_list_version_0(detect_fraud, aws, history, lambda_context, log_lines):
    detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)
    line = scored_line(log_lines, "txn-ordinary")
    assert (line["list_version"], "list_hits" in line) == ("0", False)


def test_unreadable_lists_keep_a_warm_sandbox_scoring_and_fail_a_fresh_one(
    detect_fraud, kit, aws, history, lambda_context, monkeypatch, capsys
):
    dynamodb = kit.client("dynamodb")
    real = dynamodb.get_item

    def throttled(**kwargs: Any) -> Any:
        if kwargs["TableName"] == "fraud-lists-test":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")
        return real(**kwargs)

    monkeypatch.setattr(dynamodb, "get_item", throttled)
    with pytest.raises(ClientError):  # a sandbox that never read the lists: the platform retries the record
        detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)
    monkeypatch.setattr(dynamodb, "get_item", real)
    detect_fraud.handler(eventbridge_event(record_of(aws, "txn-ordinary")), lambda_context)
    monkeypatch.setattr(dynamodb, "get_item", throttled)
    detect_fraud.resources().lists.checked_at = -1e9  # the cache period is over
    capsys.readouterr()
    assert detect_fraud.handler(eventbridge_event(record_of(aws, "txn-big")), lambda_context) == {"result": "alert"}
    assert emf_metrics(capsys.readouterr().out)["ListsFallback"] == 1
