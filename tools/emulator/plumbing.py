"""Event plumbing: what AWS runs between the services, read from the deployed configuration.

- ``StreamPipe``: an EventBridge Pipe from a DynamoDB stream (filter, batch size) to an event bus;
- ``EventBus``: rule patterns and targets (a Lambda target is an asynchronous invocation);
- ``AsyncInvoker``: Lambda's asynchronous invocation (retries with back-off, maximum event age,
  on-failure and on-success destinations);
- ``StreamMapping`` and ``QueueMapping``: Lambda event source mappings on a DynamoDB stream
  (filter, batch size, ReportBatchItemFailures, bisect, retries, on-failure destination) and on an
  SQS queue (batch size, partial batch failures; the receive count and the redrive to the DLQ are
  moto's own, done on receive);
- ``Scheduler``: ``rate(...)`` schedules and scheduled rules, plus ``trigger`` to run one now.

Event patterns (pipe and mapping filters, rule patterns) are evaluated with moto's EventBridge
matcher. Waiting times that AWS counts in minutes (async retry back-off, SQS visibility timeout,
schedule rates) are divided by ``time_scale``.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from moto.events.models import EventPattern

from tools.emulator.runtime import Invocation, LambdaRuntime, RuntimeClosed
from tools.emulator.timings import TIMINGS
from tools.emulator.topology import EventSourceMapping, Pipe, Rule, Schedule, Topology

log = logging.getLogger("emulator")

ASYNC_RETRY_DELAYS_S = (60, 120)  # Lambda waits about 1 then 2 minutes between async attempts
POLL_INTERVAL_S = 0.1


@functools.lru_cache(maxsize=256)
def _pattern(raw: str) -> EventPattern:
    return EventPattern.load(raw)


def matches(patterns: tuple[str, ...] | str | None, event: dict[str, Any]) -> bool:
    """True if ``event`` matches any of the EventBridge ``patterns`` (no pattern matches everything)."""
    if not patterns:
        return True
    if isinstance(patterns, str):
        patterns = (patterns,)
    return any(_pattern(p).matches_event(event) for p in patterns)


def _json_ready(value: Any) -> Any:
    """A boto3 response as the JSON the service sent: timestamps as epoch seconds, binary as base64."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return value


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Activity:
    """Counts work in flight, so callers can wait until the pipeline has settled."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = 0
        self._last = time.monotonic()

    @contextmanager
    def busy(self) -> Iterator[None]:
        self.start()
        try:
            yield
        finally:
            self.done()

    def start(self) -> None:
        with self._cond:
            self._busy += 1

    def done(self, worked: bool = True) -> None:
        """End one piece of work; ``worked=False`` for a poll that found nothing (no new activity)."""
        with self._cond:
            self._busy -= 1
            if worked:
                self._last = time.monotonic()
            self._cond.notify_all()

    def idle_for(self, since: float = 0.0) -> float:
        """Seconds since the last piece of work ended (or since ``since``, a ``time.monotonic()``
        value, if later), or 0.0 while something is in flight."""
        with self._cond:
            return 0.0 if self._busy else time.monotonic() - max(self._last, since)


class Ledger:
    """Per function, how many events or records it processed successfully (``(name, "ok")``) and how
    many failed for good (``(name, "failed")``: retries exhausted); read it like a Counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self.last_success: dict[str, float] = {}  # function -> time.time() of its last success

    def record(self, function: str, ok: int = 0, failed: int = 0) -> None:
        with self._lock:
            self._counts[(function, "ok")] += ok
            self._counts[(function, "failed")] += failed
            if ok:
                self.last_success[function] = time.time()

    def __getitem__(self, key: tuple[str, str]) -> int:
        with self._lock:
            return self._counts[key]


class Destinations:
    """Sends a record to an on-failure / on-success destination or a dead-letter target by ARN."""

    def __init__(self, session: boto3.Session, topology: Topology) -> None:
        self._sqs = session.client("sqs")
        self._sns = session.client("sns")
        self.topology = topology
        self.invoker: AsyncInvoker | None = None
        self.buses: dict[str, EventBus] = {}
        self.sent: Counter[str] = Counter()

    def send(self, arn: str, record: dict[str, Any], *, detail_type: str = "") -> None:
        service = arn.split(":")[2]
        body = json.dumps(record, default=str)
        if service == "sqs":
            name, account = arn.split(":")[5], arn.split(":")[4]
            url = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self._sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            self._sns.publish(TopicArn=arn, Message=body)
        elif service == "lambda" and self.invoker is not None:
            self.invoker.submit(arn, record)
        elif service == "events" and arn.split(":")[5].startswith("event-bus/"):
            self.buses[arn.split("/", 1)[1]].put("lambda", detail_type, record)
        else:
            raise ValueError(f"destination {arn} is not supported by the emulator")
        self.sent[arn] += 1


