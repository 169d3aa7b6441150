"""Re-drive what the failure queues and dead-letter queues of an environment hold, idempotently.

    python -m tools.deploy.replay --env dev [--dry-run] [--queue stream] [--max 100]
    make replay ENV=dev [DRY_RUN=1]

Each queue holds its own kind of record (AWS's shapes; docs/configuration.md "Failures"):

``function-failures-<suffix>``
    Lambda's on-failure destination records of asynchronous invocations (detect-fraud on the
    EventBridge routing, analyze-patterns from its schedule): ``requestContext.functionArn`` and the
    original event in ``requestPayload``. Replay: invoke that function with the event.
``fraud-stream-dlq-<suffix>``
    Records the Pipe (``context.partnerResourceArn``) or the event source mapping
    (``requestContext.functionArn``) gave up on. For DynamoDB streams they hold only the batch's
    metadata (``DDBStreamBatchInfo``: stream, shard, first and last sequence number). Replay: read the
    records back from the stream by sequence number (the stream keeps them 24 hours), keep the
    inserted transactions (the routing's filter) and invoke detect-fraud with them as a stream batch.

A transaction record is replayed with the item as the table holds it now (read by its key): an item
detect-fraud kept failing on (one some other writer stored without a field the API requires) is
repaired in the table, then replayed. An item that is gone (expired) is replayed as recorded.
``fraud-events-dlq-<suffix>``
    Events an EventBridge rule could not deliver to its target (the body is the event; the
    ``TARGET_ARN`` message attribute names the target). Replay: invoke the target with the event.
``fraud-alerts-dlq-<suffix>``
    Alerts notify-team could not publish. Replay: send them back to ``fraud-alerts-<suffix>``.

Every function downstream is idempotent (a transaction is scored once, an alert sent and published
once per alert id), so a replay of something that did get through in the end changes nothing. A
message is deleted once its replay succeeded and kept otherwise (the reason is printed); ``--dry-run``
shows what would be done and changes nothing (received messages are made visible again at once).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools._cli import ToolError, progress, run, validate_suffix

QUEUES = {
    "function-failures": "function-failures-{suffix}",
    "stream": "fraud-stream-dlq-{suffix}",
    "events": "fraud-events-dlq-{suffix}",
    "alerts": "fraud-alerts-dlq-{suffix}",
}
ALERTS_QUEUE = "fraud-alerts-{suffix}"
DETECT_FRAUD = "detect-fraud-{suffix}"
ANALYZE_PATTERNS = "analyze-patterns-{suffix}"
TRANSACTION_SOURCE = "fraud.transactions"
# The replay's invocations are synchronous: wait longer than the longest function timeout (300 s).
INVOKE_READ_TIMEOUT_S = 360
RECEIVE_VISIBILITY_S = 600  # a message being replayed is hidden this long from anyone else
EMPTY_READS_AT_SHARD_END = 3  # GetRecords may answer empty pages before reaching a sequence number

# (ok, detail): detail is the function's result on success, the error otherwise.
Invoker = Callable[[str, Any], tuple[bool, Any]]


@dataclass
class Outcome:
    queue: str
    message_id: str
    action: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> Counter[tuple[str, bool]]:
        return Counter((o.queue, o.ok) for o in self.outcomes)


class Replayer:
    """Replays the failure queues of one environment through ``session``'s clients.

    ``invoke`` runs a function synchronously (default: Lambda ``Invoke`` with ``RequestResponse``);
    the local cloud and the tests pass their own. ``streams`` is a DynamoDB Streams client.
    """

    def __init__(
        self,
        session: Any,
        suffix: str,
        *,
        invoke: Invoker | None = None,
        streams: Any = None,
        dry_run: bool = False,
    ) -> None:
        self.suffix = suffix
        self.sqs = session.client("sqs")
        self.dynamodb = session.client("dynamodb")
        self.streams = streams or session.client("dynamodbstreams")
        self.dry_run = dry_run
        self._session = session
        self._invoke = invoke or self._lambda_invoke
        self._lambda: Any = None

    # --- queues -------------------------------------------------------------------------------

    def replay(self, queues: Sequence[str] = tuple(QUEUES), limit: int | None = None) -> Report:
        report = Report()
        for key in queues:
            name = QUEUES[key].format(suffix=self.suffix)
            try:
                url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            except self.sqs.exceptions.QueueDoesNotExist:
                progress(f"{name}: no such queue (not deployed with this routing), skipped")
                continue
            handled = 0
            kept: list[dict[str, Any]] = []
            for message in self._messages(url, limit):
                outcome = self._replay_one(key, message)
                report.outcomes.append(outcome)
                handled += 1
                marker = "would" if self.dry_run else ("ok  " if outcome.ok else "KEPT")
                progress(
                    f"  {marker} {name} {outcome.message_id[:8]}: {outcome.action}"
                    + (f" ({outcome.detail})" if outcome.detail else "")
                )
                if outcome.ok and not self.dry_run:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    kept.append(message)
            self._release(url, kept)
            progress(f"{name}: {handled} message(s)" + ("" if handled else ", nothing to replay"))
        return report

    def _messages(self, url: str, limit: int | None) -> Iterator[dict[str, Any]]:
        """Every message of the queue, each once (a message kept stays invisible until the end)."""
        seen: set[str] = set()
        while limit is None or len(seen) < limit:
            batch = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10 if limit is None else max(1, min(10, limit - len(seen))),
                MessageAttributeNames=["All"],
                VisibilityTimeout=RECEIVE_VISIBILITY_S,
                WaitTimeSeconds=0,
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                yield message

    def _release(self, url: str, messages: list[dict[str, Any]]) -> None:
        """Make kept (or dry-run) messages visible again now rather than after the visibility timeout."""
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages[start : start + 10])
            ]
            self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)

    def _replay_one(self, key: str, message: dict[str, Any]) -> Outcome:
        message_id = message["MessageId"]
        try:
            body = json.loads(message["Body"])
        except ValueError:
            return Outcome(key, message_id, "nothing: the body is not JSON", False, "kept for inspection")
        try:
            if key == "alerts":
                return self._alert(message_id, message["Body"])
            if key == "events":
                return self._event(message_id, body, message.get("MessageAttributes", {}))
            if isinstance(body, dict) and "DDBStreamBatchInfo" in body:
                return self._stream_batch(key, message_id, body)
            if isinstance(body, dict) and "requestPayload" in body:
                function = body.get("requestContext", {}).get("functionArn")
                return self._invocation(key, message_id, function, body["requestPayload"])
        except Exception as error:  # one message's failure must not stop the others
            return Outcome(key, message_id, "replay failed", False, f"{type(error).__name__}: {error}")
        return Outcome(key, message_id, "nothing: not a record this tool knows", False, "kept for inspection")

    # --- one message --------------------------------------------------------------------------

    def _alert(self, message_id: str, body: str) -> Outcome:
        queue = ALERTS_QUEUE.format(suffix=self.suffix)
        try:
            alert_id = json.loads(body).get("alert_id", "?")
        except (ValueError, AttributeError):
            alert_id = "?"
        action = f"send alert {alert_id} back to {queue}"
        if not self.dry_run:
            url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=body)
        return Outcome("alerts", message_id, action, True)

    def _event(self, message_id: str, event: Any, attributes: dict[str, Any]) -> Outcome:
        target = attributes.get("TARGET_ARN", {}).get("StringValue")
        if target is None and isinstance(event, dict):
            if event.get("source") == TRANSACTION_SOURCE:
                target = DETECT_FRAUD.format(suffix=self.suffix)
            elif event.get("detail-type") == "Scheduled Event":
                target = ANALYZE_PATTERNS.format(suffix=self.suffix)
        if target is None:
            return Outcome("events", message_id, "nothing: no TARGET_ARN and an unknown event", False, "kept")
        return self._invocation("events", message_id, target, event)

    def _invocation(self, key: str, message_id: str, function: str | None, payload: Any) -> Outcome:
        if not function:
            return Outcome(key, message_id, "nothing: the record names no function", False, "kept")
        action = f"invoke {_function_name(function)} with the original event"
        if isinstance(payload, dict) and payload.get("source") == TRANSACTION_SOURCE:
            record = payload.get("detail")
            if isinstance(record, dict) and self._as_stored_now(record):
                payload = {**payload, "detail": record}
                action = f"invoke {_function_name(function)} with the event and the item as stored now"
        if self.dry_run:
            return Outcome(key, message_id, action, True)
        ok, detail = self._invoke(function, payload)
        return Outcome(key, message_id, action, ok and not _item_failures(detail), _summary(ok, detail))

    def _stream_batch(self, key: str, message_id: str, body: dict[str, Any]) -> Outcome:
        info = body["DDBStreamBatchInfo"]
        function = body.get("requestContext", {}).get("functionArn") or DETECT_FRAUD.format(suffix=self.suffix)
        try:
            records = self._stream_records(info)
        except self.streams.exceptions.TrimmedDataAccessException:
            return Outcome(
                key, message_id, "nothing: the records are past the stream's 24 h retention", False, "kept, lost"
            )
        inserted = [r for r in records if _is_inserted_transaction(r)]
        changed = sum(self._as_stored_now(r) for r in inserted)
        action = (
            f"invoke {_function_name(function)} with {len(inserted)} of {len(records)} stream record(s) "
            f"(sequence {info['startSequenceNumber']} to {info['endSequenceNumber']}"
            + (f"; {changed} item(s) as stored now" if changed else "")
            + ")"
        )
        if not inserted or self.dry_run:
            return Outcome(key, message_id, action, True)
        ok, detail = self._invoke(function, {"Records": inserted})
        return Outcome(key, message_id, action, ok and not _item_failures(detail), _summary(ok, detail))

    def _as_stored_now(self, record: dict[str, Any]) -> bool:
        """Put the item the table holds now under the record's key into ``NewImage`` (a transaction
        repaired since it failed); True when it differs from the recorded image."""
        table = _table_of(record.get("eventSourceARN", ""))
        keys = record.get("dynamodb", {}).get("Keys")
        if not table or not keys:
            return False
        item = self.dynamodb.get_item(TableName=table, Key=keys, ConsistentRead=True).get("Item")
        if item is None or item == record["dynamodb"].get("NewImage"):
            return False
        record["dynamodb"]["NewImage"] = item
        return True

    def _stream_records(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """The records of ``[startSequenceNumber, endSequenceNumber]``, as Lambda receives them."""
        stream_arn = info["streamArn"]
        first, last = int(info["startSequenceNumber"]), int(info["endSequenceNumber"])
        shards = [
            s["ShardId"] for s in self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        ]
        # The shard the batch came from; every shard when the record does not name one we know.
        candidates = [info["shardId"]] if info.get("shardId") in shards else shards
        records: list[dict[str, Any]] = []
        for shard in candidates:
            try:
                iterator = self.streams.get_shard_iterator(
                    StreamArn=stream_arn,
                    ShardId=shard,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=str(first),
                )["ShardIterator"]
            except self.streams.exceptions.ClientError as error:
                if len(candidates) > 1 and error.response.get("Error", {}).get("Code") == "ValidationException":
                    continue  # the sequence number is not in this shard
                raise
            empty = 0
            while iterator and empty < EMPTY_READS_AT_SHARD_END:
                page = self.streams.get_records(ShardIterator=iterator)
                iterator = page.get("NextShardIterator")
                batch = page.get("Records", [])
                empty = 0 if batch else empty + 1
                for record in batch:
                    number = int(record["dynamodb"]["SequenceNumber"])
                    if number > last:
                        iterator = None
                        break
                    if number >= first:
                        records.append(_lambda_record(record, stream_arn))
            if records:
                break
        return records

    def _lambda_invoke(self, function: str, payload: Any) -> tuple[bool, Any]:
        if self._lambda is None:
            from botocore.config import Config

            self._lambda = self._session.client(
                "lambda", config=Config(read_timeout=INVOKE_READ_TIMEOUT_S, retries={"max_attempts": 1})
            )
        response = self._lambda.invoke(
            FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
        )
        result = json.loads(response["Payload"].read() or b"null")
        return "FunctionError" not in response, result


def _function_name(arn_or_name: str) -> str:
    """``arn:aws:lambda:...:function:detect-fraud-dev:$LATEST`` -> ``detect-fraud-dev``."""
    parts = arn_or_name.split(":")
    return parts[6] if len(parts) > 6 and parts[5] == "function" else arn_or_name


def _table_of(stream_arn: str) -> str | None:
    """``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>`` -> ``<name>``."""
    parts = stream_arn.split(":", 5)
    resource = parts[5].split("/") if len(parts) == 6 else []
    return resource[1] if len(resource) >= 2 and resource[0] == "table" else None


def _item_failures(result: Any) -> list[Any]:
    return result.get("batchItemFailures") or [] if isinstance(result, dict) else []


def _summary(ok: bool, detail: Any) -> str:
    if not ok:
        if isinstance(detail, dict):
            return f"failed: {detail.get('errorType', 'error')}: {str(detail.get('errorMessage', ''))[:200]}"
        return f"failed: {str(detail)[:200]}"
    failures = _item_failures(detail)
    return f"{len(failures)} record(s) failed again" if failures else ""


def _is_inserted_transaction(record: dict[str, Any]) -> bool:
    """The routing's filter: ``eventName = INSERT`` and ``NewImage.kind = "transaction"``."""
    image = record.get("dynamodb", {}).get("NewImage", {})
    return record.get("eventName") == "INSERT" and image.get("kind") == {"S": "transaction"}


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as the event source mapping delivers it (epoch seconds, the source ARN)."""
    record = json.loads(json.dumps(record, default=_epoch_seconds))
    record["eventSourceARN"] = stream_arn
    return record


def _epoch_seconds(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, metavar="SUFFIX", help="environment suffix, e.g. dev")
    parser.add_argument("--dry-run", action="store_true", help="show what would be replayed, change nothing")
    parser.add_argument(
        "--queue", action="append", choices=sorted(QUEUES), help="only this queue (repeatable; default: all four)"
    )
    parser.add_argument("--max", type=int, default=None, metavar="N", help="at most N messages per queue")
    args = parser.parse_args(argv)
    suffix = validate_suffix(args.env)

    import boto3
    from botocore.exceptions import NoCredentialsError

    replayer = Replayer(boto3.Session(), suffix, dry_run=args.dry_run)
    try:
        report = replayer.replay(args.queue or tuple(QUEUES), limit=args.max)
    except NoCredentialsError:
        raise ToolError(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
            "(and AWS_ENDPOINT_URL for a local cloud)"
        ) from None
    counts = report.counts()
    verb = "would replay" if args.dry_run else "replayed"
    for key in args.queue or tuple(QUEUES):
        done, kept = counts[(key, True)], counts[(key, False)]
        if done or kept:
            print(f"{QUEUES[key].format(suffix=suffix)}: {verb} {done}, kept {kept}")
    total_kept = sum(1 for o in report.outcomes if not o.ok)
    if not report.outcomes:
        print("nothing to replay: every failure queue is empty")
    return 1 if total_kept and not args.dry_run else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
