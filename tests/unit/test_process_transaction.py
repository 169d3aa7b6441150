"""process-transaction against moto: the API contract a client relies on."""

from __future__ import annotations

import json
import re
import threading
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraud.storage import minute_key, shard_of
from tests.unit.handler_support import BASE_TS, CARD_NUMBERS, api_event, make_transaction, table_items

# A handler that raises flushes no metrics; Powertools warns about that, the tests expect it.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def call(module: ModuleType, event: dict[str, Any], context: Any) -> tuple[int, dict[str, Any]]:
    response = module.handler(event, context)
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def test_new_transaction_is_accepted_and_stored_with_its_claim(process_transaction, aws, lambda_context):
    status, body = call(process_transaction, api_event(make_transaction()), lambda_context)

    assert status == 201
    assert body == {"transaction_id": "txn-0001", "status": "accepted", "received_at": body["received_at"]}
    items = {item["kind"]: item for item in table_items(aws)}
    assert set(items) == {"claim", "transaction"}
    claim, stored = items["claim"], items["transaction"]
    expires_at = body["received_at"] // 1000 + 400 * 86_400  # TRANSACTION_RETENTION_DAYS = 400
    assert claim == {
        "transaction_id": "txn-0001",
        "timestamp": 0,
        "kind": "claim",
        "body_hash": stored["body_hash"],
        "received_at": body["received_at"],
        "expires_at": expires_at,
    }
    assert stored["expires_at"] == expires_at
    assert stored["timestamp"] == BASE_TS
    assert stored["amount"] == Decimal("42.5")
    assert stored["location"] == {"lat": Decimal("40.7128"), "lon": Decimal("-74.006")}
    assert stored["received_at"] == body["received_at"]
    assert re.fullmatch(r"[0-9a-f]{64}", stored["body_hash"])
    # The minute it was received (not its 2025 timestamp), shard from the id: what the pattern
    # analysis index is keyed on.
    assert stored["time_bucket"] == f"{minute_key(body['received_at'])}#{shard_of('txn-0001', 4)}"
    # and its history fields as an entry of the user's recent activity, keyed by when it was received
    [recent] = [item for item in table_items(aws, recent=True) if item["kind"] == "recent"]
    assert recent["transaction_id"] == "recent#user-1"
    assert recent["timestamp"] == body["received_at"] * 10**6 + shard_of("txn-0001", 10**6)
    assert recent["expires_at"] == body["received_at"] // 1000 + 3600
    entry = recent["entry"]
    assert entry["transaction_id"] == "txn-0001" and entry["received_at"] == body["received_at"]
    assert entry["amount"] == Decimal("42.5") and "body_hash" not in entry and "card_id" not in entry


def test_amount_is_stored_as_a_dynamodb_number(process_transaction, aws, lambda_context):
    call(process_transaction, api_event(make_transaction(amount=912.4)), lambda_context)

    raw = aws.dynamodb.get_item(
        TableName=aws.table_name, Key={"transaction_id": {"S": "txn-0001"}, "timestamp": {"N": str(BASE_TS)}}
    )["Item"]
    assert set(raw["amount"]) == {"N"}
    assert Decimal(raw["amount"]["N"]) == Decimal("912.40")
    assert raw["kind"] == {"S": "transaction"}


def test_base64_encoded_body_is_decoded(process_transaction, aws, lambda_context):
    status, _ = call(process_transaction, api_event(make_transaction(), base64_encoded=True), lambda_context)

    assert status == 201
    assert len(table_items(aws)) == 2


def test_exact_retry_gets_the_first_answer_and_is_stored_once(process_transaction, aws, lambda_context):
    first = call(process_transaction, api_event(make_transaction()), lambda_context)
    # Same transaction, keys in another order and the amount written differently: the same body.
    retry_body = dict(reversed(list(make_transaction(amount=42.50).items())))
    second = call(process_transaction, api_event(retry_body), lambda_context)

    assert first[0] == second[0] == 201
    assert second[1] == first[1]
    assert len(table_items(aws)) == 2
    recent = [item for item in table_items(aws, recent=True) if item["kind"] == "recent"]
    assert len(recent) == 1, "the retry added nothing to the user's recent activity"