class AsyncInvoker:
    """Lambda's ``Event`` invocation type: queue, retry with back-off, then the on-failure destination."""

    def __init__(
        self,
        runtime: LambdaRuntime,
        destinations: Destinations,
        activity: Activity,
        ledger: Ledger,
        time_scale: float,
        max_workers: int = 16,
    ) -> None:
        self.runtime = runtime
        self.destinations = destinations
        self.activity = activity
        self.ledger = ledger
        self.time_scale = time_scale
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="async-invoke")
        self.discarded: list[dict[str, Any]] = []  # failed events with no on-failure destination
        destinations.invoker = self

    def submit(self, function_arn: str, event: Any) -> None:
        self.activity.start()
        self._pool.submit(self._run, function_arn, event, time.monotonic())

    def _run(self, function_arn: str, event: Any, queued_at: float) -> None:
        TIMINGS.add("async invocation queue", time.monotonic() - queued_at)
        try:
            spec = self.runtime.function(function_arn)
            attempts = 0
            while True:
                outcome = self.runtime.invoke(spec.name, event)
                attempts += 1
                if outcome.ok:
                    self.ledger.record(spec.name, ok=1)
                    if spec.on_success:
                        self.destinations.send(
                            spec.on_success, self._record(spec.arn, event, outcome, attempts, "Success")
                        )
                    return
                age = (time.monotonic() - queued_at) * self.time_scale
                if attempts > spec.async_retries or age > spec.max_event_age_s:
                    break
                time.sleep(ASYNC_RETRY_DELAYS_S[min(attempts, len(ASYNC_RETRY_DELAYS_S)) - 1] / self.time_scale)
            self.ledger.record(spec.name, failed=1)
            condition = "RetriesExhausted" if attempts > spec.async_retries else "EventAgeExceeded"
            record = self._record(spec.arn, event, outcome, attempts, condition)
            if spec.on_failure:
                self.destinations.send(
                    spec.on_failure, record, detail_type="Lambda Function Invocation Result - Failure"
                )
            else:
                log.warning("%s: async event discarded after %d attempts: %s", spec.name, attempts, outcome.error)
                self.discarded.append(record)
        except RuntimeClosed:
            log.info("shutting down: an asynchronous invocation of %s was not run", function_arn)
        except Exception:
            log.exception("asynchronous invocation of %s failed in the emulator", function_arn)
            raise
        finally:
            self.activity.done()

    @staticmethod
    def _record(arn: str, event: Any, outcome: Invocation, attempts: int, condition: str) -> dict[str, Any]:
        """Lambda's destination record for an asynchronous invocation."""
        response = outcome.result if outcome.ok else outcome.error
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if not outcome.ok:
            context["functionError"] = "Unhandled"
        return {
            "version": "1.0",
            "timestamp": _now_iso(),
            "requestContext": {
                "requestId": outcome.request_id,
                "functionArn": f"{arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": context,
            "responsePayload": response,
        }

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class EventBus:
    """One event bus: evaluates each rule's pattern and delivers to its targets."""

    def __init__(
        self, name: str, rules: list[Rule], topology: Topology, invoker: AsyncInvoker, destinations: Destinations
    ) -> None:
        self.name = name
        self.rules = [r for r in rules if r.pattern and r.enabled]
        self.topology = topology
        self.invoker = invoker
        self.destinations = destinations
        self.matched: Counter[str] = Counter()
        self.put_count = 0

    def put(self, source: str, detail_type: str, detail: Any) -> dict[str, Any]:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self.topology.account,
            "time": _now_iso(),
            "region": self.topology.region,
            "resources": [],
            "detail": detail,
        }
        self.put_count += 1
        for rule in self.rules:
            if not matches(rule.pattern, event):
                continue
            self.matched[rule.name] += 1
            for target in rule.targets:
                payload = json.loads(target.input) if target.input else event
                if target.arn.split(":")[2] == "lambda":
                    self.invoker.submit(target.arn, payload)
                else:
                    self.destinations.send(target.arn, payload)
        return event


