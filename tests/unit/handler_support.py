"""Helpers for the handler tests: the function environment, moto resources, real event shapes.

The AWS resources match docs/contracts.md (tables, both GSIs, the stream, the alerts queue, the topic
with an SQS subscription to observe what was published, the rules parameter). The event templates in
``events/`` are the shapes AWS delivers; the builders below fill them in. Fixtures are in conftest.py.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3

from fraud.storage import deserialize_item, serialize_item

EVENTS = Path(__file__).resolve().parent / "events"
DEFAULT_RULES = Path(__file__).resolve().parents[2] / "lambdas" / "fraud" / "rules.default.json"
REGION = "us-east-1"
SUFFIX = "test"

FUNCTION_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_SERVICE_NAME": "fraud-detection",
    "POWERTOOLS_METRICS_NAMESPACE": "FraudDetection",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "ENVIRONMENT": SUFFIX,
    "TABLE_NAME": f"transactions-{SUFFIX}",
    "USER_INDEX_NAME": "user_id-timestamp-index",
    "TIME_BUCKET_INDEX_NAME": "time_bucket-received_at-index",
    "TIME_BUCKET_SHARDS": "4",
    "STATE_TABLE_NAME": f"fraud-state-{SUFFIX}",
    "ALERTS_QUEUE_URL": "",  # set by the ``aws`` fixture once the queue exists
    "TOPIC_ARN": "",  # idem
    "RULES_PARAMETER_NAME": f"/fraud-detection/{SUFFIX}/rules-{SUFFIX}",
    "RULES_CACHE_SECONDS": "300",
    "ANALYSIS_WINDOW_MINUTES": "10",
    "HASH_KEY_PARAMETER_NAME": f"/fraud-detection/{SUFFIX}/hash-key-{SUFFIX}",
    "TRANSACTION_RETENTION_DAYS": "400",
    # The fraud team's tables (modules/cases): notify-team opens cases, detect-fraud reads the lists.
    "CASES_TABLE_NAME": f"fraud-cases-{SUFFIX}",
    "LISTS_TABLE_NAME": f"fraud-lists-{SUFFIX}",
    "LISTS_CACHE_SECONDS": "60",
    "CONSOLE_URL": f"https://console.example.com/{SUFFIX}",
}
HASH_KEY = "k" * 16 + "0123456789abcdef0123456789abcdef"  # what the SecureString holds in the tests

# Card numbers the tests send; no log line may ever hold one (tests/unit/conftest.py checks every line).
CARD_NUMBERS = ("4111111111111111", "5555555555554444", "378282246310005", "6011000990139424")

# 2025-01-15T12:00:00Z: transactions in the tests happen around here (in the past, as validation wants).
BASE_TS = 1_736_942_400_000
MINUTE_MS = 60_000


@dataclass
class FakeLambdaContext:
    function_name: str = "fraud-function-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:fraud-function-test"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/fraud-function-test"
    log_stream_name: str = "2025/01/15/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class LineCapture(logging.Handler):
    """Keeps every log line exactly as the functions' handler writes it (give it the kit's formatter)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def holds_a_test_card_number(line: str) -> bool:
    """True when ``line`` holds one of the card numbers the tests send, whatever its separators."""
    digits = "".join(ch for ch in line if ch.isdigit())
    return any(number in digits for number in CARD_NUMBERS)


# --- AWS resources (moto) -----------------------------------------------------------------------


