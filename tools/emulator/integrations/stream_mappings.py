"""Lambda event source mappings on DynamoDB streams (the ``direct`` routing).

Read from ``ListEventSourceMappings``: filter criteria, batch size, starting position,
``ReportBatchItemFailures`` (the batch is checkpointed before the first reported failure and retried
from there), ``BisectBatchOnFunctionError``, ``MaximumRetryAttempts``, ``MaximumRecordAgeInSeconds``
and the on-failure destination, which gets Lambda's ``DDBStreamBatchInfo`` record with the condition
``RetryAttemptsExhausted`` or ``RecordAgeExceeded``. Every shard of the stream at once, and
``ParallelizationFactor`` batches of one shard at a time (``_streams.Lanes``: the records of one item
hash key in order, retries included; a stream of one shard with the default factor 1 is processed one
batch after the other on the poller's thread); batching windows are not emulated (a batch goes as
soon as it is read). Record ages count in the emulator's time: real seconds times
``time_scale``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from tools.emulator.integrations._mappings import EventSourceMapping, read_mappings
from tools.emulator.integrations._streams import (
    StreamPoller,
    StreamReader,
    StreamRecord,
    batch_failure_record,
    split_expired,
)
from tools.emulator.integrations.base import Context, PollingIntegration, matches
from tools.emulator.runtime import Invocation

log = logging.getLogger("emulator")

RETRY_BACKOFF_S = 0.5


class StreamMappingPoller(StreamPoller):
    def __init__(self, mapping: EventSourceMapping, ctx: Context) -> None:
        super().__init__(f"esm:{mapping.uuid}", ctx.activity)
        self.mapping = mapping
        self.ctx = ctx
        self.function = ctx.runtime.function(mapping.function_arn).name
        self.reader = StreamReader(
            ctx.session, mapping.source_arn, mapping.starting_position or "TRIM_HORIZON", ctx.timings
        )
        self.invocations = 0
        self.filtered_out = 0
        self.failed_batches = 0
        self.expired = 0
        self._counts = threading.Lock()  # lanes update the counters from their threads
        self.lanes = self.make_lanes(mapping.parallelization_factor, mapping.batch_size, self._process_new)

    def poll(self) -> bool:
        self.activity.start()
        records = dropped = 0
        again = False
        try:
            records, dropped, again = self.poll_stream(self.mapping.batch_size, self._matches, self._process_new)
            self.filtered_out += dropped
        finally:
            self.activity.done(worked=bool(records or dropped))
        return again or bool(records or dropped)

    def _process_new(self, batch: list[StreamRecord]) -> None:
        """A batch read from the stream: its first attempt."""
        self._process(batch, attempts=0)

    def _matches(self, event: dict[str, Any]) -> bool:
        return matches(self.mapping.filters, event)

    def _process(self, batch: list[StreamRecord], attempts: int) -> None:
        """Invoke until the batch succeeds, is bisected, expires, or its retries are exhausted."""
        ctx, mapping = self.ctx, self.mapping
        while True:
            expired, batch = split_expired(batch, mapping.max_record_age_s, ctx.time_scale)
            if expired:
                with self._counts:
                    self.expired += len(expired)
                ctx.ledger.record(self.function, failed=len(expired))
                self._give_up(expired, "RecordAgeExceeded", attempts, None)
            if not batch:
                return
            outcome = ctx.runtime.invoke(mapping.function_arn, {"Records": [r.event for r in batch]})
            with self._counts:
                self.invocations += 1
            failed_from = self._first_failure(batch, outcome)
            if failed_from is None:
                ctx.ledger.record(self.function, ok=len(batch))
                return
            ctx.ledger.record(self.function, ok=failed_from)  # checkpointed before the first failure
            attempts += 1
            if mapping.max_retries >= 0 and attempts > mapping.max_retries:
                with self._counts:
                    self.failed_batches += 1
                ctx.ledger.record(self.function, failed=len(batch) - failed_from)
                self._give_up(batch[failed_from:], "RetryAttemptsExhausted", attempts, outcome)
                return
            batch = batch[failed_from:]
            if mapping.bisect_on_error and not outcome.ok and len(batch) > 1:
                half = len(batch) // 2
                self._process(batch[:half], attempts)
                self._process(batch[half:], attempts)
                return
            time.sleep(RETRY_BACKOFF_S)

    def _first_failure(self, batch: list[StreamRecord], outcome: Invocation) -> int | None:
        """Index of the first record to retry, or None when the whole batch succeeded."""
        if not outcome.ok:
            return 0
        if not self.mapping.report_item_failures or not isinstance(outcome.result, dict):
            return None
        failures = outcome.result.get("batchItemFailures") or []
        if not failures:
            return None
        sequence_numbers = [r.sequence_number for r in batch]
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in sequence_numbers:
                return 0  # an invalid report fails the whole batch, as Lambda does
            indexes.append(sequence_numbers.index(identifier))
        return min(indexes)

    def _give_up(self, batch: list[StreamRecord], condition: str, attempts: int, outcome: Invocation | None) -> None:
        info = batch_failure_record(
            batch,
            self.mapping.source_arn,
            condition,
            attempts,
            function_arn=self.mapping.function_arn,
            request_id=outcome.request_id if outcome is not None else None,
            function_error=outcome is not None and not outcome.ok,
        )
        if self.mapping.on_failure:
            self.ctx.targets.send(self.mapping.on_failure, info, failure=True)
        else:
            log.warning("%s: %d stream records skipped (%s)", self.name, len(batch), condition)


class StreamMappings(PollingIntegration):
    name = "stream-mappings"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pollers = [StreamMappingPoller(m, ctx) for m in read_mappings(ctx.session, "dynamodb")]

    def counters(self) -> dict[str, Any]:
        return {
            p.name: {
                "invocations": p.invocations,
                "filtered_out": p.filtered_out,
                "failed_batches": p.failed_batches,
                "expired": p.expired,
                "parallelization_factor": p.mapping.parallelization_factor,
                "most_batches_at_once": p.lanes.most_at_once if p.lanes is not None else 1,
            }
            for p in self.pollers
            if isinstance(p, StreamMappingPoller)
        }
