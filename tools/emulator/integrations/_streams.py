"""Reading DynamoDB streams, for the integrations that consume them (pipes, event source mappings).

A ``StreamReader`` follows each shard with the ``NextShardIterator`` of its last ``GetRecords`` and
keeps the last sequence number it saw, to start again after it if an iterator expires. A
``StreamPoller`` sleeps until a table writes to a stream (moto runs in this process) rather than
polling on a timer. Record age and the failure record of a batch are shared here too.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tools.emulator import moto_dynamodb
from tools.emulator.integrations.base import Poller, iso, json_ready, now_iso
from tools.emulator.timings import Timings

WAKE_UP_S = 0.25  # the longest a stream poller sleeps without a write (stop, shard discovery)


@dataclass(frozen=True)
class StreamRecord:
    event: dict[str, Any]  # the record as a consumer gets it (JSON-ready, with eventSourceARN)
    shard_id: str
    created: float  # ApproximateCreationDateTime, epoch seconds

    @property
    def sequence_number(self) -> str:
        return self.event["dynamodb"]["SequenceNumber"]

    def age_s(self, time_scale: float) -> float:
        """How old the record is in the emulator's time (real seconds times the time scale)."""
        return (time.time() - self.created) * time_scale


class StreamReader:
    """Reads a DynamoDB stream from a starting position (``LATEST`` or ``TRIM_HORIZON``), in batches."""

    DISCOVER_EVERY_S = 5.0

    def __init__(self, session: Any, stream_arn: str, starting_position: str, timings: Timings) -> None:
        self.client = session.client("dynamodbstreams")
        self.stream_arn = stream_arn
        self.starting_position = starting_position if starting_position in ("LATEST", "TRIM_HORIZON") else "LATEST"
        self.timings = timings
        self.iterators: dict[str, str | None] = {}  # shard -> next iterator (None: the shard is closed)
        self.last_sequence: dict[str, str] = {}
        self.pending: deque[StreamRecord] = deque()  # read from the stream, not yet handed out
        self._discovered = 0.0
        self._discover()

    def _discover(self) -> None:
        """Start reading the shards not seen yet, from the starting position."""
        self._discovered = time.monotonic()
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self._iterator(shard["ShardId"])

    def _iterator(self, shard_id: str) -> str:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        if shard_id in self.last_sequence:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.last_sequence[shard_id])
        else:
            request.update(ShardIteratorType=self.starting_position)
        return self.client.get_shard_iterator(**request)["ShardIterator"]

    def _fetch(self, shard_id: str) -> list[StreamRecord]:
        iterator = self.iterators[shard_id]
        if iterator is None:
            return []
        try:
            reply = self.client.get_records(ShardIterator=iterator, Limit=1000)
        except self.client.exceptions.ExpiredIteratorException:
            reply = self.client.get_records(ShardIterator=self._iterator(shard_id), Limit=1000)
        self.iterators[shard_id] = reply.get("NextShardIterator")
        now = time.time()
        records = []
        for raw in reply["Records"]:
            created = raw["dynamodb"].get("ApproximateCreationDateTime")
            created_s = created.timestamp() if isinstance(created, datetime) else now
            self.timings.add("stream read (write to read)", now - created_s)
            records.append(StreamRecord({**json_ready(raw), "eventSourceARN": self.stream_arn}, shard_id, created_s))
        if records:
            self.last_sequence[shard_id] = records[-1].sequence_number
        return records

    def read(self, limit: int, keep: Callable[[dict[str, Any]], bool] | None = None) -> tuple[list[StreamRecord], int]:
        """Up to ``limit`` records that ``keep`` accepts, oldest first, and how many were read and
        dropped because it did not: filter criteria apply before batching, as in Lambda and Pipes,
        so a batch holds ``limit`` matching records when the stream has them."""
        batch: list[StreamRecord] = []
        dropped = 0
        fetched = False
        while len(batch) < limit:
            if not self.pending:
                if fetched:
                    break
                fetched = True
                if time.monotonic() - self._discovered > self.DISCOVER_EVERY_S:
                    self._discover()
                for shard_id in list(self.iterators):
                    self.pending.extend(self._fetch(shard_id))
                continue
            record = self.pending.popleft()
            if keep is None or keep(record.event):
                batch.append(record)
            else:
                dropped += 1
        return batch, dropped


class StreamPoller(Poller):
    """A poller of a DynamoDB stream that sleeps until some table writes a stream record."""

    def before_poll(self) -> None:
        self._generation = moto_dynamodb.stream_generation()

    def idle_wait(self) -> None:
        moto_dynamodb.wait_for_stream_write(self._generation, timeout_s=WAKE_UP_S)


def batch_failure_record(
    records: list[StreamRecord],
    stream_arn: str,
    condition: str,
    attempts: int,
    *,
    function_arn: str | None = None,
    request_id: str | None = None,
    function_error: bool = True,
) -> dict[str, Any]:
    """The record Lambda (or a pipe) sends to an on-failure destination for stream records it gave up on."""
    info: dict[str, Any] = {
        "version": "1.0",
        "timestamp": now_iso(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "DDBStreamBatchInfo": {
            "shardId": records[0].shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": iso(records[0].created),
            "approximateArrivalOfLastRecord": iso(records[-1].created),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
    if attempts:
        info["responseContext"] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            info["responseContext"]["functionError"] = "Unhandled"
    return info


def split_expired(
    records: list[StreamRecord], max_age_s: int, time_scale: float
) -> tuple[list[StreamRecord], list[StreamRecord]]:
    """(expired, fresh): records older than ``max_age_s`` (-1: no limit) come first in a stream."""
    if max_age_s < 0:
        return [], records
    old = [r.age_s(time_scale) > max_age_s for r in records]
    return [r for r, o in zip(records, old, strict=True) if o], [r for r, o in zip(records, old, strict=True) if not o]
