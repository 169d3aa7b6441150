"""Lambda event source mappings on SQS queues.

Read from ``ListEventSourceMappings``: batch size (up to 10 per receive), filter criteria (messages
that no filter matches are deleted, as Lambda does), ``ReportBatchItemFailures`` (the reported
messages stay, the others are deleted; an invalid report fails the batch), a function error fails the
whole batch. A failed message comes back after the queue's visibility timeout divided by
``time_scale``; the receive count and the redrive to the dead-letter queue after ``maxReceiveCount``
are moto's own, done on receive. Lambda polls with several batches at once (five to start with):
here ``min(5, MaximumConcurrency, the function's sandboxes)`` long-polling threads per mapping. They receive
and delete in process (``tools.emulator.moto_sqs``: moto's answers without an HTTP round trip each).
"""

from __future__ import annotations

import json
import time
from typing import Any

from tools.emulator import moto_sqs
from tools.emulator.integrations._mappings import EventSourceMapping, read_mappings
from tools.emulator.integrations.base import Context, Poller, PollingIntegration, matches
from tools.emulator.runtime import Invocation

INITIAL_POLLERS = 5  # Lambda's SQS event source starts with five concurrent batches
LONG_POLL_S = 1


class QueuePoller(Poller):
    def __init__(self, mapping: EventSourceMapping, ctx: Context, number: int, queue_url: str, visibility_s: int):
        super().__init__(f"esm:{mapping.uuid}#{number}", ctx.activity)
        self.mapping = mapping
        self.ctx = ctx
        self.function = ctx.runtime.function(mapping.function_arn).name
        self.queue_url = queue_url
        self.region = mapping.source_arn.split(":")[3]
        self.visibility_s = visibility_s
        self.invocations = 0
        self.failed_messages = 0

    def poll(self) -> bool:
        # A long poll (moto wakes it when a message arrives). It is not counted as activity while it
        # waits: a message that was received and is being processed shows in the queue's backlog.
        messages = moto_sqs.receive(
            self.queue_url,
            self.region,
            max_messages=min(10, self.mapping.batch_size),
            visibility_s=self.visibility_s,
            wait_s=LONG_POLL_S,
        )
        if not messages:
            return False
        self.activity.start()
        try:
            now = time.time()
            for message in messages:
                if message.get("Attributes", {}).get("ApproximateReceiveCount") == "1":
                    sent = int(message["Attributes"]["SentTimestamp"]) / 1000
                    self.ctx.timings.add(f"sqs (sent to received by {self.function})", now - sent)
            self._process(messages)
        finally:
            self.activity.done()
        return True

    def idle_wait(self) -> None:
        pass  # the long poll was the wait

    def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [self._record(m) for m in messages]
        kept = [r for r in records if matches(self.mapping.filters, _filterable(r))]
        self._delete_messages([r for r in records if r not in kept])  # Lambda deletes unmatched messages
        if not kept:
            return
        outcome = self.ctx.runtime.invoke(self.mapping.function_arn, {"Records": kept})
        self.invocations += 1
        failed = self._failed_ids(kept, outcome)
        self.failed_messages += len(failed)
        succeeded = [r for r in kept if r["messageId"] not in failed]
        self._delete_messages(succeeded)
        # A failed message is not counted as failed for good: it comes back, or moto moves it to the DLQ.
        self.ctx.ledger.record(self.function, ok=len(succeeded))

    def _failed_ids(self, records: list[dict[str, Any]], outcome: Invocation) -> set[str]:
        ids = {r["messageId"] for r in records}
        if not outcome.ok:
            return ids
        if not self.mapping.report_item_failures or not isinstance(outcome.result, dict):
            return set()
        reported = {
            f.get("itemIdentifier") for f in outcome.result.get("batchItemFailures") or [] if isinstance(f, dict)
        }
        if not reported <= ids:
            return ids  # an invalid report fails the whole batch, as Lambda does
        return ids & reported  # the reported ids (all of them are ids of the batch)

    def _delete_messages(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        failed = moto_sqs.delete(self.queue_url, self.region, [r["receiptHandle"] for r in records])
        if failed:
            raise RuntimeError(f"{self.name}: could not delete {len(failed)} messages: invalid receipt handles")

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                k: {
                    "stringValue": v.get("StringValue"),
                    "binaryValue": v.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": v["DataType"],
                }
                for k, v in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.source_arn,
            "awsRegion": self.region,
        }


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """Lambda filters SQS records with ``body`` parsed when it is JSON."""
    try:
        return {**record, "body": json.loads(record["body"])}
    except ValueError:
        return record


class QueueMappings(PollingIntegration):
    name = "queue-mappings"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.sqs = ctx.session.client("sqs")
        self.queues: dict[str, str] = {}  # mapping uuid -> queue URL
        for mapping in read_mappings(ctx.session, "sqs"):
            name, account = mapping.source_arn.split(":")[5], mapping.source_arn.split(":")[4]
            url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self.queues[mapping.uuid] = url
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
            # A failed message comes back after the queue's visibility timeout, compressed.
            visibility = max(1, round(int(attributes["Attributes"]["VisibilityTimeout"]) / ctx.time_scale))
            limit = ctx.runtime.concurrency_limit(mapping.function_arn)
            count = max(1, min(INITIAL_POLLERS, mapping.max_concurrency or INITIAL_POLLERS, limit))
            self.pollers.extend(QueuePoller(mapping, ctx, n, url, visibility) for n in range(count))

    def backlog(self) -> int:
        """Messages in the consumed queues, visible or not (being processed or waiting for a retry).

        Read from moto's queues, not from ``GetQueueAttributes``: moto computes the visible and the
        not-visible counts one after the other, so a message whose visibility timeout ends between the two
        is in neither, and the pipeline looked settled while a failed message waited for its retry."""
        from moto.sqs.models import sqs_backends

        total = 0
        for url in self.queues.values():
            account, name = url.rstrip("/").split("/")[-2:]
            total += len(sqs_backends[account][self.ctx.topology.region].queues[name]._messages)
        return total

    def counters(self) -> dict[str, Any]:
        result: dict[str, dict[str, int]] = {}
        for poller in self.pollers:
            assert isinstance(poller, QueuePoller)
            entry = result.setdefault(f"esm:{poller.mapping.uuid}", {"invocations": 0, "failed_messages": 0})
            entry["invocations"] += poller.invocations
            entry["failed_messages"] += poller.failed_messages
        return result