class _Poller(threading.Thread):
    """A daemon thread that calls ``poll`` until stopped; ``poll`` returns True when it did work."""

    def __init__(self, name: str, activity: Activity) -> None:
        super().__init__(name=name, daemon=True)
        self.activity = activity
        self._stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                did_work = self.poll()
            except Exception as exc:  # shown by the emulator's health check; the poller keeps going
                if self._stop_event.is_set():
                    return
                self.error = exc
                log.exception("%s: poll failed", self.name)
                did_work = False
            if not did_work:
                self._stop_event.wait(POLL_INTERVAL_S)

    def poll(self) -> bool:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop_event.set()


class _StreamReader:
    """Reads a DynamoDB stream from a starting position, in batches.

    The position is kept as a sequence number per shard, and every read asks for a fresh
    ``AT_SEQUENCE_NUMBER`` iterator: moto rolls a failed ``TransactWriteItems`` back by swapping in a
    copy of the table, stream included, so a long-lived iterator would go on reading a stream that
    nothing writes to any more.
    """

    def __init__(self, session: boto3.Session, stream_arn: str, starting_position: str) -> None:
        self.client = session.client("dynamodbstreams")
        self.stream_arn = stream_arn
        self.next_sequence: dict[str, int] = {}
        self.pending: list[dict[str, Any]] = []  # read from the stream, not yet handed out
        self._discover(skip_existing=starting_position == "LATEST")

    def _discover(self, skip_existing: bool = False) -> None:
        """Start reading new shards from their beginning (or, at LATEST, after what they hold now)."""
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id in self.next_sequence:
                continue
            self.next_sequence[shard_id] = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
            while skip_existing and self._fetch(shard_id):
                pass

    def _fetch(self, shard_id: str) -> list[dict[str, Any]]:
        iterator = self.client.get_shard_iterator(
            StreamArn=self.stream_arn,
            ShardId=shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=str(self.next_sequence[shard_id]),
        )["ShardIterator"]
        records = self.client.get_records(ShardIterator=iterator, Limit=1000)["Records"]
        if records:
            self.next_sequence[shard_id] = int(records[-1]["dynamodb"]["SequenceNumber"]) + 1
        return records

    def read(self, limit: int) -> list[dict[str, Any]]:
        if len(self.pending) < limit:
            self._discover()
            for shard_id in self.next_sequence:
                records = self._fetch(shard_id)
                now = time.time()
                for record in records:
                    created = record["dynamodb"].get("ApproximateCreationDateTime")
                    if isinstance(created, datetime):
                        TIMINGS.add("stream read (write to read)", now - created.timestamp())
                    self.pending.append({**_json_ready(record), "eventSourceARN": self.stream_arn})
        batch, self.pending = self.pending[:limit], self.pending[limit:]
        return batch


class StreamPipe(_Poller):
    """EventBridge Pipe: DynamoDB stream -> filter -> event bus (one event per record)."""

    def __init__(self, pipe: Pipe, session: boto3.Session, bus: EventBus, activity: Activity) -> None:
        super().__init__(f"pipe:{pipe.name}", activity)
        self.pipe = pipe
        self.bus = bus
        self.reader = _StreamReader(session, pipe.source_arn, pipe.starting_position)
        self.read_count = 0
        self.filtered_out = 0
        self.sent = 0

    def poll(self) -> bool:
        self.activity.start()
        records: list[dict[str, Any]] = []
        try:
            records = self.reader.read(self.pipe.batch_size)
            for record in records:
                self.read_count += 1
                if not matches(self.pipe.filters, record):
                    self.filtered_out += 1
                    continue
                self.bus.put(
                    self.pipe.source or f"Pipe {self.pipe.name}",
                    self.pipe.detail_type or "Event from aws:dynamodb",
                    record,
                )
                self.sent += 1
        finally:
            self.activity.done(worked=bool(records))
        return bool(records)


