"""Reading DynamoDB streams, for the integrations that consume them (pipes, event source mappings).

A ``StreamReader`` follows each shard with the ``NextShardIterator`` of its last ``GetRecords`` and
keeps the last sequence number it saw, to start again after it if an iterator expires. A
``StreamPoller`` sleeps until a table writes to a stream (moto runs in this process) rather than
polling on a timer. ``Lanes`` run the batches of every shard at once, and of one shard several at a
time (a parallelization factor above 1), with the records of one partition key in order. Record age and
the failure record of a batch are shared here too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tools.emulator import moto_dynamodb
from tools.emulator.integrations.base import Activity, Poller, iso, now_iso
from tools.emulator.timings import Timings

log = logging.getLogger("emulator")

WAKE_UP_S = 0.25  # the longest a stream poller sleeps without a write (stop, shard discovery)
GET_RECORDS_LIMIT = 1000  # GetRecords' maximum


@dataclass(frozen=True)
class StreamRecord:
    event: dict[str, Any]  # the record as a consumer gets it (JSON-ready, with eventSourceARN)
    shard_id: str
    created: float  # ApproximateCreationDateTime, epoch seconds
    partition_key: str  # the item's hash key value (JSON), what a parallelization factor keeps in order

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
        self.pending: dict[str, deque[StreamRecord]] = {}  # per shard: read from the stream, not yet handed out
        self.read_up_to: dict[str, int] = {}  # per shard: its shard_writes() when a read found nothing more
        self.hash_key: str | None = None  # the table's partition key attribute (DescribeStream's KeySchema)
        self._discovered = 0.0
        self._discover()

    def _discover(self) -> None:
        """Start reading the shards not seen yet, from the starting position."""
        self._discovered = time.monotonic()
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        hashes = [k["AttributeName"] for k in description.get("KeySchema") or [] if k.get("KeyType") == "HASH"]
        self.hash_key = hashes[0] if hashes else None
        for shard in description["Shards"]:
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self._iterator(shard["ShardId"])
                self.pending[shard["ShardId"]] = deque()

    def shards(self) -> list[str]:
        """The stream's shards (new ones are discovered every ``DISCOVER_EVERY_S``)."""
        if time.monotonic() - self._discovered > self.DISCOVER_EVERY_S:
            self._discover()
        return list(self.iterators)

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
        written = moto_dynamodb.shard_writes(self.stream_arn, shard_id)
        if self.read_up_to.get(shard_id) == written:
            return []  # nothing written to this shard since a read found it empty: no GetRecords
        try:
            read, next_iterator = moto_dynamodb.read_shard(self.stream_arn, iterator, GET_RECORDS_LIMIT)
        except moto_dynamodb.ExpiredIterator:
            read, next_iterator = moto_dynamodb.read_shard(self.stream_arn, self._iterator(shard_id), GET_RECORDS_LIMIT)
        self.iterators[shard_id] = next_iterator
        if len(read) < GET_RECORDS_LIMIT:
            self.read_up_to[shard_id] = written
        else:
            self.read_up_to.pop(shard_id, None)
        now = time.time()
        records = []
        for raw, created_s in read:
            self.timings.add("stream read (write to read)", now - created_s)
            event = {**raw, "eventSourceARN": self.stream_arn}
            records.append(StreamRecord(event, shard_id, created_s, self._partition_key(event)))
        if records:
            self.last_sequence[shard_id] = records[-1].sequence_number
        return records

    def _partition_key(self, event: dict[str, Any]) -> str:
        """The record's item hash key value; all of its keys when the key schema is unknown (stricter)."""
        keys = event.get("dynamodb", {}).get("Keys") or {}
        value = keys.get(self.hash_key) if self.hash_key else None
        return json.dumps(value if value is not None else keys, sort_keys=True)

    def read(
        self, limit: int, keep: Callable[[dict[str, Any]], bool] | None = None, shard_id: str | None = None
    ) -> tuple[list[StreamRecord], int]:
        """Up to ``limit`` records that ``keep`` accepts, oldest first, of one shard (or of each shard in
        turn), and how many were read and dropped because it did not: filter criteria apply before
        batching, as in Lambda and Pipes, so a batch holds ``limit`` matching records when the stream has them."""
        batch: list[StreamRecord] = []
        dropped = 0
        for shard in [shard_id] if shard_id is not None else self.shards():
            pending, fetched = self.pending[shard], False
            while len(batch) < limit:
                if not pending:
                    if fetched:
                        break
                    fetched = True
                    pending.extend(self._fetch(shard))
                    continue
                record = pending.popleft()
                if keep is None or keep(record.event):
                    batch.append(record)
                else:
                    dropped += 1
        return batch, dropped