def test_same_id_with_a_different_body_is_a_conflict(process_transaction, aws, lambda_context):
    call(process_transaction, api_event(make_transaction()), lambda_context)
    before = table_items(aws)

    status, body = call(process_transaction, api_event(make_transaction(amount=43)), lambda_context)

    assert status == 409
    assert body == {"message": "transaction_id already used with a different body"}
    assert table_items(aws) == before


def test_same_id_with_another_timestamp_is_a_conflict(process_transaction, aws, lambda_context):
    """The claim item guards the id itself, not only the (id, timestamp) key."""
    call(process_transaction, api_event(make_transaction()), lambda_context)

    status, _ = call(process_transaction, api_event(make_transaction(timestamp=BASE_TS + 1)), lambda_context)

    assert status == 409
    assert len(table_items(aws)) == 2


def test_different_ids_are_independent(process_transaction, aws, lambda_context):
    for transaction_id in ("txn-a", "txn-b"):
        status, _ = call(
            process_transaction, api_event(make_transaction(transaction_id=transaction_id)), lambda_context
        )
        assert status == 201
    assert len(table_items(aws)) == 4


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param(make_transaction(amount=-5), {"amount"}, id="negative-amount"),
        pytest.param(make_transaction(amount=0), {"amount"}, id="zero-amount"),
        pytest.param(make_transaction(amount=1.234), {"amount"}, id="three-decimals"),
        pytest.param(make_transaction(amount="12.00"), {"amount"}, id="amount-as-string"),
        pytest.param(make_transaction(currency="usd1"), {"currency"}, id="bad-currency"),
        pytest.param(make_transaction(timestamp="yesterday"), {"timestamp"}, id="timestamp-type"),
        pytest.param(make_transaction(timestamp=32_000_000_000_000), {"timestamp"}, id="far-future"),
        pytest.param(make_transaction(card_id="4111 1111 1111 1111"), {"card_id"}, id="card-number"),
        pytest.param(make_transaction(country="USA"), {"country"}, id="country"),
        pytest.param(make_transaction(ip_address="999.1.1.1"), {"ip_address"}, id="ip"),
        pytest.param(make_transaction(location={"lat": 91, "lon": 0}), {"location.lat"}, id="latitude"),
        pytest.param(  # DynamoDB cannot store it: the write failed with a 500
            make_transaction(location={"lat": 1e-200, "lon": -1e-300}),
            {"location.lat", "location.lon"},
            id="tiny-degrees",
        ),
        pytest.param(make_transaction(transaction_id="has space"), {"transaction_id"}, id="id-pattern"),
        pytest.param(make_transaction(user_id=None), {"user_id"}, id="missing-user"),
        pytest.param(make_transaction(pan="4111111111111111"), {"pan"}, id="unknown-field"),
        pytest.param(
            make_transaction(amount=None, currency=None, user_id=5),
            {"amount", "currency", "user_id"},
            id="every-bad-field-listed",
        ),
        pytest.param("{not json", {"body"}, id="malformed-json"),
        pytest.param("[1, 2]", {"body"}, id="not-an-object"),
        pytest.param(None, {"body"}, id="no-body"),
    ],
)
def test_bad_input_is_a_400_naming_each_field_and_writes_nothing(
    process_transaction, aws, lambda_context, body, fields
):
    status, response = call(process_transaction, api_event(body), lambda_context)

    assert status == 400
    assert response["message"] == "Invalid transaction"
    assert {error["field"] for error in response["errors"]} == fields
    assert all(error["message"] for error in response["errors"])
    assert table_items(aws) == []


def test_oversize_body_is_a_413(process_transaction, aws, lambda_context):
    status, response = call(process_transaction, api_event(make_transaction(merchant_id="m" * 20_000)), lambda_context)

    assert status == 413
    assert [error["field"] for error in response["errors"]] == ["body"]
    assert table_items(aws) == []


def test_body_that_is_not_base64_is_a_400(process_transaction, aws, lambda_context):
    event = api_event("this is not base64!")
    event["isBase64Encoded"] = True

    status, response = call(process_transaction, event, lambda_context)

    assert status == 400
    assert [error["field"] for error in response["errors"]] == ["body"]


