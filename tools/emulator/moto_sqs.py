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

import threading
import time
from typing import Any

from tools.emulator.timings import TIMINGS

_locks: dict[tuple[str, str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def _queue(queue_url: str, region: str) -> tuple[Any, str, threading.Lock]:
    """moto's SQS backend for the queue, its name, and the lock the pollers of that queue take turns with."""
    from moto.sqs.models import sqs_backends

    account, name = queue_url.rstrip("/").split("/")[-2:]
    with _locks_guard:
        lock = _locks.setdefault((account, region, name), threading.Lock())
    return sqs_backends[account][region], name, lock


def receive(
    queue_url: str, region: str, *, max_messages: int, visibility_s: int, wait_s: float
) -> list[dict[str, Any]]:
    """``ReceiveMessage`` with every attribute: the messages as boto3 returns them, or ``[]`` when none came within
    ``wait_s`` seconds (a long poll: a send wakes it). moto's errors (a missing queue) propagate.

    moto's receive takes no lock of its own: two pollers reclaiming the same message whose visibility ran out (or
    moving it to the dead-letter queue) would both change the queue's sets (a KeyError, a ValueError; through
    the API botocore retried the 500 that made). Here the pollers of a queue take turns with a lock around a
    receive that does not wait, and wait for a send outside it."""
    if not 1 <= max_messages <= 10:
        raise ValueError(f"max_messages must be between 1 and 10, got {max_messages}")
    started = time.perf_counter()
    backend, name, lock = _queue(queue_url, region)
    deadline = time.monotonic() + wait_s
    while True:
        with lock:
            messages = backend.receive_message(name, max_messages, 0, visibility_s, ["All"])
        remaining = deadline - time.monotonic()
        if messages or remaining <= 0:
            break
        waited = time.monotonic()
        backend.get_queue(name).wait_for_messages(min(remaining, 1.0))  # until a message is visible
        if time.monotonic() - waited < 0.001:
            time.sleep(0.005)  # visible but not receivable (another poller's turn): do not spin on the lock
    found = [_message(m) for m in messages]
    TIMINGS.add("moto sqs.ReceiveMessage (in process)", time.perf_counter() - started)
    return found


def _message(message: Any) -> dict[str, Any]:
    """One message of moto's receive (already a copy) as boto3 parses the API's answer (moto's
    ``SQSResponse.receive_message`` with every attribute, then its serialiser and botocore's parser)."""
    found: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
    }
    if message.message_attributes:
        found["MessageAttributes"] = {name: _attribute(value) for name, value in message.message_attributes.items()}
        found["MD5OfMessageAttributes"] = message.attribute_md5
    attributes = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_timestamp),
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.deduplication_id is not None:
        attributes["MessageDeduplicationId"] = message.deduplication_id
    if message.group_id is not None:
        attributes["MessageGroupId"] = message.group_id
    if message.system_attributes and message.system_attributes.get("AWSTraceHeader"):
        attributes["AWSTraceHeader"] = message.system_attributes["AWSTraceHeader"].get("StringValue")
    if message.sequence_number is not None:
        attributes["SequenceNumber"] = message.sequence_number
    found["Attributes"] = attributes
    return found


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as boto3 gets it: a binary value is bytes (SNS's raw delivery stores base64 text,
    which the serialiser encodes once more and botocore decodes back to that text's bytes)."""
    binary = value.get("BinaryValue")
    if isinstance(binary, str):
        return {**value, "BinaryValue": binary.encode("utf-8")}
    return dict(value)


def delete(queue_url: str, region: str, receipt_handles: list[str]) -> list[str]:
    """``DeleteMessageBatch`` of ``receipt_handles`` (any number, each once): the handles moto found invalid
    (none: all deleted)."""
    started = time.perf_counter()
    backend, name, lock = _queue(queue_url, region)
    with lock:
        _, failed = backend.delete_message_batch(
            name, [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(receipt_handles)]
        )
    TIMINGS.add("moto sqs.DeleteMessageBatch (in process)", time.perf_counter() - started)
    return [receipt_handles[int(f["Id"])] for f in failed]
