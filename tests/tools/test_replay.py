"""make replay: each failure queue's records (AWS's shapes) re-driven into the pipeline, against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools.deploy import replay
from tools.deploy.replay import Replayer

REGION = "us-east-1"
SUFFIX = "test"
ACCOUNT = "123456789012"
DETECT_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:detect-fraud-{SUFFIX}"
ANALYZE_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:analyze-patterns-{SUFFIX}"


class RecordingInvoker:
    """Stands in for Lambda: records each invocation; fails those ``fail`` says to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail: set[str] = set()

    def __call__(self, function: str, payload: Any) -> tuple[bool, Any]:
        self.calls.append((function, payload))
        if function in self.fail:
            return False, {"errorType": "RuntimeError", "errorMessage": "still broken"}
        return True, {"batchItemFailures": []} if "Records" in payload else {"result": "alert"}


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        sqs, dynamodb = session.client("sqs"), session.client("dynamodb")
        urls = {
            key: sqs.create_queue(QueueName=name.format(suffix=SUFFIX))["QueueUrl"]
            for key, name in {**replay.QUEUES, "alerts-queue": replay.ALERTS_QUEUE}.items()
        }
        stream_arn = dynamodb.create_table(
            TableName=f"transactions-{SUFFIX}",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "transaction_id", "AttributeType": "S"},
                {"AttributeName": "timestamp", "AttributeType": "N"},
            ],
            KeySchema=[
                {"AttributeName": "transaction_id", "KeyType": "HASH"},
                {"AttributeName": "timestamp", "KeyType": "RANGE"},
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        # botocore >= 1.40 sends stream calls to an account-based endpoint moto 5.2 does not route.
        streams = session.client("dynamodbstreams", endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com")
        invoker = RecordingInvoker()
        yield SimpleNamespace(
            session=session,
            sqs=sqs,
            dynamodb=dynamodb,
            streams=streams,
            urls=urls,
            stream_arn=stream_arn,
            invoker=invoker,
            replayer=lambda dry_run=False: Replayer(session, SUFFIX, invoke=invoker, streams=streams, dry_run=dry_run),
        )


def write(cloud: SimpleNamespace, transaction_id: str, kind: str) -> None:
    cloud.dynamodb.put_item(
        TableName=f"transactions-{SUFFIX}",
        Item={
            "transaction_id": {"S": transaction_id},
            "timestamp": {"N": "0" if kind == "claim" else "1736942400000"},
            "kind": {"S": kind},
        },
    )


def sequence_numbers(cloud: SimpleNamespace) -> dict[str, str]:
    """transaction id + kind -> its stream record's sequence number."""
    shard = cloud.streams.describe_stream(StreamArn=cloud.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = cloud.streams.get_shard_iterator(
        StreamArn=cloud.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = cloud.streams.get_records(ShardIterator=iterator)["Records"]
    return {
        f"{r['dynamodb']['NewImage']['transaction_id']['S']}/{r['dynamodb']['NewImage']['kind']['S']}": r["dynamodb"][
            "SequenceNumber"
        ]
        for r in records
    } | {"shard": shard}


def batch_info(cloud: SimpleNamespace, start: str, end: str, shard: str, size: int) -> dict[str, Any]:
    return {
        "shardId": shard,
        "startSequenceNumber": start,
        "endSequenceNumber": end,
        "approximateArrivalOfFirstRecord": "2025-01-15T12:00:00Z",
        "approximateArrivalOfLastRecord": "2025-01-15T12:00:01Z",
        "batchSize": size,
        "streamArn": cloud.stream_arn,
    }


def send(cloud: SimpleNamespace, queue: str, body: Any, **attributes: str) -> None:
    cloud.sqs.send_message(
        QueueUrl=cloud.urls[queue],
        MessageBody=body if isinstance(body, str) else json.dumps(body),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def depth(cloud: SimpleNamespace, queue: str) -> int:
    attributes = cloud.sqs.get_queue_attributes(
        QueueUrl=cloud.urls[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_mapping_failure_record_is_replayed_from_the_stream_by_sequence_number(cloud):
    write(cloud, "t-1", "claim")
    write(cloud, "t-1", "transaction")
    write(cloud, "t-2", "claim")
    write(cloud, "t-2", "transaction")
    write(cloud, "t-3", "transaction")  # after the failed batch: not replayed
    numbers = sequence_numbers(cloud)
    send(
        cloud,
        "stream",
        {  # Lambda's on-failure record for a DynamoDB stream batch: metadata only
            "requestContext": {
                "requestId": "r-1",
                "functionArn": DETECT_ARN,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 3,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": "2025-01-15T12:00:05Z",
            "DDBStreamBatchInfo": batch_info(
                cloud, numbers["t-1/claim"], numbers["t-2/transaction"], numbers["shard"], 4
            ),
        },
    )

    report = cloud.replayer().replay(["stream"])

    [(function, payload)] = cloud.invoker.calls
    assert function == DETECT_ARN
    images = [r["dynamodb"]["NewImage"]["transaction_id"]["S"] for r in payload["Records"]]
    assert images == ["t-1", "t-2"]  # the inserted transactions of the range, claims filtered out
    assert all(r["eventSourceARN"] == cloud.stream_arn for r in payload["Records"])
    assert all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int) for r in payload["Records"])
    assert [o.ok for o in report.outcomes] == [True]
    assert depth(cloud, "stream") == 0


def test_a_transaction_repaired_in_the_table_after_it_failed_is_replayed_as_it_is_stored_now(cloud):
    write(cloud, "t-1", "transaction")  # stored without the fields detect-fraud needs: it failed
    numbers = sequence_numbers(cloud)
    info = batch_info(cloud, numbers["t-1/transaction"], numbers["t-1/transaction"], numbers["shard"], 1)
    send(cloud, "stream", {"requestContext": {"functionArn": DETECT_ARN}, "DDBStreamBatchInfo": info})
    [record] = cloud.streams.get_records(
        ShardIterator=cloud.streams.get_shard_iterator(
            StreamArn=cloud.stream_arn, ShardId=numbers["shard"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"]
    event = {"source": "fraud.transactions", "detail": {**record, "eventSourceARN": cloud.stream_arn}}
    event["detail"]["dynamodb"].pop("ApproximateCreationDateTime")
    send(cloud, "function-failures", {"requestContext": {"functionArn": DETECT_ARN}, "requestPayload": event})
    repaired = {
        "transaction_id": {"S": "t-1"},
        "timestamp": {"N": "1736942400000"},
        "kind": {"S": "transaction"},
        "user_id": {"S": "u-1"},
    }
    cloud.dynamodb.put_item(TableName=f"transactions-{SUFFIX}", Item=repaired)

    report = cloud.replayer().replay(["stream", "function-failures"])

    [(_, batch), (_, replayed_event)] = cloud.invoker.calls
    assert [r["dynamodb"]["NewImage"] for r in batch["Records"]] == [repaired]
    assert replayed_event["detail"]["dynamodb"]["NewImage"] == repaired
    assert [o.ok for o in report.outcomes] == [True, True]
    assert "1 item(s) as stored now" in report.outcomes[0].action
    assert "the item as stored now" in report.outcomes[1].action


def test_a_pipe_failure_record_goes_to_detect_fraud_even_with_an_unknown_shard_id(cloud):
    write(cloud, "t-1", "transaction")
    numbers = sequence_numbers(cloud)
    info = batch_info(cloud, numbers["t-1/transaction"], numbers["t-1/transaction"], "shardId-unknown", 1)
    send(
        cloud,
        "stream",
        {
            "context": {
                "partnerResourceArn": f"arn:aws:pipes:{REGION}:{ACCOUNT}:pipe/fraud-stream-{SUFFIX}",
                "condition": "RetryAttemptsExhausted",
            },
            "version": "1.0",
            "timestamp": "2025-01-15T12:00:05Z",
            "DDBStreamBatchInfo": info,
        },
    )

    cloud.replayer().replay(["stream"])

    [(function, payload)] = cloud.invoker.calls
    assert function == f"detect-fraud-{SUFFIX}"
    assert len(payload["Records"]) == 1


def test_async_failures_and_rule_target_failures_are_invoked_again_with_their_event(cloud):
    event = {"source": "fraud.transactions", "detail-type": "TransactionInserted", "detail": {"eventName": "INSERT"}}
    schedule = {"source": "aws.events", "detail-type": "Scheduled Event", "time": "2025-01-15T12:10:00Z"}
    send(
        cloud,
        "function-failures",
        {
            "version": "1.0",
            "timestamp": "2025-01-15T12:00:05Z",
            "requestContext": {
                "requestId": "r-2",
                "functionArn": f"{DETECT_ARN}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "ConfigError", "errorMessage": "invalid rules configuration"},
        },
    )
    send(cloud, "events", schedule, RULE_ARN="arn:rule", TARGET_ARN=ANALYZE_ARN, ERROR_CODE="Throttling")

    report = cloud.replayer().replay(["function-failures", "events"])

    assert cloud.invoker.calls == [(f"{DETECT_ARN}:$LATEST", event), (ANALYZE_ARN, schedule)]
    assert all(o.ok for o in report.outcomes)
    assert depth(cloud, "function-failures") == depth(cloud, "events") == 0


def test_unpublished_alerts_go_back_to_the_alerts_queue(cloud):
    alert = {"alert_id": "txn-1", "kind": "transaction", "decision": "alert"}
    send(cloud, "alerts", alert)

    cloud.replayer().replay(["alerts"])

    [message] = cloud.sqs.receive_message(QueueUrl=cloud.urls["alerts-queue"])["Messages"]
    assert json.loads(message["Body"]) == alert
    assert depth(cloud, "alerts") == 0


def test_a_dry_run_shows_what_it_would_do_and_changes_nothing(cloud):
    write(cloud, "t-1", "transaction")
    numbers = sequence_numbers(cloud)
    info = batch_info(cloud, numbers["t-1/transaction"], numbers["t-1/transaction"], numbers["shard"], 1)
    send(cloud, "stream", {"requestContext": {"functionArn": DETECT_ARN}, "DDBStreamBatchInfo": info})
    send(cloud, "alerts", {"alert_id": "txn-1", "kind": "transaction", "decision": "alert"})

    report = cloud.replayer(dry_run=True).replay()

    assert cloud.invoker.calls == []
    assert [o.action for o in report.outcomes] == [
        f"invoke detect-fraud-{SUFFIX} with 1 of 1 stream record(s) "
        f"(sequence {numbers['t-1/transaction']} to {numbers['t-1/transaction']})",
        f"send alert txn-1 back to fraud-alerts-{SUFFIX}",
    ]
    assert depth(cloud, "stream") == depth(cloud, "alerts") == 1
    assert cloud.sqs.receive_message(QueueUrl=cloud.urls["alerts"]).get("Messages")  # visible again at once
    assert "Messages" not in cloud.sqs.receive_message(QueueUrl=cloud.urls["alerts-queue"])


def test_a_replay_that_fails_again_keeps_the_message_and_does_not_stop_the_others(cloud):
    schedule = {"source": "aws.events", "detail-type": "Scheduled Event"}
    send(cloud, "events", schedule, TARGET_ARN=ANALYZE_ARN)
    send(cloud, "events", schedule, TARGET_ARN=DETECT_ARN)
    send(cloud, "events", "not json")
    cloud.invoker.fail.add(ANALYZE_ARN)

    report = cloud.replayer().replay(["events"])

    assert sorted(o.ok for o in report.outcomes) == [False, False, True]
    failed = next(o for o in report.outcomes if o.action.startswith("invoke analyze"))
    assert "still broken" in failed.detail
    assert depth(cloud, "events") == 2


def test_the_command_exits_non_zero_when_something_was_kept(cloud, capsys, monkeypatch):
    send(cloud, "events", "not json")
    monkeypatch.setattr(replay, "Replayer", lambda session, suffix, dry_run: cloud.replayer(dry_run))

    assert replay.main(["--env", SUFFIX, "--queue", "events"]) == 1
    assert f"fraud-events-dlq-{SUFFIX}: replayed 0, kept 1" in capsys.readouterr().out
    assert replay.main(["--env", SUFFIX, "--dry-run"]) == 0