def test_base64_body_with_non_ascii_characters_is_a_400(process_transaction, aws, lambda_context):
    event = api_event("eyJ9é")  # b64decode raises a plain ValueError here, not binascii.Error
    event["isBase64Encoded"] = True

    status, response = call(process_transaction, event, lambda_context)

    assert status == 400
    assert [error["field"] for error in response["errors"]] == ["body"]
    assert table_items(aws) == []


def test_throttled_write_propagates_so_the_client_retries(process_transaction, aws, lambda_context, monkeypatch):
    store = process_transaction.transaction_store()

    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "TransactWriteItems")

    monkeypatch.setattr(store.client, "transact_write_items", throttled)

    with pytest.raises(ClientError, match="ThrottlingException"):
        process_transaction.handler(api_event(make_transaction()), lambda_context)
    assert table_items(aws) == []

    monkeypatch.undo()
    status, _ = call(process_transaction, api_event(make_transaction()), lambda_context)
    assert status == 201


def conflict_error() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
        },
        "TransactWriteItems",
    )


@pytest.mark.parametrize(("second_body", "status"), [(make_transaction(), 201), (make_transaction(amount=43), 409)])
def test_a_request_racing_another_for_the_same_id_gets_201_or_409_never_a_5xx(
    process_transaction, aws, lambda_context, monkeypatch, second_body, status
):
    """DynamoDB cancels the second of two simultaneous writes with TransactionConflict."""
    call(process_transaction, api_event(make_transaction()), lambda_context)  # the request that won the race
    store = process_transaction.transaction_store()
    real_write = store.client.transact_write_items
    attempts: list[int] = []

    def conflicting_once(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise conflict_error()
        return real_write(**kwargs)

    monkeypatch.setattr(store.client, "transact_write_items", conflicting_once)

    got, body = call(process_transaction, api_event(second_body), lambda_context)

    assert got == status, body
    assert len(table_items(aws)) == 2


def test_a_conflict_before_the_other_request_committed_is_retried(
    process_transaction, aws, lambda_context, monkeypatch
):
    store = process_transaction.transaction_store()
    real_write = store.client.transact_write_items
    attempts: list[int] = []

    def conflicting_twice(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) <= 2:
            raise conflict_error()  # the other writer has not committed: no claim to read yet
        return real_write(**kwargs)

    monkeypatch.setattr(store.client, "transact_write_items", conflicting_twice)

    assert call(process_transaction, api_event(make_transaction()), lambda_context)[0] == 201
    assert len(attempts) == 3 and len(table_items(aws)) == 2


def test_two_identical_posts_at_the_same_moment_both_get_201(process_transaction, aws, lambda_context, monkeypatch):
    store = process_transaction.transaction_store()  # the client exists before the race starts
    # moto's TransactWriteItems is not atomic across threads (a cancelled one restores a copy of the
    # table taken before the other's write); DynamoDB's is. A lock gives moto that atomicity; the
    # handlers still race (validation, the write, reading the claim). The TransactionConflict DynamoDB
    # answers a truly simultaneous write with is the stubbed case above.
    real_write, lock = store.client.transact_write_items, threading.Lock()

    def atomic_write(**kwargs: Any) -> Any:
        with lock:
            return real_write(**kwargs)

    monkeypatch.setattr(store.client, "transact_write_items", atomic_write)
    barrier = threading.Barrier(4)
    results: list[tuple[int, dict[str, Any]]] = []

    def post() -> None:
        barrier.wait()
        results.append(call(process_transaction, api_event(make_transaction()), lambda_context))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in results] == [201] * 4
    assert len({body["received_at"] for _, body in results}) == 1  # all answered with the first write
    assert len(table_items(aws)) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"user_id": CARD_NUMBERS[0]}, "user_id", id="user-id"),
        pytest.param({"transaction_id": "4111_1111_1111_1111"}, "transaction_id", id="transaction-id"),
        pytest.param({"card_id": "tok_" + CARD_NUMBERS[1]}, "card_id", id="token-prefix"),
        pytest.param({"card_id": "5555.5555.5555.4444"}, "card_id", id="dots"),
        pytest.param({"merchant_id": "m " + CARD_NUMBERS[2]}, "merchant_id", id="merchant-id"),
        pytest.param({"device_id": CARD_NUMBERS[3]}, "device_id", id="device-id"),
        pytest.param({"memo": CARD_NUMBERS[0]}, "memo", id="unknown-field"),
        pytest.param({CARD_NUMBERS[0]: "x"}, "body", id="key"),
    ],
)
def test_a_card_number_anywhere_is_a_400_naming_the_field_and_never_echoed(
    process_transaction, aws, lambda_context, log_lines, changes, field
):
    response = process_transaction.handler(api_event(make_transaction(**changes)), lambda_context)

    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert [error["field"] for error in body["errors"]] == [field]
    assert "card number" in body["errors"][0]["message"]
    digits = "".join(ch for ch in response["body"] if ch.isdigit())
    assert not any(number in digits for number in CARD_NUMBERS)
    assert table_items(aws) == []
    assert any("Transaction rejected" in line for line in log_lines)  # logged, and checked by the fixture