class StreamPoller(Poller):
    """A poller of a DynamoDB stream that sleeps until some table writes a stream record.

    A stream of one shard read with a parallelization factor of 1 is processed one batch after the other
    on the poller's thread (``lanes`` None); otherwise the batches go to ``Lanes``: one batch at a time
    per lane, the lanes of all shards at once, as Lambda and Pipes read every shard of a stream at once."""

    reader: StreamReader
    lanes: Lanes | None

    def before_poll(self) -> None:
        self._generation = moto_dynamodb.stream_generation()

    def idle_wait(self) -> None:
        moto_dynamodb.wait_for_stream_write(self._generation, timeout_s=WAKE_UP_S)

    def make_lanes(self, factor: int, batch_size: int, process: Callable[[list[StreamRecord]], None]) -> Lanes | None:
        if factor <= 1 and len(self.reader.shards()) <= 1:
            return None
        return Lanes(self.name, factor, batch_size, process, self.activity, self._lane_failed)

    def _lane_failed(self, error: BaseException) -> None:
        self.error = error

    def stop(self) -> None:
        super().stop()
        if self.lanes is not None:
            self.lanes.stop()

    def poll_stream(
        self, batch_size: int, keep: Callable[[dict[str, Any]], bool], process: Callable[[list[StreamRecord]], None]
    ) -> tuple[int, int, bool]:
        """Read and hand over one round of batches: (records, records filtered out, whether to read again
        at once). One shard, no lanes: one batch, processed here. Lanes: each shard's records, as many as its
        lanes have room for; when every shard's lanes are full, wait for room."""
        if self.lanes is None:
            batch, dropped = self.reader.read(batch_size, keep)
            if batch:
                process(batch)
            return len(batch), dropped, False
        records = dropped = 0
        shards = self.reader.shards()
        full = True
        for shard in shards:
            room = self.lanes.room(shard)
            if room <= 0:
                continue
            full = False
            batch, skipped = self.reader.read(room, keep, shard)
            records, dropped = records + len(batch), dropped + skipped
            if batch:
                self.lanes.add(batch)
        if full:
            self.lanes.wait_for_room(shards, WAKE_UP_S)
        return records, dropped, full


def lane_of(partition_key: str, factor: int) -> int:
    """The lane (0 .. factor - 1) of a partition key: the same in every run and process (sha256, not
    crc32: crc32 is linear, and keys that differ in one character all landed in one lane)."""
    return int.from_bytes(hashlib.sha256(partition_key.encode("utf-8")).digest()[:8], "big") % factor


class Lanes:
    """The batches of each stream shard, ``factor`` at a time (a parallelization factor), all shards at once.

    A record goes to the lane of its shard and partition key (``lane_of``); a lane takes up to
    ``batch_size`` of its records at a time and calls ``process`` with them, one batch after the other,
    so the records of one key are processed in order, retries included, while the lanes run at once
    (one thread each). ``process`` owns what happens to a batch (retries, bisection, record age, the
    failure destination), as it does for a poller that runs one batch at a time. At most
    ``factor * batch_size`` records wait per shard: ``room`` tells the poller how many more it may read.
    """

    def __init__(
        self,
        name: str,
        factor: int,
        batch_size: int,
        process: Callable[[list[StreamRecord]], None],
        activity: Activity,
        failed: Callable[[BaseException], None],
    ) -> None:
        self.name, self.factor, self.batch_size = name, factor, batch_size
        self._process, self._activity, self._failed = process, activity, failed
        self._cond = threading.Condition()
        self._queues: dict[tuple[str, int], deque[StreamRecord]] = {}
        self._active: set[tuple[str, int]] = set()  # lanes with records queued or a batch in flight
        self._running = 0
        self._stopped = False
        self.most_at_once = 0  # the most batches of this consumer in flight at the same moment

    def room(self, shard: str) -> int:
        """How many more records of ``shard`` the poller may hand over."""
        with self._cond:
            return self._room_locked(shard)

    def wait_for_room(self, shards: list[str], timeout_s: float) -> None:
        """Wait until one of ``shards`` has room (or the lanes stop, or the time-out passes)."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._stopped or any(self._room_locked(s) > 0 for s in shards), timeout=timeout_s
            )

    def _room_locked(self, shard: str) -> int:
        waiting = sum(len(queue) for (of, _), queue in self._queues.items() if of == shard)
        return self.factor * self.batch_size - waiting

    def add(self, records: list[StreamRecord]) -> None:
        """Queue records, in stream order, each on its lane (started on first use)."""
        with self._cond:
            for record in records:
                lane = (record.shard_id, lane_of(record.partition_key, self.factor))
                if lane not in self._queues:
                    self._queues[lane] = deque()
                    threading.Thread(target=self._run, args=(lane,), name=f"{self.name}:{lane[1]}", daemon=True).start()
                self._queues[lane].append(record)
                if lane not in self._active:
                    self._active.add(lane)
                    self._activity.start()  # the pipeline is busy until this lane is empty again
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _run(self, lane: tuple[str, int]) -> None:
        queue = self._queues[lane]
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or bool(queue))
                if self._stopped:
                    return
                batch = [queue.popleft() for _ in range(min(self.batch_size, len(queue)))]
                self._running += 1
                self.most_at_once = max(self.most_at_once, self._running)
                self._cond.notify_all()  # room for the poller
            try:
                self._process(batch)
            except Exception as error:  # the emulator's own failure: shown by its health check
                if not self._stopped:  # a batch cut short by the cloud stopping is no failure
                    log.exception("%s: batch failed", self.name)
                    self._failed(error)
            finally:
                with self._cond:
                    self._running -= 1
                    if not queue:
                        self._active.discard(lane)
                        self._activity.done()


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
