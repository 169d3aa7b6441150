"""The local cloud's queue pollers read SQS in process (tools/emulator/moto_sqs.py): the same answer as
ReceiveMessage and DeleteMessageBatch through boto3, on queues in the same state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tools.emulator import moto_sqs
from tools.emulator.localaws import LocalAWS

VOLATILE = {"MessageId", "ReceiptHandle"}  # new per message and per receive
VOLATILE_ATTRIBUTES = {"SentTimestamp", "ApproximateFirstReceiveTimestamp"}  # epoch milliseconds of each queue's own


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAWS]:
    with LocalAWS() as running:
        yield running


@pytest.fixture(scope="module")
def sqs(aws: LocalAWS) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=aws.endpoint,
        region_name=aws.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    attributes = {k: v for k, v in message["Attributes"].items() if k not in VOLATILE_ATTRIBUTES}
    return {**{k: v for k, v in message.items() if k not in VOLATILE}, "Attributes": attributes}


def send_the_same(sqs: Any, urls: list[str]) -> None:
    for url in urls:
        sqs.send_message(QueueUrl=url, MessageBody='{"alert_id": "a1"}')
        sqs.send_message(
            QueueUrl=url,
            MessageBody="with attributes",
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": "alert"},
                "count": {"DataType": "Number", "StringValue": "3"},
                "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xffbytes"},
            },
        )


def test_an_in_process_receive_answers_as_receive_message_does(aws: LocalAWS, sqs: Any) -> None:
    through_boto3, in_process = (sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("boto3-side", "in-process"))
    send_the_same(sqs, [through_boto3, in_process])

    expected = sqs.receive_message(
        QueueUrl=through_boto3,
        MaxNumberOfMessages=10,
        VisibilityTimeout=30,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )["Messages"]
    found = moto_sqs.receive(in_process, aws.region, max_messages=10, visibility_s=30, wait_s=0)

    assert [comparable(m) for m in found] == [comparable(m) for m in expected]
    assert found[1]["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\xffbytes"
    assert found[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert moto_sqs.receive(in_process, aws.region, max_messages=10, visibility_s=30, wait_s=0) == [], "in flight"


def test_a_message_not_deleted_comes_back_with_its_receive_count_and_a_deleted_one_does_not(
    aws: LocalAWS, sqs: Any
) -> None:
    url = sqs.create_queue(QueueName="redelivery", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    send_the_same(sqs, [url])
    first = moto_sqs.receive(url, aws.region, max_messages=10, visibility_s=0, wait_s=0)

    assert moto_sqs.delete(url, aws.region, [first[0]["ReceiptHandle"], "not-a-handle"]) == ["not-a-handle"]

    again = moto_sqs.receive(url, aws.region, max_messages=10, visibility_s=30, wait_s=0)
    assert [m["Body"] for m in again] == ["with attributes"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_message_past_max_receive_count_moves_to_the_dead_letter_queue(aws: LocalAWS, sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="in-process-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName="in-process-redrive",
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "1"}}'},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="fails every time")

    assert len(moto_sqs.receive(url, aws.region, max_messages=1, visibility_s=0, wait_s=0)) == 1
    assert moto_sqs.receive(url, aws.region, max_messages=1, visibility_s=0, wait_s=0) == []
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq).get("Messages", [])] == ["fails every time"]


def test_a_batch_size_sqs_refuses_is_refused(aws: LocalAWS, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="bounds")["QueueUrl"]
    with pytest.raises(ValueError, match="between 1 and 10"):
        moto_sqs.receive(url, aws.region, max_messages=11, visibility_s=30, wait_s=0)
