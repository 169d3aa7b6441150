"""The local cloud's queue pollers read SQS in process (tools/emulator/moto_sqs.py): the same answer as
ReceiveMessage and DeleteMessageBatch through boto3, on queues in the same state."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tools.emulator import moto_sqs
from tools.emulator.localaws import LocalAWS

VOLATILE = {"MessageId", "ReceiptHandle"}  # new per message and per receive
VOLATILE_ATTRIBUTES = {"SentTimestamp", "ApproximateFirstReceiveTimestamp"}  # epoch milliseconds of each queue's own
# and a FIFO queue's SequenceNumber, each queue's own


@pytest.fixture(scope="module")
def sqs(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("sqs")


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    """The message without what differs between two queues (ids, handles, the moments of each queue's own), after
    checking those are there and of boto3's types."""
    assert all(isinstance(message[key], str) and message[key] for key in VOLATILE)
    assert all(isinstance(value, str) for value in message["Attributes"].values())
    assert message["Attributes"].keys() >= VOLATILE_ATTRIBUTES
    attributes = {k: v for k, v in message["Attributes"].items() if k not in {*VOLATILE_ATTRIBUTES, "SequenceNumber"}}
    return {**{k: v for k, v in message.items() if k not in VOLATILE}, "Attributes": attributes}


def receive_both(sqs: Any, aws: LocalAWS, through_boto3: str, in_process: str) -> tuple[list[Any], list[Any]]:
    expected = sqs.receive_message(
        QueueUrl=through_boto3,
        MaxNumberOfMessages=10,
        VisibilityTimeout=30,
        WaitTimeSeconds=0,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )["Messages"]
    return expected, moto_sqs.receive(in_process, aws.region, max_messages=10, visibility_s=30, wait_s=0)


def send_the_same(sqs: Any, urls: list[str]) -> None:
    for url in urls:
        sqs.send_message(
            QueueUrl=url,
            MessageBody='{"alert_id": "a1"}',
            MessageSystemAttributes={
                "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe"}
            },
        )
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

    expected, found = receive_both(sqs, aws, through_boto3, in_process)

    assert [comparable(m) for m in found] == [comparable(m) for m in expected]
    assert found[0]["Attributes"]["AWSTraceHeader"] == "Root=1-5759e988-bd862e3fe"
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


def test_a_fifo_queue_s_attributes_come_as_receive_message_gives_them(aws: LocalAWS, sqs: Any) -> None:
    urls = [
        sqs.create_queue(QueueName=f"{side}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
        for side in ("boto3-side", "in-process")
    ]
    for url in urls:
        sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="g1", MessageDeduplicationId="d1")

    expected, found = receive_both(sqs, aws, *urls)

    assert [comparable(m) for m in found] == [comparable(m) for m in expected]
    assert {"MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} <= found[0]["Attributes"].keys()


def test_a_long_poll_returns_a_message_sent_while_it_waits(aws: LocalAWS, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    received: list[list[dict[str, Any]]] = []
    waiting = threading.Thread(
        target=lambda: received.append(moto_sqs.receive(url, aws.region, max_messages=1, visibility_s=30, wait_s=20))
    )
    waiting.start()
    sqs.send_message(QueueUrl=url, MessageBody="while waiting")
    waiting.join(timeout=60)

    assert [[m["Body"] for m in batch] for batch in received] == [["while waiting"]]
