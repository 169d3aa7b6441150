"""EventBridge Pipes from DynamoDB streams.

Read from ``ListPipes``/``DescribePipe``: the source stream's batch size, parallelization factor,
starting position, ``MaximumRetryAttempts``, ``MaximumRecordAgeInSeconds`` and dead-letter queue, the
filter criteria, and the target. A bus target gets the batch as ``PutEvents`` requests of up to 10
entries, one event per record (``detail`` = the record, with the pipe's ``Source`` and ``DetailType``),
a queue or topic one message per record, a Lambda target the batch (synchronously). The shards of the
stream are read at once, and a factor above 1 runs that many batches of a shard at once, the records
of one item hash key in order (``_streams.Lanes``). A record older than the maximum age, or whose
delivery failed more than the retry limit, goes to the dead-letter queue with the batch information.
Enrichment, input templates and batching windows are not emulated. Record ages count in the
emulator's time (real seconds times ``time_scale``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from tools.emulator.integrations._streams import (
    StreamPoller,
    StreamReader,
    StreamRecord,
    batch_failure_record,
    split_expired,
)
from tools.emulator.integrations.base import Context, PollingIntegration, matches, service_of
from tools.emulator.topology import filters, paginate

log = logging.getLogger("emulator")

RETRY_BACKOFF_S = 0.5
PUT_EVENTS_ENTRIES = 10  # a bus target gets a batch as PutEvents requests of at most this many entries


@dataclass(frozen=True)
class Pipe:
    name: str
    arn: str
    source_arn: str
    target_arn: str
    batch_size: int
    parallelization_factor: int  # batches of one shard at once (1-10)
    filters: tuple[str, ...]
    starting_position: str
    detail_type: str | None
    source: str | None
    max_retries: int  # -1: until the record expires
    max_record_age_s: int  # -1: no limit
    dead_letter_arn: str | None


def read_pipes(session: Any) -> tuple[Pipe, ...]:
    client = session.client("pipes")
    pipes = []
    for summary in paginate(client, "list_pipes", "Pipes"):
        pipe = client.describe_pipe(Name=summary["Name"])
        if pipe.get("DesiredState", "RUNNING") != "RUNNING":
            continue
        if service_of(pipe["Source"]) != "dynamodb":
            log.warning("pipe %s: source %s is not emulated", pipe["Name"], pipe["Source"])
            continue
        source = pipe.get("SourceParameters") or {}
        stream = source.get("DynamoDBStreamParameters") or {}
        bus = (pipe.get("TargetParameters") or {}).get("EventBridgeEventBusParameters") or {}
        pipes.append(
            Pipe(
                name=pipe["Name"],
                arn=pipe.get("Arn", ""),
                source_arn=pipe["Source"],
                target_arn=pipe["Target"],
                batch_size=int(stream.get("BatchSize") or 1),
                parallelization_factor=int(stream.get("ParallelizationFactor") or 1),
                filters=filters(source.get("FilterCriteria")),
                starting_position=stream.get("StartingPosition") or "LATEST",
                detail_type=bus.get("DetailType"),
                source=bus.get("Source"),
                max_retries=int(stream.get("MaximumRetryAttempts", -1)),
                max_record_age_s=int(stream.get("MaximumRecordAgeInSeconds", -1)),
                dead_letter_arn=(stream.get("DeadLetterConfig") or {}).get("Arn"),
            )
        )
    return tuple(pipes)


class PipePoller(StreamPoller):
    def __init__(self, pipe: Pipe, ctx: Context) -> None:
        super().__init__(f"pipe:{pipe.name}", ctx.activity)
        self.pipe = pipe
        self.ctx = ctx
        self.reader = StreamReader(ctx.session, pipe.source_arn, pipe.starting_position, ctx.timings)
        self.read_count = 0
        self.filtered_out = 0
        self.sent = 0
        self.dead_lettered = 0
        self._counts = threading.Lock()  # lanes update the counters from their threads
        self.lanes = self.make_lanes(pipe.parallelization_factor, pipe.batch_size, self._deliver)

    def poll(self) -> bool:
        self.activity.start()
        records = dropped = 0
        again = False
        try:
            records, dropped, again = self.poll_stream(self.pipe.batch_size, self._matches, self._deliver)
            self.read_count += records + dropped
            self.filtered_out += dropped
        finally:
            self.activity.done(worked=bool(records or dropped))
        return again or bool(records or dropped)

    def _matches(self, event: dict[str, Any]) -> bool:
        return matches(self.pipe.filters, event)

    def _deliver(self, batch: list[StreamRecord]) -> None:
        attempts = 0
        while True:
            expired, batch = split_expired(batch, self.pipe.max_record_age_s, self.ctx.time_scale)
            if expired:
                self._dead_letter(expired, "RecordAgeExceeded", attempts)
            if not batch:
                return
            try:
                self._send(batch)
                with self._counts:
                    self.sent += len(batch)
                return
            except Exception as error:  # the target refused: retry, then the dead-letter queue
                attempts += 1
                log.warning("%s: delivery to %s failed: %r", self.name, self.pipe.target_arn, error)
                if self.pipe.max_retries >= 0 and attempts > self.pipe.max_retries:
                    self._dead_letter(batch, "RetryAttemptsExhausted", attempts)
                    return
                time.sleep(RETRY_BACKOFF_S)

    def _send(self, batch: list[StreamRecord]) -> None:
        pipe = self.pipe
        if service_of(pipe.target_arn) == "lambda":
            outcome = self.ctx.runtime.invoke(pipe.target_arn, [r.event for r in batch])
            if not outcome.ok:
                raise RuntimeError(f"{outcome.error_type}: {(outcome.error or {}).get('errorMessage')}")
            return
        source, detail_type = pipe.source or f"Pipe {pipe.name}", pipe.detail_type or "Event from aws:dynamodb"
        if ":event-bus/" in pipe.target_arn:
            for start in range(0, len(batch), PUT_EVENTS_ENTRIES):
                entries = [r.event for r in batch[start : start + PUT_EVENTS_ENTRIES]]
                self.ctx.targets.send_entries(pipe.target_arn, entries, source=source, detail_type=detail_type)
            return
        for record in batch:
            self.ctx.targets.send(pipe.target_arn, record.event, source=source, detail_type=detail_type)

    def _dead_letter(self, batch: list[StreamRecord], condition: str, attempts: int) -> None:
        with self._counts:
            self.dead_lettered += len(batch)
        info = batch_failure_record(batch, self.pipe.source_arn, condition, attempts, function_error=False)
        info["requestContext"].pop("functionArn")
        info["requestContext"]["pipeArn"] = self.pipe.arn
        if self.pipe.dead_letter_arn:
            self.ctx.targets.send(self.pipe.dead_letter_arn, info, failure=True)
        else:
            log.warning("%s: %d stream records dropped (%s)", self.name, len(batch), condition)


class StreamPipes(PollingIntegration):
    name = "pipes"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pollers = [PipePoller(pipe, ctx) for pipe in read_pipes(ctx.session)]

    def counters(self) -> dict[str, Any]:
        return {
            p.name: {
                "read": p.read_count,
                "filtered_out": p.filtered_out,
                "sent": p.sent,
                "dead_lettered": p.dead_lettered,
                "parallelization_factor": p.pipe.parallelization_factor,
                "most_batches_at_once": p.lanes.most_at_once if p.lanes is not None else 1,
            }
            for p in self.pollers
            if isinstance(p, PipePoller)
        }