def test_a_body_of_1700_unknown_keys_gets_a_small_answer_and_a_small_log_line(
    process_transaction, aws, lambda_context, log_lines
):
    body = make_transaction(**{f"k{i}": 0 for i in range(1_700)})
    assert len(json.dumps(body, separators=(",", ":"))) <= 16_384

    response = process_transaction.handler(api_event(json.dumps(body, separators=(",", ":"))), lambda_context)

    assert response["statusCode"] == 400
    assert len(response["body"]) < 2_000  # 81 KB before the list was capped
    [logged] = [line for line in log_lines if "Transaction rejected" in line]
    assert len(logged) < 3_000  # 75 KB before


# --- any body: a 2xx or a 4xx, never a 5xx, never a write on a 4xx --------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
field_values = {
    "transaction_id": st.from_regex(r"\A[A-Za-z0-9_-]{1,8}\Z") | json_values,
    "user_id": st.text(max_size=5) | json_values,
    "amount": st.decimals(min_value=-10, max_value=2_000_000, allow_nan=False, allow_infinity=False, places=3).map(
        float
    )
    | json_values,
    "currency": st.sampled_from(["USD", "EUR", "usd", "US"]) | json_values,
    "merchant_id": st.text(max_size=5) | json_values,
    "merchant_category": st.sampled_from(["grocery_pos", "misc_net", ""]) | json_values,
    "timestamp": st.integers(min_value=0, max_value=40_000_000_000_000) | json_values,
    "card_id": st.sampled_from(["tok_1", "4111111111111111"]) | json_values,
    "country": st.sampled_from(["US", "FR", "usa"]) | json_values,
    "location": st.fixed_dictionaries({"lat": st.floats(-100, 100), "lon": st.floats(-200, 200)}) | json_values,
    "device_id": st.text(max_size=5) | json_values,
    "ip_address": st.sampled_from(["10.0.0.1", "::1", "300.1.1.1"]) | json_values,
    "channel": st.sampled_from(["pos", "online", "fax"]) | json_values,
    "surprise": json_values,
}
transaction_like = st.dictionaries(
    st.sampled_from(sorted(field_values)), st.just(None), max_size=len(field_values)
).flatmap(lambda keys: st.fixed_dictionaries({key: field_values[key] for key in keys}))
bodies = (
    transaction_like.map(json.dumps)
    | st.builds(lambda base, extra: json.dumps({**base, **extra}), st.just(make_transaction()), transaction_like)
    | json_values.map(json.dumps)
    | st.text(max_size=50)
    | st.binary(max_size=50).map(lambda raw: raw.decode("latin-1"))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_body_gives_a_2xx_or_a_4xx_and_writes_only_on_2xx(process_transaction, aws, lambda_context, body):
    before = len(table_items(aws))

    status, response = call(process_transaction, api_event(body), lambda_context)

    after = len(table_items(aws))
    assert status in (201, 400, 409, 413)
    if status == 201:
        assert after - before in (0, 2)  # 0: an exact retry of an earlier example
    else:
        assert after == before
    if status in (400, 413):
        assert response["errors"] and all({"field", "message"} <= set(error) for error in response["errors"])
