"""Helpers for the console tests: the tables of modules/cases in moto, alerts, a Cognito pool with users."""

from __future__ import annotations

import copy
from typing import Any

CASES_TABLE, LABELS_TABLE, LISTS_TABLE = "fraud-cases-test", "fraud-labels-test", "fraud-lists-test"  # suffix "test"
BASE_MS = 1_736_942_400_000  # 2025-01-15T12:00:00Z (a Wednesday)
PASSWORD = "Correct-Horse-9-Battery"


def create_case_tables(dynamodb: Any) -> None:
    """The three tables of modules/cases, with the same keys and index."""
    dynamodb.create_table(
        TableName=CASES_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("case_id", "sk", "status", "rank")
        ],
        KeySchema=[{"AttributeName": "case_id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "status-rank-index",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=LABELS_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "transaction_id", "AttributeType": "S"},
            {"AttributeName": "source", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "transaction_id", "KeyType": "HASH"},
            {"AttributeName": "source", "KeyType": "RANGE"},
        ],
    )
    dynamodb.create_table(
        TableName=LISTS_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "entry_key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "entry_key", "KeyType": "HASH"}],
    )


TRANSACTION_ALERT = {
    "alert_id": "txn-t-1",
    "kind": "transaction",
    "created_at": BASE_MS,
    "environment": "test",
    "score": 87,
    "decision": "alert",
    "reasons": [
        {"code": "AMOUNT_ANOMALY", "score": 35.0, "explanation": "amount $912.40 is 8.1x this user's typical"},
        {"code": "VELOCITY", "score": 20.0, "explanation": "6 transactions in the last 1h"},
    ],
    "drivers": [{"feature": "amount_z", "contribution": 1.2, "explanation": "the amount is far above the usual"}],
    "forced_by": None,
    "model_version": "gbm-2025-01",
    "rules_version": "2025.01",
    "transaction": {
        "transaction_id": "t-1",
        "user_id": "u-1",
        "amount": "912.40",
        "currency": "USD",
        "merchant_id": "m-1",
        "merchant_category": "shopping_net",
        "timestamp": BASE_MS - 1000,
        "card_id": "********0042",
        "device_id": "********beef",
        "ip_address": "********0.77",
    },
}

PATTERN_ALERT = {
    "alert_id": "pattern-CARD_TESTING-20250115T1210Z-abcdefghijklmnopqrstuvwx",
    "kind": "pattern",
    "created_at": BASE_MS + 60_000,
    "environment": "test",
    "score": 90,
    "decision": "alert",
    "reasons": [{"code": "CARD_TESTING", "score": 90, "explanation": "12 small amounts in 10 minutes"}],
    "finding": {"type": "CARD_TESTING", "entity": "********0042", "window_end": BASE_MS, "details": {"count": 12}},
}


def transaction_alert(transaction_id: str, *, score: int = 87, created_at: int = BASE_MS, **changes: Any) -> dict:
    alert = copy.deepcopy(TRANSACTION_ALERT)
    alert.update(alert_id=f"txn-{transaction_id}", score=score, created_at=created_at, **changes)
    alert["transaction"]["transaction_id"] = transaction_id
    return alert
