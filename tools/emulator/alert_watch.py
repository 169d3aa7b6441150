"""The benchmark's alert watcher, in its own process: reads the alert topic's SQS subscription.

    python -m tools.emulator.alert_watch ENDPOINT REGION QUEUE_URL > arrivals.jsonl

It long-polls the queue (1 s waits) until its standard input closes, then reads once more without
waiting and exits. Each output line is ``{"transaction_id", "arrived", "published"}`` (epoch seconds:
when the watcher read the message, and SNS's ``SentTimestamp``); ``transaction_id`` is null for an
alert of another kind (a pattern). Running outside the benchmark's process keeps the watcher's own work
(botocore's, the JSON) off the CPU measured for the local cloud, which runs in that process, as it is
off a peer's: each cloud is charged for serving the watcher's calls, not for making them.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import boto3

CREDENTIAL = "test"


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit("usage: python -m tools.emulator.alert_watch ENDPOINT REGION QUEUE_URL")
    endpoint, region, url = argv
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=CREDENTIAL,
        aws_secret_access_key=CREDENTIAL,
    )
    stopping = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.buffer.read()
        stopping.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    print(json.dumps({"ready": True}), flush=True)
    while not stopping.is_set():
        drain(sqs, url, wait_s=1)
    drain(sqs, url, wait_s=0)
    return 0


def drain(sqs: Any, url: str, wait_s: int) -> None:
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s, AttributeNames=["SentTimestamp"]
    ).get("Messages", [])
    now = time.time()
    for message in messages:
        envelope = json.loads(message["Body"])
        alert = json.loads(envelope["Message"]) if "Message" in envelope else envelope
        transaction_id = alert["transaction"]["transaction_id"] if alert.get("kind") == "transaction" else None
        published = int(message["Attributes"]["SentTimestamp"]) / 1000
        print(json.dumps({"transaction_id": transaction_id, "arrived": now, "published": published}), flush=True)
    if messages:
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
