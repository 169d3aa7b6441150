"""SQS for the local cloud's own queue pollers (the Lambda service's side of an event source mapping), in process.

``receive`` and ``delete`` are ``ReceiveMessage`` (every system and message attribute) and ``DeleteMessageBatch``
asked of moto's SQS backend directly: the same messages, receive counts, visibility, long poll and redrive to the
dead-letter queue (all moto's, done in ``SQSBackend.receive_message``), without the HTTP request, moto's request
parser and response serialiser and botocore's client around each call. The answer has the shape boto3 gives
(``Attributes`` as strings, ``MessageAttributes`` with ``BinaryValue`` as bytes); a test compares the two.

Only the emulator's pollers use this: a function's calls still go through the gateway (faults, network paths,
call counts).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from tools.emulator.timings import TIMINGS

# What ReceiveMessage returns with AttributeNames=["All"], in moto's order (moto's SQSResponse.receive_message).
SYSTEM_ATTRIBUTES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "SequenceNumber",
)


def _backend(queue_url: str, region: str) -> tuple[Any, str]:
    from moto.sqs.models import sqs_backends

    account, name = queue_url.rstrip("/").split("/")[-2:]
    return sqs_backends[account][region], name


def receive(queue_url: str, region: str, *, max_messages: int, visibility_s: int, wait_s: int) -> list[dict[str, Any]]:
    """``ReceiveMessage`` with every attribute: the messages as boto3 returns them (``[]`` after ``wait_s``
    seconds without one). moto's errors (a missing queue) propagate."""
    if not 1 <= max_messages <= 10:
        raise ValueError(f"max_messages must be between 1 and 10, got {max_messages}")
    started = time.perf_counter()
    backend, name = _backend(queue_url, region)
    messages = backend.receive_message(name, max_messages, wait_s, visibility_s, ["All"])
    found = [_message(m) for m in messages]
    TIMINGS.add("moto sqs.ReceiveMessage (in process)", time.perf_counter() - started)
    return found


def _message(message: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
    }
    if message.message_attributes:
        found["MessageAttributes"] = copy.deepcopy(message.message_attributes)
        found["MD5OfMessageAttributes"] = message.attribute_md5
    values = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_timestamp),
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        "MessageDeduplicationId": message.deduplication_id,
        "MessageGroupId": message.group_id,
        "AWSTraceHeader": (message.system_attributes or {}).get("AWSTraceHeader", {}).get("StringValue"),
        "SequenceNumber": message.sequence_number,
    }
    found["Attributes"] = {key: values[key] for key in SYSTEM_ATTRIBUTES if values[key] is not None}
    return found


def delete(queue_url: str, region: str, receipt_handles: list[str]) -> list[str]:
    """``DeleteMessageBatch`` of ``receipt_handles`` (any number): the handles moto found invalid (none: all
    deleted)."""
    started = time.perf_counter()
    backend, name = _backend(queue_url, region)
    _, failed = backend.delete_message_batch(
        name, [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(receipt_handles)]
    )
    TIMINGS.add("moto sqs.DeleteMessageBatch (in process)", time.perf_counter() - started)
    return [receipt_handles[int(f["Id"])] for f in failed]