def create_transactions_table(dynamodb: Any, name: str) -> str:
    """The table of docs/contracts.md "Data"; returns its stream ARN."""
    response = dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "transaction_id", "AttributeType": "S"},
            {"AttributeName": "timestamp", "AttributeType": "N"},
            {"AttributeName": "user_id", "AttributeType": "S"},
            {"AttributeName": "time_bucket", "AttributeType": "S"},
            {"AttributeName": "received_at", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "transaction_id", "KeyType": "HASH"},
            {"AttributeName": "timestamp", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": FUNCTION_ENV["USER_INDEX_NAME"],
                "KeySchema": [
                    {"AttributeName": "user_id", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": FUNCTION_ENV["TIME_BUCKET_INDEX_NAME"],
                "KeySchema": [
                    {"AttributeName": "time_bucket", "KeyType": "HASH"},
                    {"AttributeName": "received_at", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": [
                        "user_id",
                        "amount",
                        "currency",
                        "merchant_id",
                        "merchant_category",
                        "card_id",
                        "device_id",
                        "ip_address",
                        "country",
                    ],
                },
            },
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return response["TableDescription"]["LatestStreamArn"]


def create_state_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
    )


def table_items(aws: SimpleNamespace, table: str | None = None, *, recent: bool = False) -> list[dict[str, Any]]:
    """Every item of a table (a test may scan; the functions never do); the users' recent-activity entries
    (kind ``recent``, fraud/storage.py) only with ``recent=True``."""
    paginator = aws.dynamodb.get_paginator("scan")
    items = [
        deserialize_item(item)
        for page in paginator.paginate(TableName=table or aws.table_name, ConsistentRead=True)
        for item in page["Items"]
    ]
    return [item for item in items if recent or item.get("kind") != "recent"]


def drain_queue(aws: SimpleNamespace, queue_url: str) -> list[dict[str, Any]]:
    """Receive (and delete) every message of a queue: the message dicts, bodies unparsed."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = aws.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        aws.sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


def queued_alerts(aws: SimpleNamespace) -> list[dict[str, Any]]:
    """The alerts waiting on fraud-alerts-<suffix>, parsed."""
    return [json.loads(message["Body"]) for message in drain_queue(aws, aws.queue_url)]


def stream_records(aws: SimpleNamespace) -> list[dict[str, Any]]:
    """Every record on the table's stream, as Lambda and EventBridge Pipes receive them (JSON-ready)."""
    # botocore >= 1.40 sends stream calls to an account-based endpoint moto 5.2 does not route.
    streams = boto3.client(
        "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
    )
    shards = streams.describe_stream(StreamArn=aws.stream_arn)["StreamDescription"]["Shards"]
    records: list[dict[str, Any]] = []
    for shard in shards:
        iterator = streams.get_shard_iterator(
            StreamArn=aws.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            record = copy.deepcopy(record)
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if created is not None and not isinstance(created, (int, float)):
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            record["eventSourceARN"] = aws.stream_arn
            records.append(record)
    return records


# --- event builders -----------------------------------------------------------------------------


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def make_transaction(**overrides: Any) -> dict[str, Any]:
    """A valid request body (as JSON-ready values); ``None`` in ``overrides`` removes a field."""
    body: dict[str, Any] = {
        "transaction_id": "txn-0001",
        "user_id": "user-1",
        "amount": 42.5,
        "currency": "USD",
        "merchant_id": "merchant-1",
        "merchant_category": "grocery_pos",
        "timestamp": BASE_TS,
        "card_id": "tok_card_1",
        "country": "US",
        "location": {"lat": 40.7128, "lon": -74.006},
        "device_id": "device-1",
        "ip_address": "203.0.113.10",
        "channel": "pos",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def api_event(body: Any, *, base64_encoded: bool = False, request_id: str | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event for ``POST /transactions``; dicts are JSON-encoded."""
    event = load_event("api_gateway_rest_proxy")
    text = json.dumps(body) if isinstance(body, (dict, list)) else body
    if base64_encoded and text is not None:
        raw = text.encode("utf-8") if isinstance(text, str) else text
        text = base64.b64encode(raw).decode("ascii")
    event["body"] = text
    event["isBase64Encoded"] = base64_encoded
    event["requestContext"]["requestId"] = request_id or str(uuid.uuid4())
    return event


def stream_record(
    new_image: dict[str, Any], *, event_name: str = "INSERT", sequence_number: str = "100000000000000000001"
) -> dict[str, Any]:
    """A DynamoDB stream record carrying ``new_image`` (plain values, typed here)."""
    record = copy.deepcopy(load_event("dynamodb_stream_batch")["Records"][0])
    record["eventName"] = event_name
    record["eventID"] = uuid.uuid4().hex
    record["dynamodb"]["SequenceNumber"] = sequence_number
    record["dynamodb"]["Keys"] = serialize_item(
        {"transaction_id": new_image["transaction_id"], "timestamp": new_image["timestamp"]}
    )
    record["dynamodb"]["NewImage"] = serialize_item(new_image)
    return record


def eventbridge_event(record: dict[str, Any]) -> dict[str, Any]:
    """What the rule on the Pipe's bus hands to detect-fraud: one stream record as ``detail``."""
    event = load_event("eventbridge_stream_record")
    event["id"] = str(uuid.uuid4())
    event["detail"] = record
    return event


def stream_batch(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event source mapping batch with one record per body."""
    template = load_event("sqs_batch")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["receiptHandle"] = base64.b64encode(uuid.uuid4().bytes).decode("ascii")
        record["body"] = body
        records.append(record)
    return {"Records": records}


def scheduled_event(time: str) -> dict[str, Any]:
    event = load_event("scheduled_event")
    event["id"] = str(uuid.uuid4())
    event["time"] = time
    return event


def emf_metrics(captured_stdout: str) -> dict[str, float]:
    """Sum of every EMF counter (unit Count) printed to stdout (the Metrics utility's output)."""
    totals: dict[str, float] = {}
    for name, unit, value in emf_values(captured_stdout):
        if unit == "Count":
            totals[name] = totals.get(name, 0) + value
    return totals


def emf_values(captured_stdout: str) -> list[tuple[str, str, float]]:
    """Every EMF metric value printed to stdout, as (name, unit, value), in order."""
    values: list[tuple[str, str, float]] = []
    for line in captured_stdout.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                for item in value if isinstance(value, list) else [value]:
                    values.append((metric["Name"], metric.get("Unit", "None"), item))
    return values