class StreamMapping(_Poller):
    """Lambda event source mapping on a DynamoDB stream (``direct`` mode)."""

    RETRY_BACKOFF_S = 0.5

    def __init__(
        self,
        mapping: EventSourceMapping,
        session: boto3.Session,
        runtime: LambdaRuntime,
        destinations: Destinations,
        activity: Activity,
        ledger: Ledger,
    ) -> None:
        super().__init__(f"esm:{mapping.uuid}", activity)
        self.mapping = mapping
        self.runtime = runtime
        self.destinations = destinations
        self.ledger = ledger
        self.function = runtime.function(mapping.function_arn).name
        self.reader = _StreamReader(session, mapping.source_arn, mapping.starting_position or "TRIM_HORIZON")
        self.invocations = 0
        self.filtered_out = 0
        self.failed_batches = 0

    def poll(self) -> bool:
        self.activity.start()
        records: list[dict[str, Any]] = []
        try:
            records = self.reader.read(self.mapping.batch_size)
            batch = [r for r in records if matches(self.mapping.filters, r)]
            self.filtered_out += len(records) - len(batch)
            if batch:
                self._process(batch, attempts=0)
        finally:
            self.activity.done(worked=bool(records))
        return bool(records)

    def _process(self, batch: list[dict[str, Any]], attempts: int) -> None:
        """Invoke until the batch succeeds, is bisected, or its retries are exhausted."""
        while True:
            outcome = self.runtime.invoke(self.mapping.function_arn, {"Records": batch})
            self.invocations += 1
            failed_from = self._first_failure(batch, outcome)
            if failed_from is None:
                self.ledger.record(self.function, ok=len(batch))
                return
            self.ledger.record(self.function, ok=failed_from)  # checkpointed before the first failure
            attempts += 1
            if self.mapping.max_retries >= 0 and attempts > self.mapping.max_retries:
                self.failed_batches += 1
                self.ledger.record(self.function, failed=len(batch) - failed_from)
                self._give_up(batch[failed_from:], outcome, attempts)
                return
            batch = batch[failed_from:]
            if self.mapping.bisect_on_error and not outcome.ok and len(batch) > 1:
                half = len(batch) // 2
                self._process(batch[:half], attempts)
                self._process(batch[half:], attempts)
                return
            time.sleep(self.RETRY_BACKOFF_S)

    def _first_failure(self, batch: list[dict[str, Any]], outcome: Invocation) -> int | None:
        """Index of the first record to retry, or None when the whole batch succeeded."""
        if not outcome.ok:
            return 0
        if not self.mapping.report_item_failures or not isinstance(outcome.result, dict):
            return None
        failures = outcome.result.get("batchItemFailures") or []
        if not failures:
            return None
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in sequence_numbers:
                return 0  # an invalid report fails the whole batch, as Lambda does
            indexes.append(sequence_numbers.index(identifier))
        return min(indexes)

    def _give_up(self, batch: list[dict[str, Any]], outcome: Invocation, attempts: int) -> None:
        info = {
            "version": "1.0",
            "timestamp": _now_iso(),
            "requestContext": {
                "requestId": outcome.request_id,
                "functionArn": self.mapping.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "DDBStreamBatchInfo": {
                "shardId": batch[0].get("eventID", ""),
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.mapping.source_arn,
            },
        }
        if self.mapping.on_failure:
            self.destinations.send(self.mapping.on_failure, info)
        else:
            log.warning("%s: %d stream records skipped after %d attempts", self.name, len(batch), attempts)


class QueueMapping(_Poller):
    """Lambda event source mapping on an SQS queue."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        session: boto3.Session,
        runtime: LambdaRuntime,
        activity: Activity,
        ledger: Ledger,
        time_scale: float,
    ) -> None:
        super().__init__(f"esm:{mapping.uuid}", activity)
        self.mapping = mapping
        self.runtime = runtime
        self.ledger = ledger
        self.function = runtime.function(mapping.function_arn).name
        self.sqs = session.client("sqs")
        name, account = mapping.source_arn.split(":")[5], mapping.source_arn.split(":")[4]
        self.queue_url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        visibility = int(
            self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
        )
        # A failed message comes back after the queue's visibility timeout, compressed.
        self.visibility_s = max(1, round(visibility / time_scale))
        self.invocations = 0
        self.failed_messages = 0

    def poll(self) -> bool:
        self.activity.start()
        messages: list[dict[str, Any]] = []
        try:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.mapping.batch_size),
                VisibilityTimeout=self.visibility_s,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if messages:
                now = time.time()
                for message in messages:
                    if message.get("Attributes", {}).get("ApproximateReceiveCount") == "1":
                        sent = int(message["Attributes"]["SentTimestamp"]) / 1000
                        TIMINGS.add(f"sqs (sent to received by {self.function})", now - sent)
                self._process(messages)
        finally:
            self.activity.done(worked=bool(messages))
        return bool(messages)

    def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [self._record(m) for m in messages]
        dropped = [r for r in records if not matches(self.mapping.filters, self._filterable(r))]
        records = [r for r in records if r not in dropped]
        self._delete_messages(dropped)  # Lambda deletes messages that no filter matches
        if not records:
            return
        outcome = self.runtime.invoke(self.mapping.function_arn, {"Records": records})
        self.invocations += 1
        failed = self._failed_ids(records, outcome)
        self.failed_messages += len(failed)
        succeeded = [r for r in records if r["messageId"] not in failed]
        self._delete_messages(succeeded)
        # A failed message is not counted as failed for good: it comes back, or moto moves it to the DLQ.
        self.ledger.record(self.function, ok=len(succeeded))

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
        return reported

    def _delete_messages(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            if not chunk:
                continue
            reply = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
            if reply.get("Failed"):
                raise RuntimeError(f"{self.name}: could not delete messages: {reply['Failed']}")

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
            "awsRegion": self.mapping.source_arn.split(":")[3],
        }

    @staticmethod
    def _filterable(record: dict[str, Any]) -> dict[str, Any]:
        """Lambda filters SQS records with ``body`` parsed when it is JSON."""
        try:
            return {**record, "body": json.loads(record["body"])}
        except ValueError:
            return record

    def backlog(self) -> int:
        """Messages in the queue, visible or not (waiting for a retry)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a ``rate(...)`` expression; None for ``cron(...)`` and ``at(...)``."""
    match = _RATE.match(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_S[match.group(2).rstrip("s")]


class Scheduler(_Poller):
    """Fires each enabled ``rate(...)`` schedule every rate / ``time_scale`` seconds; ``trigger`` runs one now.

    With ``time_scale=None`` nothing fires on its own (tests trigger the runs they need).
    """

    def __init__(
        self,
        schedules: tuple[Schedule, ...],
        topology: Topology,
        invoker: AsyncInvoker,
        activity: Activity,
        time_scale: float | None,
    ) -> None:
        super().__init__("scheduler", activity)
        self.schedules = schedules
        self.topology = topology
        self.invoker = invoker
        self.time_scale = time_scale or 1.0
        started = time.monotonic()
        self._next: dict[str, float] = {}
        for schedule in schedules:
            period = rate_seconds(schedule.expression)
            if period is None:
                log.warning("schedule %s: %s is not emulated (trigger it by hand)", schedule.name, schedule.expression)
            elif schedule.enabled and time_scale is not None:
                self._next[schedule.name] = started + period / time_scale
        self.fired: Counter[str] = Counter()

    def poll(self) -> bool:
        now = time.monotonic()
        for schedule in self.schedules:
            due = self._next.get(schedule.name)
            if due is not None and now >= due:
                self._next[schedule.name] = due + rate_seconds(schedule.expression) / self.time_scale  # type: ignore[operator]
                self._fire(schedule)
        return False

    def trigger(self, target: str) -> None:
        """Run now every schedule whose name or target function matches ``target`` (a name, key or ARN)."""
        wanted = self.topology.function(target).arn if not target.startswith("arn:") else target
        hits = [s for s in self.schedules if s.name == target or s.target_arn == wanted]
        if not hits:
            raise KeyError(f"no schedule targets {target!r}")
        for schedule in hits:
            self._fire(schedule)

    def _fire(self, schedule: Schedule) -> None:
        if schedule.input:
            event: Any = json.loads(schedule.input)
        elif schedule.scheduled_event:
            event = {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.topology.account,
                "time": _now_iso(),
                "region": self.topology.region,
                "resources": [f"arn:aws:events:{self.topology.region}:{self.topology.account}:rule/{schedule.name}"],
                "detail": {},
            }
        else:
            event = {}
        self.fired[schedule.name] += 1
        self.invoker.submit(schedule.target_arn, event)
